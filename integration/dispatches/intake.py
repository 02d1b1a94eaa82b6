"""Flow 3, dispatch confirmation, step 2: Seko's stored pushes taken in (``flow.py`` has the rest).

``process_pushes``: workers claim stored pushes in batches (PENDING -> PROCESSING by
compare-and-swap) and split them into parts. A part is named by its type + InterfaceRecordId +
SequenceNumber + MessagePart: the same again is a repeat, counted and ignored. Each
DispatchConfirmation part is one whole dispatch (Seko numbers the dispatches of a message as its
parts), known by its DispatchId (a second one is a repeat). TrackingDetails fill in or update a
dispatch's tracking number: they name the sales order (one dispatch closes an order at Seko), and
of several for one order the highest DispatchNumber wins; one that comes before its dispatch
waits for it. Stock parts (adjustments, status movements, overnight summaries) are taken by the
stock flow in the same transaction. A push's parts are written and used a batch at a time: a
push holds up to 500 records, and a statement per record held SQLite's one write lock while the
order sends waited.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from exceptions import catalogue
from exceptions import services as queue
from integration.clients.errors import (
    MalformedPayload,
)
from integration.clients.seko import PushRecord, normalise, parse_push
from integration.dispatches.rules import (
    INCOMPLETE,
    text,
)
from integration.models import (
    Dispatch,
    InboundPush,
    MessageLog,
    Order,
    OrderEvent,
    PushPart,
)
from integration.shared.messagelog import BODY_LIMIT

log = logging.getLogger(__name__)

DStatus = Dispatch.Status


def claim_pushes(limit: int) -> list[InboundPush]:
    """Claim up to ``limit`` stored pushes; each PENDING -> PROCESSING by compare-and-swap, so
    two workers never take the same push."""
    now = timezone.now()
    candidates = list(InboundPush.objects.filter(status=InboundPush.Status.PENDING)
                      .order_by("id").values_list("pk", flat=True)[: limit * 2])
    claimed = []
    for pk in candidates:
        if InboundPush.objects.filter(pk=pk, status=InboundPush.Status.PENDING).update(
                status=InboundPush.Status.PROCESSING, claimed_at=now):
            claimed.append(pk)
            if len(claimed) == limit:
                break
    return list(InboundPush.objects.filter(pk__in=claimed).order_by("id"))


def process_pushes(limit: int | None = None) -> int:
    """Take one batch of stored pushes; returns how many were taken."""
    batch = claim_pushes(limit or settings.DISPATCH_BATCH_SIZE)
    for push in batch:
        try:
            take_push(push)
        except Exception as error:  # one bad push must not stop the batch; it is kept, marked failed
            log.exception("push %s could not be processed", push.pk)
            InboundPush.objects.filter(pk=push.pk, status=InboundPush.Status.PROCESSING).update(
                status=InboundPush.Status.FAILED, error=f"{type(error).__name__}: {error}"[:2000])
    return len(batch)


def take_push(push: InboundPush) -> None:
    """Split one stored push into its parts, all or nothing, then use the new parts."""
    try:
        records = parse_push(push.body)
    except MalformedPayload as error:  # the webhook checked it; kept and flagged if it slipped by
        InboundPush.objects.filter(pk=push.pk).update(status=InboundPush.Status.FAILED, error=str(error)[:2000])
        report_malformed_push(push, str(error))
        return
    with transaction.atomic():
        new_parts, repeats, resent = store_parts(records, push)
        use_parts(new_parts)
        for fields in resent:
            take_dispatch(fields, Dispatch.Source.PUSH)
        # Stock adjustments, status movements and overnight summaries: taken by the stock flow in
        # one go, in this transaction.
        from integration.stock.flow import STOCK_PART_TYPES, apply_stock_parts

        apply_stock_parts([part for part in new_parts if part.type in STOCK_PART_TYPES])
        InboundPush.objects.filter(pk=push.pk).update(
            status=InboundPush.Status.PROCESSED, records=len(records), repeats=repeats, processed_at=timezone.now())


def part_identity(fields: dict[str, Any]) -> tuple[str, str, int]:
    """InterfaceRecordId + SequenceNumber + MessagePart (within one push type). A record without
    an InterfaceRecordId is named by its content, so an exact repeat of it is still recognised."""
    record_id = text(fields.get("InterfaceRecordId"))
    if not record_id:
        record_id = "sha1-" + hashlib.sha1(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()
    try:
        part = int(fields.get("MessagePart") or 1)
    except (TypeError, ValueError):
        part = 1
    return record_id[:64], text(fields.get("SequenceNumber"))[:64], part


PartKey = tuple[str, str, str, int]  # type, InterfaceRecordId, SequenceNumber, MessagePart


def part_key(record: PushRecord) -> PartKey:
    return (record.type, *part_identity(record.fields))


def store_parts(records: list[PushRecord], push: InboundPush) -> tuple[list[PushPart], int, list[dict[str, Any]]]:
    """Keep a push's parts: (the new ones in the order they came, how many were repeats, the
    repeats that carry a corrected dispatch). The parts never seen are written with one insert
    (a push holds up to 500: a statement each held SQLite's one write lock for seconds at peak,
    and the order sends waited for it); any other part goes through ``store_part``, as does
    every part when another worker stored one of them meanwhile."""
    keys = [part_key(record) for record in records]
    seen = set(PushPart.objects.filter(type__in={key[0] for key in keys},
                                       interface_record_id__in={key[1] for key in keys})
               .values_list("type", "interface_record_id", "sequence_number", "message_part"))
    unseen: dict[PartKey, PushPart] = {}
    for record, key in zip(records, keys, strict=True):
        if key not in seen and key not in unseen:
            unseen[key] = new_part(record, push)
    try:
        with transaction.atomic():
            PushPart.objects.bulk_create(list(unseen.values()))
    except IntegrityError:  # another worker stored some of them a moment ago: one at a time
        unseen = {}
    new_parts, repeats, resent = [], 0, []
    for record, key in zip(records, keys, strict=True):
        part = unseen.pop(key, None)
        is_new = True
        if part is None:
            part, is_new = store_part(record, push)
        if is_new:
            new_parts.append(part)
        else:
            repeats += 1
            # Seko may resend a dispatch corrected under the part's own identity: handed on, so
            # a held dispatch takes the correction (a posted one counts it as a repeat).
            if record.type == PushPart.DISPATCH and content_of(record.fields) != content_of(part.fields):
                resent.append(dict(record.fields))
    return new_parts, repeats, resent


def new_part(record: PushRecord, push: InboundPush | None) -> PushPart:
    """The row for one delivered part, not yet saved."""
    fields = record.fields
    record_id, sequence, number = part_identity(fields)
    try:
        total = int(fields.get("MessageTotal") or 1)
    except (TypeError, ValueError):
        total = 1
    # A stock adjustment's SKUs are on its lines: its ref is the message's InternalId.
    ref_key = {PushPart.DISPATCH: "DispatchId", PushPart.TRACKING: "DispatchNumber",
               PushPart.STOCK: "InternalId" if "InternalId" in fields else "ProductCode",
               PushPart.STATUS_MOVEMENT: "ProductCode",
               PushPart.OVERNIGHT_SUMMARY: "MessageGroupId"}[record.type]
    return PushPart(
        push=push, type=record.type, interface_record_id=record_id, sequence_number=sequence,
        message_part=number, message_total=max(1, total),
        message_group_id=(text(fields.get("MessageGroupId")) or f"r-{record_id}")[:100],
        ref=text(fields.get(ref_key))[:100],
        sales_order_number=text(fields.get("SalesOrderNumber"))[:50], fields=fields,
    )


def store_part(record: PushRecord, push: InboundPush | None) -> tuple[PushPart, bool]:
    """Keep one delivered part; (part, False) when the same part arrived before (a repeat)."""
    _, record_id, sequence, number = part_key(record)
    identity = {"type": record.type, "interface_record_id": record_id, "sequence_number": sequence,
                "message_part": number}
    existing = PushPart.objects.filter(**identity).first()
    if existing is None:
        part = new_part(record, push)
        try:
            with transaction.atomic():
                part.save(force_insert=True)
                return part, True
        except IntegrityError:  # another worker stored the same part a moment ago
            existing = PushPart.objects.get(**identity)
    if push is not None and existing.push_id == push.pk:
        return existing, True  # our own earlier, interrupted attempt at this push: not a repeat
    PushPart.objects.filter(pk=existing.pk).update(repeats=F("repeats") + 1)
    return existing, False


def use_parts(parts: list[PushPart]) -> None:
    """Use a push's new parts: its dispatches together, then its tracking together. Seko sends
    each dispatch's TrackingDetails right behind it; used in the order they came, a push of 500
    alternated a dispatch of one and a tracking of one, a handful of statements each, all inside
    take_push's transaction, holding SQLite's write lock while the order sends waited (profiled
    on a peak day: two fifths of the workers' CPU). Which comes first does not matter: tracking
    that finds no dispatch is kept, and a new dispatch takes the tracking kept for its order."""
    tracking_taken = take_wholes([part for part in parts if part.type == PushPart.DISPATCH])
    apply_trackings([part for part in parts
                     if part.type == PushPart.TRACKING and part.sales_order_number not in tracking_taken])


def take_whole(part: PushPart) -> Dispatch:
    """The dispatch a DispatchConfirmation part carries. Each dispatch is a part of its own
    ("Push Dispatch Confirmation": MessagePart/MessageTotal number the dispatches of one message),
    so a part is a whole dispatch whatever MessageTotal says; waiting for "the other parts" of a
    documented message would hold every dispatch of a batch for good."""
    dispatch, _ = take_dispatch(dict(part.fields), Dispatch.Source.PUSH)
    PushPart.objects.filter(pk=part.pk, applied_at__isnull=True).update(applied_at=timezone.now())
    return dispatch


def take_wholes(parts: list[PushPart]) -> set[str]:
    """``take_whole`` for a run of dispatch parts: the dispatches never seen are created with
    one insert, their orders found with two queries, their log rows and timeline events written
    with one insert each. A DispatchId seen before (a repeat, or Seko's correction of a held
    one), twice in the run or too long to keep goes one at a time through ``take_dispatch``, as
    do all of them when another worker created one meanwhile. Returns the sales orders whose
    kept tracking was laid over their new dispatch."""
    if not parts:
        return set()
    confirmations = [dict(part.fields) for part in parts]
    ids = [dispatch_id_of(confirmation) for confirmation in confirmations]
    known = set(Dispatch.objects.filter(dispatch_id__in=ids).values_list("dispatch_id", flat=True))
    first_of: dict[str, int] = {}
    for index, dispatch_id in enumerate(ids):
        if dispatch_id not in known and dispatch_id not in first_of and len(dispatch_id) <= 100:
            first_of[dispatch_id] = index
    fresh = [confirmations[index] for index in first_of.values()]
    orders = find_orders(fresh)
    rows = [Dispatch(dispatch_id=dispatch_id, order=order, source=Dispatch.Source.PUSH, confirmation=confirmation,
                     ord_num=(order.ord_num if order else text(confirmation.get("SalesOrderNumber")))[:50])
            for dispatch_id, confirmation, order in zip(first_of, fresh, orders, strict=True)]
    try:
        with transaction.atomic():
            Dispatch.objects.bulk_create(rows)
    except IntegrityError:  # another worker took one of them a moment ago
        rows, first_of = [], {}
    MessageLog.objects.bulk_create([log_in_row(row.order, "dispatch_confirmation", row.confirmation)
                                    for row in rows if row.order is not None])
    OrderEvent.objects.bulk_create([
        OrderEvent(order=row.order, from_status=row.order.status, to_status=row.order.status,
                   note=f"Dispatch {row.dispatch_id} pushed by Seko") for row in rows if row.order is not None])
    # Tracking that came before its dispatch was kept; Seko names it by the sales order.
    waiting: dict[str, PushPart] = {}
    for part in (PushPart.objects.filter(type=PushPart.TRACKING, applied_at__isnull=True,
                                         sales_order_number__in={row.ord_num for row in rows if row.ord_num})
                 .order_by("id")):
        waiting.setdefault(part.sales_order_number, part)
    tracking_taken = apply_trackings(list(waiting.values()))
    created = set(first_of.values())
    for index, confirmation in enumerate(confirmations):
        if index not in created:
            take_dispatch(confirmation, Dispatch.Source.PUSH)
    PushPart.objects.filter(pk__in=[part.pk for part in parts], applied_at__isnull=True).update(
        applied_at=timezone.now())
    return tracking_taken


def find_orders(confirmations: list[dict[str, Any]]) -> list[Order | None]:
    """``find_order`` for many confirmations, with a query for each way of naming an order."""
    by_number = {order.ord_num: order for order in Order.objects.filter(
        ord_num__in={text(c.get("SalesOrderNumber")) for c in confirmations} - {""})}
    found = [by_number.get(text(c.get("SalesOrderNumber"))) for c in confirmations]
    guids = {guid_of(c) for c, order in zip(confirmations, found, strict=True) if order is None} - {""}
    by_guid: dict[str, Order] = {}
    for order in Order.objects.filter(seko_guid__in=guids).order_by("-id"):
        by_guid[order.seko_guid] = order  # the lowest id wins, as .first() does
    return [order or by_guid.get(guid_of(c)) for c, order in zip(confirmations, found, strict=True)]


def guid_of(confirmation: dict[str, Any]) -> str:
    # InterfaceRecordId: the pages give it as the order's GUID (given or generated at load).
    return text(confirmation.get("GUID")) or text(confirmation.get("InterfaceRecordId"))


def dispatch_id_of(confirmation: dict[str, Any]) -> str:
    dispatch_id = text(confirmation.get("DispatchId"))
    if not dispatch_id:  # unidentifiable, but kept: it is quarantined as incomplete
        dispatch_id = f"no-id:{text(confirmation.get('MessageGroupId')) or text(confirmation.get('InterfaceRecordId'))}"
    return dispatch_id


def find_order(confirmation: dict[str, Any]) -> Order | None:
    """Our order by Seko's SalesOrderNumber, else by the GUID Seko gave it at submit."""
    ord_num = text(confirmation.get("SalesOrderNumber"))
    guid = guid_of(confirmation)
    order = Order.objects.filter(ord_num=ord_num).first() if ord_num else None
    if order is None and guid:
        order = Order.objects.filter(seko_guid=guid).first()
    return order


# How a message travels, not what it says: a dispatch sent again under new ones is the same.
TRANSPORT_FIELDS = frozenset({"InterfaceRecordId", "SequenceNumber", "MessageGroupId", "MessagePart",
                              "MessageTotal"})
# A dispatch not yet posted, which a corrected resend from Seko replaces.
HELD = [DStatus.RECEIVED, DStatus.QUARANTINED]


def content_of(confirmation: dict[str, Any]) -> dict[str, Any]:
    """What a confirmation says, apart from how it travelled: iHub's quirks (an empty value sent
    as ``{}``, one line as an object, a code as a number) normalised away and an absent value the
    same as an empty one, so the quirky push and Seko's plain copy of one dispatch (read by the
    poll) are the same content, and only a real correction differs."""
    return _empty_as_blank(normalise({key: value for key, value in confirmation.items()
                                      if key not in TRANSPORT_FIELDS}) or {})


def _empty_as_blank(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dict):
        return {key: _empty_as_blank(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_empty_as_blank(item) for item in value]
    return value


def take_dispatch(confirmation: dict[str, Any], source: str) -> tuple[Dispatch, bool]:
    """One dispatch per DispatchId: (dispatch, True) when new. The same DispatchId again is a
    repeat, counted, unless it says something else while its dispatch is still held: then it
    is Seko's correction, which replaces the held one and is checked again."""
    dispatch_id = dispatch_id_of(confirmation)
    existing = Dispatch.objects.filter(dispatch_id=dispatch_id).first()
    if existing is None:
        order = find_order(confirmation)
        try:
            with transaction.atomic():
                dispatch = Dispatch.objects.create(
                    dispatch_id=dispatch_id[:100], order=order, source=source, confirmation=confirmation,
                    ord_num=(order.ord_num if order else text(confirmation.get("SalesOrderNumber")))[:50],
                )
        except IntegrityError:
            existing = Dispatch.objects.get(dispatch_id=dispatch_id)
        else:
            how = "pushed by Seko" if source == Dispatch.Source.PUSH else "recovered by the poll (its push never came)"
            if order is not None:
                if source == Dispatch.Source.PUSH:  # a polled one is on the log as our own call
                    log_in(order, "dispatch_confirmation", confirmation)
                add_event(order, order.status, order.status, f"Dispatch {dispatch_id} {how}")
            # Tracking that came before its dispatch was kept; Seko names it by the sales order.
            waiting = PushPart.objects.filter(type=PushPart.TRACKING, sales_order_number=dispatch.ord_num,
                                              applied_at__isnull=True).order_by("id").first()
            if waiting is not None and dispatch.ord_num:
                apply_tracking(waiting)
            return dispatch, True
    if existing.status in HELD and content_of(existing.confirmation) != content_of(confirmation):
        replaced = replace_held(existing, confirmation)
        if replaced is not None:
            return replaced, False
    Dispatch.objects.filter(pk=existing.pk).update(repeats=F("repeats") + 1)
    return existing, False


def replace_held(existing: Dispatch, confirmation: dict[str, Any]) -> Dispatch | None:
    """Lay Seko's corrected resend over a dispatch that is not posted yet, and send it back to be
    checked. What the resend now gives wins over a fill-in of the same field (Seko's word on what
    left); fill-ins of what it still lacks stay. None when the dispatch was posted meanwhile."""
    with transaction.atomic():
        current = Dispatch.objects.select_for_update().filter(pk=existing.pk, status__in=HELD).first()
        if current is None:
            return None
        before = content_of(current.confirmation)
        after = content_of(confirmation)
        changed = sorted(key for key in set(before) | set(after) if before.get(key) != after.get(key))
        if not changed:
            return None  # the same as what is held: a repeat after all
        order = find_order(confirmation) or current.order
        overrides = {key: value for key, value in current.overrides.items() if not text(confirmation.get(key))}
        Dispatch.objects.filter(pk=current.pk, status__in=HELD).update(
            confirmation=confirmation, overrides=overrides, order=order, status=DStatus.RECEIVED,
            ord_num=(order.ord_num if order else text(confirmation.get("SalesOrderNumber")))[:50],
            next_attempt_at=None, last_error="", repeats=F("repeats") + 1, updated_at=timezone.now())
    if order is not None:
        log_in(order, "dispatch_confirmation", confirmation)
        was = "held" if current.status == DStatus.QUARANTINED else "waiting to be checked"
        add_event(order, order.status, order.status,
               f"Seko sent dispatch {current.dispatch_id} again, corrected ({', '.join(changed)} changed); it "
               f"replaces the one {was} and is checked again")
    return Dispatch.objects.get(pk=current.pk)


def tracking_rank(part: PushPart) -> tuple[int, int, int]:
    """Several TrackingDetails for one order: the highest DispatchNumber wins (Seko's own counter
    of the order's dispatches, "Push Tracking Details"), then the one Seko sent last
    (SequenceNumber), then the one that arrived last."""

    def whole(value: Any) -> int:
        number = text(value)
        return int(number) if number.isdigit() else -1

    return whole(part.fields.get("DispatchNumber")), whole(part.sequence_number), part.pk


def apply_tracking(part: PushPart) -> bool:
    """``apply_trackings`` for one part: True when its dispatch was here."""
    return bool(apply_trackings([part]))


@dataclass
class TrackingLaid:
    """What laying an order's latest tracking over its dispatch changed (for its timeline)."""

    dispatch: Dispatch
    tracking: str
    previous: str


def apply_trackings(parts: list[PushPart]) -> set[str]:
    """Lay each order's latest TrackingDetails over its dispatch; returns the sales orders whose
    dispatch was here. Seko names the dispatch by the sales order (one dispatch closes an order),
    not by DispatchId: ``DispatchNumber`` only orders several messages. Kept for later when the
    dispatch is not here yet. A dispatch waiting for its tracking number goes at once; one
    quarantined only for what the tracking fills in is checked again (and posted); one already
    posted owes Blue Cherry the new number. A few statements for the whole list, not per part."""
    for part in parts:
        if not part.sales_order_number:
            log.warning("TrackingDetails %s names no sales order; kept unapplied", part.pk)
    ord_nums = {part.sales_order_number for part in parts if part.sales_order_number}
    if not ord_nums:
        return set()
    now = timezone.now()
    laid: list[TrackingLaid] = []
    with transaction.atomic():
        latest: dict[str, Dispatch] = {}
        for dispatch in (Dispatch.objects.select_for_update(of=("self",)).select_related("order")
                         .filter(ord_num__in=ord_nums).order_by("ord_num", "-created_at", "-id")):
            latest.setdefault(dispatch.ord_num, dispatch)
        if not latest:
            return set()
        tracking_parts: dict[str, list[PushPart]] = {}
        for tracking_part in PushPart.objects.filter(type=PushPart.TRACKING, sales_order_number__in=latest):
            tracking_parts.setdefault(tracking_part.sales_order_number, []).append(tracking_part)
        owes_tracking, wakes = [], []
        for ord_num, dispatch in latest.items():
            fields = max(tracking_parts[ord_num], key=tracking_rank).fields
            previous = text(dispatch.effective.get("TrackingNumber"))
            overrides = dict(dispatch.overrides)
            tracking, url = text(fields.get("TrackingNumber")), text(fields.get("TrackingUrl"))
            if tracking:
                overrides["TrackingNumber"] = tracking
                if url:
                    overrides["TrackingUrl"] = url
            courier = text(fields.get("Courier"))
            if courier and not text(dispatch.effective.get("CourierName")):
                overrides["CourierName"] = courier
            dispatch.overrides, dispatch.updated_at = overrides, now
            if tracking and tracking != dispatch.bc_tracking_number:
                owes_tracking.append(dispatch.pk)  # Blue Cherry holds another number: one is owed
            if dispatch.status == DStatus.RECEIVED and tracking:
                wakes.append(dispatch.pk)  # it may have been waiting for just this
            laid.append(TrackingLaid(dispatch, tracking, previous))
        Dispatch.objects.bulk_update(list(latest.values()), ["overrides", "updated_at"])
        Dispatch.objects.filter(pk__in=owes_tracking).update(tracking_sent_at=None)
        Dispatch.objects.filter(pk__in=wakes).update(next_attempt_at=None)
        PushPart.objects.filter(pk__in=[p.pk for found in tracking_parts.values() for p in found],
                                applied_at__isnull=True).update(applied_at=now)
    MessageLog.objects.bulk_create([
        log_in_row(latest[part.sales_order_number].order, "tracking_details", part.fields) for part in parts
        if part.sales_order_number in latest and latest[part.sales_order_number].order is not None])
    events = []
    for change in laid:
        dispatch, order, tracking = change.dispatch, change.dispatch.order, change.tracking
        if dispatch.status == DStatus.QUARANTINED and all(p.get("kind") == INCOMPLETE for p in dispatch.problems):
            requeued = Dispatch.objects.filter(pk=dispatch.pk, status=DStatus.QUARANTINED).update(
                status=DStatus.RECEIVED, next_attempt_at=None)
            if requeued and order is not None:
                events.append(OrderEvent(order=order, from_status=order.status, to_status=order.status, note=(
                    f"Tracking {tracking or '(none)'} arrived for dispatch {dispatch.dispatch_id}; checking it again")))
        elif order is not None and tracking and tracking != change.previous:
            note = f"Tracking for dispatch {dispatch.dispatch_id} is now {tracking}"
            if dispatch.status == DStatus.POSTED:
                note += " (after the shipment was posted: the dispatch sync sends it to Blue Cherry)"
            events.append(OrderEvent(order=order, from_status=order.status, to_status=order.status, note=note))
    OrderEvent.objects.bulk_create(events)
    return set(latest)


def report_malformed_push(push: InboundPush, reason: str) -> None:
    queue.raise_exception(
        catalogue.PUSH_MALFORMED, f"push:{push.pk}", f"A push from Seko (#{push.pk}) was refused: {reason}",
        response_payload=push.body,
    )


def log_in(order: Order, operation: str, body: dict[str, Any]) -> None:
    """An inbound message on the order's timeline (the whole push stays on InboundPush)."""
    log_in_row(order, operation, body).save(force_insert=True)


def log_in_row(order: Order, operation: str, body: dict[str, Any]) -> MessageLog:
    return MessageLog(
        direction=MessageLog.Direction.IN, system="seko", operation=operation, method="POST", url="webhooks/seko",
        request_body=json.dumps(body, indent=2, default=str)[:BODY_LIMIT], order=order, status_code=202,
    )


def add_event(order: Order, from_status: str, to_status: str, note: str) -> None:
    OrderEvent.objects.create(order=order, from_status=from_status, to_status=to_status, note=note[:4000])
