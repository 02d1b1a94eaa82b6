"""Flow 3, dispatch confirmation: Seko's dispatches -> one Blue Cherry shipment each.

The steps, in order (DESIGN.md):

1. The webhook (``integration/webhooks.py``) stores each push raw and answers 202.
2. ``process_pushes``: workers claim stored pushes in batches (PENDING -> PROCESSING by
   compare-and-swap) and split them into parts. A part is named by InterfaceRecordId +
   SequenceNumber + MessagePart: the same triple again is a repeat, counted and ignored. The
   parts of a DispatchConfirmation are assembled by MessageGroupId until MessageTotal have
   arrived; only then is the dispatch known, by its DispatchId (a second one is a repeat).
   TrackingDetails fill in or update a dispatch's tracking number. StockAdjustment parts are
   stored for the stock flow (issue 6).
3. ``post_due_dispatches``: claim a batch of dispatches (RECEIVED -> POSTING), check each
   against the data contract (``dispatch_rules``): quarantine with every problem listed, or map
   (``dispatch_mapper``) and post one shipment with ``wms_dispatch_id`` as Blue Cherry's
   idempotency key -> POSTED, the order DISPATCHED or PARTIALLY_DISPATCHED.
4. ``poll_dispatches``: the safety net. Seko drops a push after three failed deliveries, so
   orders it reports dispatched that have no dispatch here are fetched and taken like a push.

Ops can fill in a missing carrier or tracking number and release a quarantined dispatch
(``release_dispatch``), which posts it at once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from exceptions import catalogue
from exceptions import services as queue
from integration import cursors
from integration.clients import bluecherry_client, seko_client
from integration.clients.bluecherry import BlueCherryClient
from integration.clients.errors import ClientError, MalformedPayload, NotFound, Rejected, Transient, Unauthorized
from integration.clients.seko import PushRecord, parse_push
from integration.dispatch_mapper import map_shipment
from integration.dispatch_rules import INCOMPLETE, OrderView, resolve_ship_via, text, validate_dispatch
from integration.messagelog import BODY_LIMIT, about_order
from integration.models import (
    CarrierMapping,
    Dispatch,
    InboundPush,
    MessageLog,
    Order,
    OrderEvent,
    OrderLine,
    PushPart,
    SyncCursor,
    WarehouseMapping,
)
from integration.order_rules import Problem

log = logging.getLogger(__name__)

POLL_CURSOR = "dispatches.poll"
SYNC_CURSOR = "dispatches.sync"  # its last success feeds the stalled-flow alert
DISPATCH_KINDS = [catalogue.DISPATCH_INCOMPLETE, catalogue.DISPATCH_UNKNOWN_ORDER, catalogue.DISPATCH_LINE_MISMATCH,
                  catalogue.DISPATCH_REJECTED]
# Orders whose dispatch may come: accepted by Seko and not yet dispatched here.
AWAITING_DISPATCH = [Order.Status.SENT, Order.Status.CANCEL_REFUSED]

DStatus = Dispatch.Status


# --- 2. Take in stored pushes --------------------------------------------------------------

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
        new_parts, repeats = [], 0
        for record in records:
            part, is_new = store_part(record, push)
            if is_new:
                new_parts.append(part)
            else:
                repeats += 1
        for part in new_parts:
            use_part(part)
        # Stock adjustments (issue 6): applied by the stock flow in one go, in this transaction.
        from integration.flows.stock import apply_stock_parts

        apply_stock_parts([part for part in new_parts if part.type == PushPart.STOCK])
        InboundPush.objects.filter(pk=push.pk).update(
            status=InboundPush.Status.PROCESSED, records=len(records), repeats=repeats, processed_at=timezone.now())


def part_identity(fields: dict[str, Any]) -> tuple[str, str, int]:
    """InterfaceRecordId + SequenceNumber + MessagePart. A record without an InterfaceRecordId
    is named by its content, so an exact repeat of it is still recognised."""
    record_id = text(fields.get("InterfaceRecordId"))
    if not record_id:
        record_id = "sha1-" + hashlib.sha1(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()
    try:
        part = int(fields.get("MessagePart") or 1)
    except (TypeError, ValueError):
        part = 1
    return record_id[:64], text(fields.get("SequenceNumber"))[:64], part


def store_part(record: PushRecord, push: InboundPush | None) -> tuple[PushPart, bool]:
    """Keep one delivered part; (part, False) when the same part arrived before (a repeat)."""
    fields = record.fields
    record_id, sequence, number = part_identity(fields)
    existing = PushPart.objects.filter(interface_record_id=record_id, sequence_number=sequence,
                                       message_part=number).first()
    if existing is None:
        try:
            total = int(fields.get("MessageTotal") or 1)
        except (TypeError, ValueError):
            total = 1
        ref_key = {PushPart.DISPATCH: "DispatchId", PushPart.TRACKING: "DispatchNumber",
                   PushPart.STOCK: "ProductCode"}[record.type]
        try:
            with transaction.atomic():
                return PushPart.objects.create(
                    push=push, type=record.type, interface_record_id=record_id, sequence_number=sequence,
                    message_part=number, message_total=max(1, total),
                    message_group_id=(text(fields.get("MessageGroupId")) or f"r-{record_id}")[:100],
                    ref=text(fields.get(ref_key))[:100],
                    sales_order_number=text(fields.get("SalesOrderNumber"))[:50], fields=fields,
                ), True
        except IntegrityError:  # another worker stored the same part a moment ago
            existing = PushPart.objects.get(interface_record_id=record_id, sequence_number=sequence,
                                            message_part=number)
    if push is not None and existing.push_id == push.pk:
        return existing, True  # our own earlier, interrupted attempt at this push: not a repeat
    PushPart.objects.filter(pk=existing.pk).update(repeats=F("repeats") + 1)
    return existing, False


def use_part(part: PushPart) -> None:
    if part.type == PushPart.DISPATCH:
        assemble(part.message_group_id)
    elif part.type == PushPart.TRACKING:
        apply_tracking(part)
    # StockAdjustment: stored with applied_at null for the stock flow (issue 6).


def assemble(group_id: str) -> Dispatch | None:
    """The dispatch of a message group, once all its parts are here (None until then)."""
    parts = list(PushPart.objects.filter(type=PushPart.DISPATCH, message_group_id=group_id)
                 .order_by("message_part", "id"))
    total = max(p.message_total for p in parts)
    by_number = {p.message_part: p for p in parts}
    if len(by_number) < total:
        return None
    ordered = [by_number[n] for n in sorted(by_number)]
    confirmation = dict(ordered[0].fields)
    confirmation["List"] = {"DispatchLineItem": [
        line for p in ordered for line in ((p.fields.get("List") or {}).get("DispatchLineItem") or [])]}
    confirmation["MessageTotal"] = total
    dispatch, _ = take_dispatch(confirmation, Dispatch.Source.PUSH)
    PushPart.objects.filter(pk__in=[p.pk for p in parts], applied_at__isnull=True).update(applied_at=timezone.now())
    return dispatch


def find_order(confirmation: dict[str, Any]) -> Order | None:
    """Our order by Seko's SalesOrderNumber, else by the GUID Seko gave it at submit."""
    ord_num, guid = text(confirmation.get("SalesOrderNumber")), text(confirmation.get("GUID"))
    order = Order.objects.filter(ord_num=ord_num).first() if ord_num else None
    if order is None and guid:
        order = Order.objects.filter(seko_guid=guid).first()
    return order


def take_dispatch(confirmation: dict[str, Any], source: str) -> tuple[Dispatch, bool]:
    """One dispatch per DispatchId: (dispatch, True) when new, else the repeat is counted."""
    dispatch_id = text(confirmation.get("DispatchId"))
    if not dispatch_id:  # unidentifiable, but kept: it is quarantined as incomplete
        dispatch_id = f"no-id:{text(confirmation.get('MessageGroupId')) or text(confirmation.get('InterfaceRecordId'))}"
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
                    _log_in(order, "dispatch_confirmation", confirmation)
                _event(order, order.status, order.status, f"Dispatch {dispatch_id} {how}")
            for tracking in PushPart.objects.filter(type=PushPart.TRACKING, ref=dispatch_id, applied_at__isnull=True):
                apply_tracking(tracking)
            return dispatch, True
    Dispatch.objects.filter(pk=existing.pk).update(repeats=F("repeats") + 1)
    return existing, False


def apply_tracking(part: PushPart) -> bool:
    """Lay a TrackingDetails over its dispatch. Kept for later when the dispatch is not here yet.
    A dispatch quarantined only for what the tracking fills in is checked again (and posted)."""
    with transaction.atomic():
        dispatch = Dispatch.objects.select_for_update().filter(dispatch_id=part.ref).first()
        if dispatch is None:
            return False
        fields = part.fields
        overrides = dict(dispatch.overrides)
        tracking, url = text(fields.get("TrackingNumber")), text(fields.get("TrackingUrl"))
        if tracking:
            overrides["TrackingNumber"] = tracking
            if url:
                overrides["TrackingUrl"] = url
        courier = text(fields.get("Courier"))
        if courier and not text(dispatch.effective.get("CourierName")):
            overrides["CourierName"] = courier
        Dispatch.objects.filter(pk=dispatch.pk).update(overrides=overrides)
        PushPart.objects.filter(pk=part.pk).update(applied_at=timezone.now())
    previous = text(dispatch.effective.get("TrackingNumber"))
    order = dispatch.order
    if order is not None:
        _log_in(order, "tracking_details", fields)
    if dispatch.status == DStatus.QUARANTINED and all(p.get("kind") == INCOMPLETE for p in dispatch.problems):
        requeued = Dispatch.objects.filter(pk=dispatch.pk, status=DStatus.QUARANTINED).update(
            status=DStatus.RECEIVED, next_attempt_at=None)
        if requeued and order is not None:
            _event(order, order.status, order.status,
                   f"Tracking {tracking or '(none)'} arrived for dispatch {dispatch.dispatch_id}; checking it again")
    elif order is not None and tracking and tracking != previous:
        note = f"Tracking for dispatch {dispatch.dispatch_id} is now {tracking}"
        if dispatch.status == DStatus.POSTED:
            note += " (after the shipment was posted: Blue Cherry keeps the number it was given)"
        _event(order, order.status, order.status, note)
    return True


def report_malformed_push(push: InboundPush, reason: str) -> None:
    queue.raise_exception(
        catalogue.PUSH_MALFORMED, f"push:{push.pk}", f"A push from Seko (#{push.pk}) was refused: {reason}",
        response_payload=push.body,
    )


# --- 3. Check and post -----------------------------------------------------------------------

def claim_due_dispatches(limit: int) -> list[Dispatch]:
    now = timezone.now()
    candidates = list(
        Dispatch.objects.filter(status=DStatus.RECEIVED)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .order_by("created_at", "id").values_list("pk", flat=True)[: limit * 2]
    )
    claimed = []
    for pk in candidates:
        if Dispatch.objects.filter(pk=pk, status=DStatus.RECEIVED).update(status=DStatus.POSTING, claimed_at=now):
            claimed.append(pk)
            if len(claimed) == limit:
                break
    return list(Dispatch.objects.filter(pk__in=claimed).select_related("order").order_by("created_at", "id"))


def post_due_dispatches(limit: int | None = None) -> int:
    """Check and post one batch of dispatches; returns how many were handled."""
    batch = claim_due_dispatches(limit or settings.DISPATCH_BATCH_SIZE)
    if not batch:
        return 0
    carriers = carrier_lookup()
    with bluecherry_client() as bc:  # one session for the batch
        for dispatch in batch:
            try:
                with about_order(dispatch.order):
                    post_dispatch(dispatch, carriers, bc)
            except Exception:
                log.exception("unexpected failure posting dispatch %s", dispatch.dispatch_id)
                _retry_later(dispatch, "Unexpected error; see the worker log")
    return len(batch)


def carrier_lookup() -> dict[tuple[str, str], str]:
    """(Seko courier, service) -> Blue Cherry ship-via, active rows only."""
    return {(name, service): via for via, name, service in CarrierMapping.objects.filter(active=True)
            .values_list("bc_ship_via", "seko_courier_name", "seko_courier_service")}


def order_view(order: Order | None) -> OrderView | None:
    if order is None:
        return None
    return OrderView(
        ord_num=order.ord_num, sent=order.sent_at is not None, cancelled=order.status == Order.Status.CANCELLED,
        dispatched=order.status in (Order.Status.DISPATCHED, Order.Status.PARTIALLY_DISPATCHED),
        ship_via=order.ship_via,
        lines=list(OrderLine.objects.filter(order=order).order_by("line_no")
                   .values("line_no", "sku", "qty_ordered", "qty_shipped", "qty_cancelled")),
    )


def post_dispatch(dispatch: Dispatch, carriers: dict[tuple[str, str], str], bc: BlueCherryClient) -> None:
    """Check a claimed (POSTING) dispatch, then quarantine it or post it to Blue Cherry once."""
    order = dispatch.order or find_order(dispatch.confirmation)
    if order is not None and dispatch.order_id is None:
        Dispatch.objects.filter(pk=dispatch.pk).update(order=order, ord_num=order.ord_num)
        dispatch.order = order
    # Chaos-found race (issue 8): Seko committed our submit but the reply was lost (a timeout,
    # or a worker killed mid-send), so our order is still RECEIVED/SENDING when its dispatch
    # comes. Seko dispatching it proves Seko has it: the dispatch waits for our send to record
    # the acceptance (the resend gets "already exists"), rather than being quarantined as unknown.
    if order is not None and order.sent_at is None and order.status in (Order.Status.RECEIVED,
                                                                        Order.Status.SENDING):
        _retry_later(dispatch, f"Order {order.ord_num} is still being sent to Seko; the dispatch waits for it")
        return
    view = order_view(order)
    own = next(((n, s) for (n, s), via in carriers.items() if order and via == order.ship_via), None)
    confirmation = dispatch.effective
    problems = validate_dispatch(confirmation, view, carriers, own)
    if problems:
        quarantine(dispatch, problems)
        return
    assert view is not None and order is not None  # validate_dispatch refuses a dispatch without an order
    ship_via = resolve_ship_via(text(confirmation.get("CourierName")), text(confirmation.get("CourierService")),
                                carriers, own) or ""
    body, outcomes = map_shipment(confirmation, view, ship_via)
    try:
        result = bc.create_shipment(body)
    except Rejected as error:  # 422/409: Blue Cherry will not take it until someone acts
        details = "; ".join(str(d.get("message", d)) for d in error.details if isinstance(d, dict))
        message = f"Blue Cherry refused the shipment: {error.remote_message}" + (f" ({details})" if details else "")
        quarantine(dispatch, [Problem(catalogue.DISPATCH_REJECTED.code, message)],
                   request_payload=json.dumps(body, indent=2),
                   response_payload=error.exchange.response_body if error.exchange else "")
        return
    except Unauthorized as error:
        queue.raise_exception(catalogue.TRANSPORT_UNAUTHORIZED, catalogue.system_key("bluecherry"), str(error))
        _retry_later(dispatch, str(error))
        return
    except (Transient, MalformedPayload) as error:  # safe to repeat: wms_dispatch_id is the key
        _retry_later(dispatch, str(error), transient=error)
        return
    record_posted(dispatch, order, body, outcomes, result)


def record_posted(dispatch: Dispatch, order: Order, body: dict, outcomes: list, result: dict) -> None:
    now = timezone.now()
    short = any(o.cancelled for o in outcomes)
    new_status = Order.Status.PARTIALLY_DISPATCHED if short else Order.Status.DISPATCHED
    with transaction.atomic():
        if not Dispatch.objects.filter(pk=dispatch.pk, status=DStatus.POSTING).update(
                status=DStatus.POSTED, shipment=body, short=short, posted_at=now, problems=[], last_error="",
                bc_ship_num=str(result.get("ship_num") or "")[:40],
                bc_invoice_num=str(result.get("invoice_num") or "")[:40]):
            log.warning("dispatch %s was no longer POSTING when Blue Cherry took it", dispatch.dispatch_id)
            return
        for outcome in outcomes:
            OrderLine.objects.filter(order=order, line_no=outcome.line_no).update(
                qty_shipped=F("qty_shipped") + outcome.shipped, qty_cancelled=F("qty_cancelled") + outcome.cancelled)
        old = order.status
        Order.objects.filter(pk=order.pk, status__in=AWAITING_DISPATCH).update(
            status=new_status, dispatched_at=now, updated_at=now)
        shipped = ", ".join(f"line {o.line_no} {o.sku} {o.shipped}/{o.open}" for o in outcomes)
        cancelled = ", ".join(f"line {o.line_no} {o.sku} x{o.cancelled}" for o in outcomes if o.cancelled)
        note = (f"Dispatch {dispatch.dispatch_id} posted to Blue Cherry as shipment {result.get('ship_num')}, "
                f"invoice {result.get('invoice_num')}. Shipped: {shipped}.")
        if cancelled:
            note += f" Not shipped, remainder cancelled: {cancelled}."
        _event(order, old, new_status, note)
    queue.auto_resolve(catalogue.dispatch_key(dispatch.dispatch_id), DISPATCH_KINDS, "Posted to Blue Cherry")
    queue.auto_resolve(catalogue.order_key(order.ord_num), [catalogue.DISPATCH_OVERDUE], "The dispatch arrived")
    queue.auto_resolve(catalogue.system_key("bluecherry"), [catalogue.TRANSPORT_BLUECHERRY_UNAVAILABLE,
                                                            catalogue.TRANSPORT_UNAUTHORIZED], "Blue Cherry answered")


def quarantine(dispatch: Dispatch, problems: list[Problem], *, request_payload: str = "",
               response_payload: str = "") -> None:
    """Hold a dispatch that must not be posted: one exception per kind, every problem listed,
    the confirmation kept on it."""
    if not Dispatch.objects.filter(pk=dispatch.pk, status=DStatus.POSTING).update(
            status=DStatus.QUARANTINED, problems=[p.as_dict() for p in problems], updated_at=timezone.now()):
        return
    key = catalogue.dispatch_key(dispatch.dispatch_id)
    by_kind: dict[str, list[Problem]] = {}
    for problem in problems:
        by_kind.setdefault(problem.kind, []).append(problem)
    queue.auto_resolve(key, [k for k in DISPATCH_KINDS if k.code not in by_kind], "No longer found when checked again")
    order = dispatch.order
    about = f"order {order.ord_num}" if order else f"order '{dispatch.ord_num or '?'}'"
    for kind, found in by_kind.items():
        queue.raise_exception(
            kind, key, f"Dispatch {dispatch.dispatch_id} of {about} was not posted to Blue Cherry: "
                       + " ".join(p.message for p in found),
            problems=[p.as_dict() for p in found], order=order,
            request_payload=request_payload or json.dumps(dispatch.effective, indent=2, default=str),
            response_payload=response_payload,
        )
    if order is not None:
        _event(order, order.status, order.status,
               f"Dispatch {dispatch.dispatch_id} quarantined: " + " ".join(p.message for p in problems))


def _retry_later(dispatch: Dispatch, reason: str, transient: ClientError | None = None) -> None:
    attempts = dispatch.attempts + 1
    delay = min(settings.RETRY_MAX_SECONDS, settings.RETRY_BASE_SECONDS * 2 ** (attempts - 1))
    if isinstance(transient, Transient) and transient.retry_after:
        delay = max(delay, transient.retry_after)
    delay = random.uniform(delay / 2, delay)
    Dispatch.objects.filter(pk=dispatch.pk, status=DStatus.POSTING).update(
        status=DStatus.RECEIVED, attempts=attempts, next_attempt_at=timezone.now() + timedelta(seconds=delay),
        last_error=reason[:2000])
    if transient is not None and attempts >= settings.TRANSIENT_ALERT_AFTER:
        queue.raise_exception(
            catalogue.TRANSPORT_BLUECHERRY_UNAVAILABLE, catalogue.system_key("bluecherry"),
            f"Blue Cherry did not take shipments (last: {reason}). They are retried on their own.")


def recover_stale_claims() -> int:
    """Work left claimed by a worker that died goes back to waiting. Safe: a part is stored
    once, and Blue Cherry dedupes shipments on wms_dispatch_id."""
    cutoff = timezone.now() - timedelta(seconds=settings.ORDER_LEASE_SECONDS)
    pushes = InboundPush.objects.filter(status=InboundPush.Status.PROCESSING, claimed_at__lt=cutoff).update(
        status=InboundPush.Status.PENDING)
    dispatches = Dispatch.objects.filter(status=DStatus.POSTING, claimed_at__lt=cutoff).update(
        status=DStatus.RECEIVED, next_attempt_at=None)
    return pushes + dispatches


# --- Ops fill in and release -----------------------------------------------------------------

FILLABLE = ("CourierName", "CourierService", "TrackingNumber")


def release_dispatch(dispatch: Dispatch, user: Any, fill: dict[str, str]) -> Dispatch:
    """Lay what ops filled in over a quarantined dispatch and post it now. Returns the dispatch
    as it ended (POSTED, or QUARANTINED again with what is still wrong)."""
    values = {k: text(v) for k, v in fill.items() if k in FILLABLE and text(v)}
    with transaction.atomic():
        current = Dispatch.objects.select_for_update().get(pk=dispatch.pk)
        if current.status != DStatus.QUARANTINED:
            return current
        Dispatch.objects.filter(pk=current.pk).update(overrides={**current.overrides, **values})
        claimed = Dispatch.objects.filter(pk=current.pk, status=DStatus.QUARANTINED).update(
            status=DStatus.POSTING, claimed_at=timezone.now())
    if not claimed:
        return Dispatch.objects.get(pk=dispatch.pk)
    current = Dispatch.objects.select_related("order").get(pk=dispatch.pk)
    if current.order is not None:
        who = getattr(user, "username", "someone")
        filled = ", ".join(f"{k} {v}" for k, v in values.items()) or "nothing filled in"
        _event(current.order, current.order.status, current.order.status,
               f"Dispatch {current.dispatch_id} released by {who} ({filled})")
    with bluecherry_client() as bc, about_order(current.order):
        post_dispatch(current, carrier_lookup(), bc)
    return Dispatch.objects.get(pk=dispatch.pk)


# --- 4. The poll: the safety net for dropped pushes -------------------------------------------

def poll_dispatches() -> dict[str, int]:
    """Ask Seko which orders were dispatched since the last poll (with an overlap) and fetch
    the confirmation of each that has no dispatch here. Only dispatches older than the grace
    period are asked for: younger ones are still on their way as pushes."""
    cursor = cursors.take_lease(POLL_CURSOR)
    if cursor is None:
        return {"seen": 0, "recovered": 0}  # another worker is polling
    now = cursor.last_run_at
    until = now - timedelta(seconds=settings.DISPATCH_POLL_GRACE_SECONDS)
    if cursor.position is not None:
        since = cursor.position - timedelta(seconds=settings.DISPATCH_POLL_OVERLAP_SECONDS)
    else:  # first poll: from the oldest order still waiting for its dispatch
        oldest = Order.objects.filter(status__in=AWAITING_DISPATCH, sent_at__isnull=False).order_by("sent_at").first()
        since = (oldest.sent_at if oldest else until) - timedelta(seconds=settings.DISPATCH_POLL_OVERLAP_SECONDS)
    seen = recovered = 0
    try:
        if since < until:
            dcs = sorted(set(WarehouseMapping.objects.filter(active=True).values_list("seko_dc_code", flat=True)))
            with seko_client() as seko:
                for dc in dcs:
                    # Seko takes whole seconds: round the end up, or this second's dispatches wait.
                    for ref in seko.dispatched_orders(since, until + timedelta(seconds=1), dc):
                        seen += 1
                        recovered += _recover(seko, ref.guid, ref.sales_order_number)
        SyncCursor.objects.filter(pk=cursor.pk).update(
            position=max(until, cursor.position or until), last_success_at=timezone.now(), last_error="",
            locked_until=None)
    except ClientError as error:
        log.warning("dispatch poll failed: %s", error)
        SyncCursor.objects.filter(pk=cursor.pk).update(last_error=str(error)[:2000], locked_until=None)
    except Exception:
        SyncCursor.objects.filter(pk=cursor.pk).update(locked_until=None)
        raise
    return {"seen": seen, "recovered": recovered}


def _recover(seko: Any, guid: str | None, sales_order_number: str | None) -> int:
    """Fetch and take the dispatch of one order Seko reports dispatched, unless we have it."""
    order = Order.objects.filter(seko_guid=guid).first() if guid else None
    if order is None and sales_order_number:
        order = Order.objects.filter(ord_num=sales_order_number).first()
    if order is None:
        log.info("poll: Seko dispatched an order we do not know (GUID %s)", guid)
        return 0
    if order.dispatches.exists() or order.status not in AWAITING_DISPATCH:
        return 0
    with about_order(order):
        try:
            confirmation = seko.order_dispatch(order.ord_num)
        except NotFound:
            return 0
    _, created = take_dispatch(confirmation, Dispatch.Source.POLL)
    return int(created)


def mark_sync_success() -> None:
    SyncCursor.objects.get_or_create(name=SYNC_CURSOR)
    now = timezone.now()
    SyncCursor.objects.filter(name=SYNC_CURSOR).update(last_run_at=now, last_success_at=now, last_error="")


def _log_in(order: Order, operation: str, body: dict[str, Any]) -> None:
    """An inbound message on the order's timeline (the whole push stays on InboundPush)."""
    MessageLog.objects.create(
        direction=MessageLog.Direction.IN, system="seko", operation=operation, method="POST", url="webhooks/seko",
        request_body=json.dumps(body, indent=2, default=str)[:BODY_LIMIT], order=order, status_code=202,
    )


def _event(order: Order, from_status: str, to_status: str, note: str) -> None:
    OrderEvent.objects.create(order=order, from_status=from_status, to_status=to_status, note=note[:4000])
