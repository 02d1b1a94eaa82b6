"""Flow 2, order injection: Blue Cherry RELEASED orders -> Seko pick slips.

The steps, in order (DESIGN.md):

1. ``pull_released_orders``: new and changed RELEASED orders, cursor on ``updated_at``.
   A changed order that was waiting or quarantined is checked again from scratch.
2. ``send_due_orders``: claim a batch of waiting orders (compare-and-swap to SENDING), and for
   each: validate -> quarantine (one exception per kind, every problem listed) or map -> submit
   to Seko with the Blue Cherry order number as the idempotency key -> record SENT.
3. ``send_owed_pick_tickets``: tell Blue Cherry (pick ticket, PICKING) for every SENT order it
   has not been told about yet. Apart from step 2 so a Blue Cherry outage never re-sends to Seko.
4. ``pull_cancelled_orders`` / ``send_requested_cancels``: a cancel after release goes to
   Seko; a refusal (already packing) becomes an exception for CX.

Releases (``release_orders_blocked_by_*``) put quarantined orders back to waiting when the
cause is fixed, so they are sent with no one pressing a button.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from exceptions import catalogue
from exceptions import services as queue
from integration.clients.bluecherry import BlueCherryClient
from integration.clients.errors import ClientError, MalformedPayload, Rejected, Transient, Unauthorized, Unsupported
from integration.clients.seko import SekoClient
from integration.items.flow import seko_acknowledged, sku_statuses
from integration.models import CarrierMapping, Order, OrderEvent, OrderLine, WarehouseMapping
from integration.orders.mapper import SekoLine, map_order
from integration.orders.rules import (
    Lookups,
    Problem,
    classify_seko_rejection,
    order_record_problems,
    validate_order,
)
from integration.shared import cursors, recovery
from integration.shared.concurrency import each_in_threads  # issue 9: bounded concurrency for remote calls
from integration.shared.messagelog import about_order, buffered
from integration.shared.systems import bluecherry_client, seko_client

log = logging.getLogger(__name__)

RELEASED_CURSOR = "orders.released"
CANCELLED_CURSOR = "orders.cancelled"

Status = Order.Status

# Kinds that describe the order's own content; re-checking the order settles all of them.
VALIDATION_KINDS = [
    catalogue.MAPPING_WAREHOUSE_UNKNOWN, catalogue.MAPPING_CARRIER_UNKNOWN, catalogue.ORDER_SKU_NOT_LIVE,
    catalogue.ORDER_ADDRESS_INCOMPLETE, catalogue.ORDER_INVALID_LINES,
]
REJECTION_KINDS = [
    catalogue.ORDER_REJECTED_MAPPING, catalogue.ORDER_REJECTED_PRODUCT, catalogue.ORDER_REJECTED_STOCK,
    catalogue.ORDER_REJECTED_DATA,
]
# Orders in these states may be changed by a new version from Blue Cherry and checked again.
REWORKABLE = [Status.RECEIVED, Status.QUARANTINED, Status.REJECTED]


# --- 1. Pull ------------------------------------------------------------------------------

INGEST_BATCH_SIZE = 200  # a page of Blue Cherry's orders: one transaction, a few bulk statements


def pull_released_orders() -> tuple[int, int]:
    """Pull new and changed RELEASED orders; returns (seen, applied)."""
    with bluecherry_client() as client:
        return cursors.pull_batched(
            RELEASED_CURSOR, lambda since: client.iter_sales_orders(status="RELEASED", updated_since=since),
            ingest_orders, batch_size=INGEST_BATCH_SIZE,
        )


def ingest_orders(records: list[dict[str, Any]]) -> tuple[int, list[tuple[Any, cursors.MalformedRecord]]]:
    """Take a batch of RELEASED orders. Issue 9: the orders not seen before (nearly all of them
    at peak) are written in one transaction with a bulk insert each of orders, lines and
    events, instead of ~8 statements per order; a new version of an order already here goes
    through ``ingest_order``, one at a time. Returns (applied, the unreadable records and why)."""
    unreadable: list[tuple[Any, cursors.MalformedRecord]] = []
    readable: list[dict[str, Any]] = []
    for record in records:
        problems = order_record_problems(record)
        if problems:
            key = str(record.get("ord_num") or "") if isinstance(record, dict) else ""
            unreadable.append((record, cursors.MalformedRecord("; ".join(problems), key=key)))
        else:
            readable.append(record)
    if not readable:
        return 0, unreadable
    queue.auto_resolve_many([_record_key(r) for r in readable], [catalogue.RECORD_MALFORMED], "A readable version came")
    # The cursor's overlap re-reads recent versions on purpose: those already held are dropped
    # here on one light read, not looked up one by one.
    known = dict(Order.objects.filter(ord_num__in={str(r["ord_num"]) for r in readable})
                 .values_list("ord_num", "bc_updated_at"))
    new: dict[str, dict[str, Any]] = {}
    versions: list[dict[str, Any]] = []  # newer versions of orders already here, or a second one in this batch
    for record in readable:
        ord_num = str(record["ord_num"])
        if ord_num in new:
            versions.append(record)
        elif ord_num not in known:
            new[ord_num] = record
        elif cursors.parse_timestamp(record.get("updated_at")) > known[ord_num]:
            versions.append(record)
    applied = _create_orders(list(new.values()))
    for record in versions:
        applied += _take_version(record)
    return applied, unreadable


def _create_orders(records: list[dict[str, Any]]) -> int:
    if not records:
        return 0
    try:
        with transaction.atomic():
            created = Order.objects.bulk_create([
                Order(ord_num=str(r["ord_num"]), bc_updated_at=cursors.parse_timestamp(r.get("updated_at")),
                      **_order_fields(r))
                for r in records
            ])
            OrderLine.objects.bulk_create(
                [line for order, record in zip(created, records, strict=True) for line in _lines(order, record)],
                batch_size=500,
            )
            OrderEvent.objects.bulk_create([
                OrderEvent(order=order, from_status="", to_status=Status.RECEIVED, note=RECEIVED_NOTE)
                for order in created
            ])
    except IntegrityError:
        # One of them was created meanwhile (the pull's lease makes this rare): nothing of the
        # batch was written; take each on its own, which sees what is there.
        return sum(_take_version(record) for record in records)
    return len(created)


RECEIVED_NOTE = "Released in Blue Cherry; waiting to be validated and sent"


def _record_key(payload: dict[str, Any]) -> str:
    return f"record:{RELEASED_CURSOR}:{payload['ord_num']}"


def ingest_order(payload: dict[str, Any]) -> bool:
    """Take one version of a RELEASED order. False when this version was already taken."""
    unreadable = order_record_problems(payload)
    if unreadable:
        key = str(payload.get("ord_num") or "") if isinstance(payload, dict) else ""
        raise cursors.MalformedRecord("; ".join(unreadable), key=key)
    queue.auto_resolve(_record_key(payload), [catalogue.RECORD_MALFORMED], "A readable version came")
    return _take_version(payload)


def _take_version(payload: dict[str, Any]) -> bool:
    """Apply a readable version of a RELEASED order: create it, or check a changed one again."""
    ord_num = str(payload["ord_num"])
    updated_at = cursors.parse_timestamp(payload.get("updated_at"))
    with transaction.atomic():
        order = Order.objects.filter(ord_num=ord_num).first()
        if order is None:
            order = Order.objects.create(ord_num=ord_num, bc_updated_at=updated_at, **_order_fields(payload))
            _replace_lines(order, payload)
            _event(order, "", Status.RECEIVED, RECEIVED_NOTE)
            return True
        if order.bc_updated_at >= updated_at:
            return False  # seen already: the cursor's overlap re-reads a little on purpose
        if order.status in REWORKABLE:
            changed = Order.objects.filter(pk=order.pk, status=order.status).update(
                status=Status.RECEIVED, bc_updated_at=updated_at, next_attempt_at=None, attempts=0,
                updated_at=timezone.now(), **_order_fields(payload),
            )
            if not changed:
                return False  # a worker claimed it meanwhile; the next pull sees this version again
            _replace_lines(order, payload)
            _event(order, order.status, Status.RECEIVED, "Changed in Blue Cherry; checking it again")
            return True
        if order.status == Status.SENDING:
            return False  # being sent right now; the next pull sees this version again
        if order.status == Status.WITHDRAWN:
            # A person took it out of fulfilment; a fix in Blue Cherry does not undo that choice.
            Order.objects.filter(pk=order.pk).update(bc_updated_at=updated_at, raw=payload)
            _event(order, order.status, order.status, "Changed in Blue Cherry after it was withdrawn from "
                   "fulfilment; not sent (Retransmit on this page sends it after all)")
            return True
        # Already at Seko (or cancelled): iHub cannot amend an order after upload.
        Order.objects.filter(pk=order.pk).update(bc_updated_at=updated_at, raw=payload)
        _event(order, order.status, order.status,
               "Changed in Blue Cherry after it was sent; Seko cannot amend an order, so the change was not passed on")
        return True


def _order_fields(payload: dict[str, Any]) -> dict[str, Any]:
    order_date = payload.get("order_date")
    return {
        "bc_status": str(payload.get("status") or ""),
        "customer": str(payload.get("customer") or "")[:50],
        "channel": str(payload.get("channel") or "")[:20],
        "location": str(payload.get("location") or "")[:20],
        "ship_via": str(payload.get("ship_via") or "")[:20],
        "currency": str(payload.get("currency") or "")[:3],
        "order_date": cursors.parse_timestamp(order_date) if order_date else None,
        "ship_to": payload.get("ship_to") or {},
        "raw": payload,
    }


def _replace_lines(order: Order, payload: dict[str, Any]) -> None:
    OrderLine.objects.filter(order=order).delete()
    OrderLine.objects.bulk_create(_lines(order, payload))


def _lines(order: Order, payload: dict[str, Any]) -> list[OrderLine]:
    return [
        OrderLine(
            order=order,
            line_no=int(line.get("line_no") or index),
            sku=str(line.get("sku") or "")[:100],
            upc=str(line.get("upc") or "")[:32],
            qty_ordered=line.get("qty_ordered") if isinstance(line.get("qty_ordered"), int) else 0,
            qty_shipped=int(line.get("qty_shipped") or 0),
            qty_cancelled=int(line.get("qty_cancelled") or 0),
            unit_price=str(line.get("unit_price") or "0"),
        )
        for index, line in enumerate(payload.get("lines") or [], start=1)
    ]


# --- 2. Validate and send ------------------------------------------------------------------

def claim_due_orders(limit: int) -> list[Order]:
    """Claim up to ``limit`` waiting orders for this worker: one compare-and-swap UPDATE moves
    them RECEIVED -> SENDING under a new claim token, and those that carry it are this
    worker's, so two workers never send the same order at once (issue 9: one statement for the
    batch rather than one per order)."""
    now = timezone.now()
    candidates = list(
        Order.objects.filter(status=Status.RECEIVED, cancel_requested_at__isnull=True)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .order_by("created_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    if not candidates:
        return []
    token = uuid.uuid4().hex
    Order.objects.filter(pk__in=candidates, status=Status.RECEIVED, cancel_requested_at__isnull=True).update(
        status=Status.SENDING, claimed_at=now, claim_token=token,
    )
    claimed = list(Order.objects.filter(pk__in=candidates, status=Status.SENDING, claim_token=token)
                   .order_by("created_at", "id"))
    # The step shows on each order's timeline (received -> sending -> sent or quarantined): one
    # insert for the batch, so a slow send is visible as "sending since" rather than a gap.
    OrderEvent.objects.bulk_create([
        OrderEvent(order=o, from_status=Status.RECEIVED, to_status=Status.SENDING,
                   note="Taken by a worker to check and send to Seko") for o in claimed
    ])
    return claimed


@dataclass(frozen=True)
class Accepted:
    """Seko took an order; what is recorded about it."""
    order: Order
    guid: str
    dc_code: str
    seko_lines: list[SekoLine]
    already_existed: bool


def send_due_orders(limit: int | None = None) -> int:
    """Validate and send one batch of waiting orders, telling Blue Cherry about each one Seko
    takes; returns how many were handled."""
    batch = claim_due_orders(limit or settings.ORDER_BATCH_SIZE)
    if not batch:
        return 0
    lookups = _lookups({line.sku for line in OrderLine.objects.filter(order__in=batch)})
    accepted: list[Accepted] = []  # appended by the threads (atomic for a list)
    tickets = PickTickets()

    def send_one(order: Order, clients: tuple[SekoClient, BlueCherryClient]) -> None:
        seko, bluecherry = clients
        try:
            with about_order(order):
                taken = submit_order(order, lookups, seko)
                if taken is None:
                    return
                accepted.append(taken)
                # Blue Cherry is told at once, by the same thread: the order reaches PICKING
                # one round trip after Seko took it. Safe before SENT is written: a worker
                # dying in between leaves the order SENDING, sent again (Seko answers with
                # the same GUID) and told again (a repeat is a no-op in Blue Cherry); Blue
                # Cherry failing leaves it owed for ``send_owed_pick_tickets``.
                tickets.tell(order, taken.guid, bluecherry)
        except Exception:  # one bad order must not stop the batch; it goes back to waiting
            log.exception("unexpected failure sending %s", order.ord_num)
            if not any(a.order is order for a in accepted):
                _retry_later(order, "Unexpected error; see the worker log")

    # Issue 9: a batch's orders go out a few at a time (each thread its own keep-alive
    # sessions). What Seko and Blue Cherry took is recorded for the whole batch in a few
    # statements; each order's move is still a compare-and-swap (SENDING -> SENT, then
    # ``pick_ticket_at IS NULL``), so none is recorded twice, and one left SENDING by a worker
    # that died is sent again (Seko knows it: same GUID, not a second pick slip). The batch's
    # message log is written in one bulk insert at its end, not an insert per call.
    with buffered():
        each_in_threads(batch, send_one, client_factory=_seko_and_bluecherry,
                        threads=settings.ORDER_SEND_CONCURRENCY)
        sent = {o.pk for o in record_sent(accepted)}
        tickets.record([o for o in tickets.told if o.pk in sent])
    return len(batch)


@contextlib.contextmanager
def _seko_and_bluecherry() -> Iterator[tuple[SekoClient, BlueCherryClient]]:
    with seko_client() as seko, bluecherry_client() as bluecherry:
        yield seko, bluecherry


def _lookups(skus: set[str]) -> Lookups:
    return Lookups(
        warehouses=dict(WarehouseMapping.objects.filter(active=True).values_list("bc_location", "seko_dc_code")),
        carriers={
            row[0]: (row[1], row[2])
            for row in CarrierMapping.objects.filter(active=True).values_list(
                "bc_ship_via", "seko_courier_name", "seko_courier_service"
            )
        },
        sku_status=sku_statuses(skus),
        # Sellable = LIVE and acknowledged by Seko (the item flow records it); read after the
        # statuses, which may have just fetched a SKU the mirror lacked.
        seko_acknowledged=seko_acknowledged(skus),
    )


def send_order(order: Order, lookups: Lookups, seko: SekoClient) -> None:
    """Validate a claimed (SENDING) order, then quarantine it or send it to Seko and record it."""
    taken = submit_order(order, lookups, seko)
    if taken is not None:
        record_sent([taken])


def submit_order(order: Order, lookups: Lookups, seko: SekoClient) -> Accepted | None:
    """Validate a claimed (SENDING) order, then quarantine it or submit it to Seko. Returns what
    Seko accepted, for ``record_sent``; None when the order was held, refused or put back."""
    payload = order.raw
    problems = validate_order(payload, lookups)
    if problems:
        quarantine(order, problems)
        return None

    courier_name, courier_service = lookups.carriers[order.ship_via]
    dc_code = lookups.warehouses[order.location]
    body, seko_lines = map_order(payload, dc_code=dc_code, courier_name=courier_name, courier_service=courier_service)
    try:
        result = seko.submit_order(body)
        guid = result.guid
        if result.already_existed or not guid:
            # Our earlier submit reached Seko but its reply did not reach us: read the GUID.
            guid = read_guid(seko, order.ord_num)
    except Rejected as error:
        _reject(order, error, body)
        return None
    except Unauthorized as error:
        queue.raise_exception(catalogue.TRANSPORT_UNAUTHORIZED, catalogue.system_key("seko"), str(error))
        _retry_later(order, str(error))
        return None
    except (Transient, MalformedPayload) as error:
        # Safe to try again: the order number is Seko's idempotency key.
        _retry_later(order, str(error), transient=error)
        return None
    return Accepted(order, guid or "", dc_code, seko_lines, result.already_existed)


def read_guid(seko: SekoClient, ord_num: str) -> str | None:
    """The GUID Seko gave an order, read by its status. No Seko page documents the status by
    sales-order number: where Seko has no such endpoint the order is still Seko's, so it goes on
    as sent without its GUID (dispatches name the order by number) and the admins are told."""
    key = catalogue.endpoint_key("seko", "order_status")
    try:
        guid = seko.order_status(ord_num).guid
    except Unsupported as error:
        queue.raise_exception(
            catalogue.SYNC_ENDPOINT_UNSUPPORTED, key,
            f"Seko has no order status endpoint ({error}). Order {ord_num}, which Seko already had, is recorded "
            "as sent without its GUID; its dispatch is matched by the order number.",
        )
        return None
    queue.auto_resolve(key, [catalogue.SYNC_ENDPOINT_UNSUPPORTED], "Seko answered the order status again")
    return guid


def record_sent(accepted: list[Accepted]) -> list[Order]:
    """Record what Seko accepted: SENDING -> SENT with the GUID and Seko's line numbers, one
    event each, the order's problems closed. Issue 9: a whole batch in one transaction of a
    few statements (the orders still SENDING locked and read, one UPDATE of them, prepared
    UPDATEs of their GUIDs and line numbers, one insert of events) instead of ~10 per order.
    An order no longer SENDING (a dead worker's claim taken back meanwhile) is left as it is.
    Returns the orders moved to SENT."""
    if not accepted:
        return []
    now = timezone.now()
    with transaction.atomic():
        still_sending = set(Order.objects.select_for_update().filter(
            pk__in=[a.order.pk for a in accepted], status=Status.SENDING).values_list("pk", flat=True))
        mine = [a for a in accepted if a.order.pk in still_sending]
        for gone in (a for a in accepted if a.order.pk not in still_sending):
            log.warning("%s was no longer SENDING when Seko accepted it", gone.order.ord_num)
        if not mine:
            return []
        Order.objects.filter(pk__in=[a.order.pk for a in mine], status=Status.SENDING).update(
            status=Status.SENT, sent_at=now, problems=[], last_error="", next_attempt_at=None, updated_at=now,
        )
        # Each order's own values by prepared statements run many times (one CASE per field
        # over a batch cost more to build in the ORM than the rest of the batch together).
        numbers = {(a.order.pk, covered): line.line_number for a in mine for line in a.seko_lines
                   for covered in line.covers}
        lines = (OrderLine.objects.filter(order_id__in=[a.order.pk for a in mine])
                 .values_list("pk", "order_id", "line_no"))
        with connection.cursor() as cursor:
            cursor.executemany(f"UPDATE {Order._meta.db_table} SET seko_guid = %s, seko_dc_code = %s WHERE id = %s",
                               [(a.guid, a.dc_code, a.order.pk) for a in mine])
            cursor.executemany(f"UPDATE {OrderLine._meta.db_table} SET seko_line_number = %s WHERE id = %s",
                               [(numbers.get((order_id, line_no)), pk) for pk, order_id, line_no in lines])
        OrderEvent.objects.bulk_create([
            OrderEvent(order=a.order, from_status=Status.SENDING, to_status=Status.SENT, note=(
                "Accepted by Seko" + (" (it already had it from an earlier attempt)" if a.already_existed else "")
                + (f"; GUID {a.guid}" if a.guid else "; no GUID (Seko gave none)"))[:4000])
            for a in mine
        ])
    queue.auto_resolve_many([catalogue.order_key(a.order.ord_num) for a in mine],
                            VALIDATION_KINDS + REJECTION_KINDS, "Sent to Seko")
    queue.auto_resolve(catalogue.system_key("seko"), [catalogue.TRANSPORT_SEKO_UNAVAILABLE,
                                                       catalogue.TRANSPORT_UNAUTHORIZED], "Seko answered again")
    recovery.system_answered(recovery.SEKO)
    return [a.order for a in mine]



@transaction.atomic  # the held status and its exceptions land together, or not at all
def quarantine(order: Order, problems: list[Problem]) -> None:
    """Hold an order that must not be sent: one exception per kind, listing every problem.
    Atomic because a worker killed between the two writes would leave an order held with no
    exception telling anyone (found by the chaos run)."""
    key = catalogue.order_key(order.ord_num)
    changed = Order.objects.filter(pk=order.pk, status=Status.SENDING).update(
        status=Status.QUARANTINED, problems=[p.as_dict() for p in problems], updated_at=timezone.now()
    )
    if not changed:
        return
    by_kind: dict[str, list[Problem]] = {}
    for problem in problems:
        by_kind.setdefault(problem.kind, []).append(problem)
    # A fix may have settled some kinds while others remain: close those no longer true.
    queue.auto_resolve(key, [k for k in VALIDATION_KINDS + REJECTION_KINDS if k.code not in by_kind],
                       "No longer found when the order was checked again; it is now quarantined as "
                       + ", ".join(sorted(by_kind)))
    for kind, found in by_kind.items():
        message = f"Order {order.ord_num} was not sent to Seko: " + " ".join(p.message for p in found)
        sku = next((p.value for p in found if kind == catalogue.ORDER_SKU_NOT_LIVE.code and p.value), "")
        queue.raise_exception(kind, key, message, problems=[p.as_dict() for p in found], order=order, sku=sku)
    _event(order, Status.SENDING, Status.QUARANTINED, "; ".join(p.message for p in problems))
    if by_kind.keys() & FIXED_ELSEWHERE:
        transaction.on_commit(lambda: release_if_fixed_meanwhile(order.pk), robust=True)


# Causes another flow fixes (an item going LIVE, a mapping saved), which then releases the orders
# held for them. Such a fix can land while this order is being checked with what was read before
# it: the release finds nothing held yet, and the order would wait for good.
FIXED_ELSEWHERE = {catalogue.ORDER_SKU_NOT_LIVE.code, catalogue.MAPPING_WAREHOUSE_UNKNOWN.code,
                   catalogue.MAPPING_CARRIER_UNKNOWN.code}


def release_if_fixed_meanwhile(order_pk: int) -> bool:
    """Check a just-quarantined order again with what the database holds now, after its hold was
    committed: the fixing flow writes its fix before it releases, this writes the hold before it
    checks, so one of the two always sees the other. Released only when nothing is wrong any more
    (a partial fix would hold it again at once)."""
    order = Order.objects.filter(pk=order_pk, status=Status.QUARANTINED).first()
    if order is None:
        return False
    skus = {str(line.get("sku")) for line in (order.raw.get("lines") or []) if isinstance(line, dict)}
    if validate_order(order.raw, _lookups(skus)):
        return False
    return _release([order], "What held it was fixed while it was being checked") == 1


@transaction.atomic  # as in quarantine: the status and its exception land together
def _reject(order: Order, error: Rejected, body: dict[str, Any]) -> None:
    kind = classify_seko_rejection(error.remote_message)
    problem = Problem(kind.code, f"Seko refused it: {error.remote_message}")
    changed = Order.objects.filter(pk=order.pk, status=Status.SENDING).update(
        status=Status.REJECTED, problems=[problem.as_dict()], last_error=error.remote_message,
        updated_at=timezone.now(),
    )
    if not changed:
        return
    # The order's problem is now Seko's refusal: what held it before (a missing mapping, another
    # refusal) is no longer true, so that exception closes saying what took its place.
    queue.auto_resolve(catalogue.order_key(order.ord_num),
                       [k for k in VALIDATION_KINDS + REJECTION_KINDS if k.code != kind.code],
                       f"Superseded: the order was sent and is now rejected by Seko as {kind.code}")
    queue.raise_exception(
        kind, catalogue.order_key(order.ord_num), f"Order {order.ord_num} was rejected by Seko: {error.remote_message}",
        problems=[problem.as_dict()], order=order,
        request_payload=json.dumps(body, indent=2),
        response_payload=error.exchange.response_body if error.exchange else "",
    )
    _event(order, Status.SENDING, Status.REJECTED, problem.message)


def _retry_later(order: Order, reason: str, transient: ClientError | None = None) -> None:
    """Put a claimed order back to waiting, due again after a capped, jittered backoff."""
    attempts = order.attempts + 1
    delay = min(settings.RETRY_MAX_SECONDS, settings.RETRY_BASE_SECONDS * 2 ** min(attempts - 1, 32))
    if isinstance(transient, Transient) and transient.retry_after:
        delay = max(delay, transient.retry_after)
    delay = random.uniform(delay / 2, delay)  # jitter: do not come back all at once
    waits = Order.objects.filter(pk=order.pk, status=Status.SENDING).update(
        status=Status.RECEIVED, attempts=attempts, next_attempt_at=timezone.now() + timedelta(seconds=delay),
        last_error=reason[:2000], updated_at=timezone.now(),
    )
    if waits and transient is not None:
        recovery.note_outage(recovery.SEKO, reason)  # released at once when Seko answers again
    if transient is not None and attempts >= settings.TRANSIENT_ALERT_AFTER:
        queue.raise_exception(
            catalogue.TRANSPORT_SEKO_UNAVAILABLE, catalogue.system_key("seko"),
            f"Seko did not answer (last: {reason}). Orders are retried on their own with backoff.",
        )


# --- 3. Tell Blue Cherry -------------------------------------------------------------------

OWED_PICK_TICKET = {"status": Status.SENT, "pick_ticket_at__isnull": True, "cancel_requested_at__isnull": True}


def send_owed_pick_tickets(limit: int = 200) -> int:
    """Move sent orders to PICKING in Blue Cherry: those not told yet (normally the send told
    Blue Cherry at once; these are the ones it could not, or a worker died in between)."""
    return tell_bluecherry(list(Order.objects.filter(**OWED_PICK_TICKET).order_by("sent_at")[:limit]))


def tell_bluecherry(owed: list[Order]) -> int:
    """Post the pick ticket of each order (PICKING in Blue Cherry) and record it. Repeating a
    pick ticket is a no-op there, so a crash between the call and our write is safe."""
    if not owed:
        return 0
    tickets = PickTickets()

    def tell_one(order: Order, client: BlueCherryClient) -> None:
        with about_order(order):
            tickets.tell(order, order.seko_guid, client)

    # Issue 9: a few pick tickets at a time, like the submits (a repeat is a no-op in Blue Cherry).
    with buffered():  # the message log in one bulk insert, as for the submits
        each_in_threads(owed, tell_one, client_factory=bluecherry_client, threads=settings.ORDER_SEND_CONCURRENCY,
                        stop=tickets.unavailable)
        return tickets.record(tickets.told)


class PickTickets:
    """Pick tickets told to Blue Cherry by a run's threads, then recorded together."""

    def __init__(self) -> None:
        self.told: list[Order] = []  # appended by the threads (atomic for a list)
        self.unavailable = threading.Event()  # Blue Cherry is down: the rest would fail the same way

    def tell(self, order: Order, guid: str, client: BlueCherryClient) -> None:
        """Post one pick ticket; a refusal or an outage becomes an exception, not an error."""
        if self.unavailable.is_set():
            return  # left owed: the next run tries again
        # Without Seko's GUID (Seko had no status endpoint to read it from) the warehouse
        # reference is the order number, which is also Seko's own key for the order.
        reference = guid or order.ord_num
        try:
            client.pick_ticket(order.ord_num, reference)
        except Rejected as error:
            if Order.objects.filter(pk=order.pk, cancel_requested_at__isnull=False).exists():
                return  # cancelled in Blue Cherry while it was being sent: the cancel flow has it
            queue.raise_exception(
                catalogue.ORDER_PICK_TICKET_FAILED, catalogue.order_key(order.ord_num),
                f"Blue Cherry refused the pick ticket for {order.ord_num}: {error.remote_message}", order=order,
            )
            return
        except (Transient, Unauthorized, MalformedPayload) as error:
            self.unavailable.set()
            queue.raise_exception(
                catalogue.TRANSPORT_BLUECHERRY_UNAVAILABLE, catalogue.system_key("bluecherry"),
                f"Blue Cherry did not take pick tickets (last: {error}). They are retried on their own.",
            )
            return
        self.told.append(order)

    def record(self, told: list[Order]) -> int:
        done = record_pick_tickets(told)
        if told:
            queue.auto_resolve(catalogue.system_key("bluecherry"), [catalogue.TRANSPORT_BLUECHERRY_UNAVAILABLE])
            recovery.system_answered(recovery.BLUECHERRY)
        return done


def record_pick_tickets(told: list[Order]) -> int:
    """Record that Blue Cherry took these pick tickets: one compare-and-swap on
    ``pick_ticket_at IS NULL`` and one event each, for the whole run in one transaction
    (issue 9). Two workers telling the same order record it once. Returns how many were new."""
    if not told:
        return 0
    now = timezone.now()
    with transaction.atomic():
        fresh = set(Order.objects.select_for_update().filter(pk__in=[o.pk for o in told], pick_ticket_at__isnull=True)
                    .values_list("pk", flat=True))
        if not fresh:
            return 0
        Order.objects.filter(pk__in=fresh, pick_ticket_at__isnull=True).update(pick_ticket_at=now)
        OrderEvent.objects.bulk_create([
            OrderEvent(order=o, from_status=Status.SENT, to_status=Status.SENT,
                       note="Blue Cherry told: pick ticket, status PICKING")
            for o in told if o.pk in fresh
        ])
    queue.auto_resolve_many([catalogue.order_key(o.ord_num) for o in told if o.pk in fresh],
                            [catalogue.ORDER_PICK_TICKET_FAILED])
    return len(fresh)


# --- 4. Cancels ----------------------------------------------------------------------------

def pull_cancelled_orders() -> tuple[int, int]:
    with bluecherry_client() as client:
        return cursors.pull(
            CANCELLED_CURSOR, lambda since: client.iter_sales_orders(status="CANCELLED", updated_since=since),
            take_cancel,
        )


def take_cancel(payload: dict[str, Any]) -> bool:
    """Blue Cherry cancelled an order. Not yet at Seko: cancel it here. At Seko: ask Seko."""
    order = Order.objects.filter(ord_num=str(payload["ord_num"])).first()
    if order is None or order.status in (Status.CANCELLED, Status.CANCEL_REFUSED) or order.cancel_requested_at:
        return False
    now = timezone.now()
    # A withdrawn order never reached Seko either: Blue Cherry's cancel simply ends it here.
    for status in [*REWORKABLE, Status.WITHDRAWN]:
        if Order.objects.filter(pk=order.pk, status=status).update(
            status=Status.CANCELLED, cancelled_at=now, bc_status="CANCELLED", updated_at=now
        ):
            _event(order, status, Status.CANCELLED, "Cancelled in Blue Cherry before it was sent")
            queue.auto_resolve(catalogue.order_key(order.ord_num), VALIDATION_KINDS + REJECTION_KINDS,
                               "The order was cancelled in Blue Cherry")
            return True
    # SENDING or SENT: the cancel goes to Seko once the order is there (send_requested_cancels).
    if Order.objects.filter(pk=order.pk, cancel_requested_at__isnull=True).update(
        cancel_requested_at=now, bc_status="CANCELLED"
    ):
        _event(order, order.status, order.status, "Cancelled in Blue Cherry after release; passing it to Seko")
        return True
    return False


def send_requested_cancels(limit: int = 200) -> int:
    """Pass requested cancels on. An order whose send ended without reaching Seko (it was being
    sent when the cancel came) is simply cancelled here."""
    now = timezone.now()
    for order in Order.objects.filter(status__in=REWORKABLE, cancel_requested_at__isnull=False):
        if Order.objects.filter(pk=order.pk, status=order.status).update(
            status=Status.CANCELLED, cancelled_at=now, updated_at=now
        ):
            _event(order, order.status, Status.CANCELLED, "Cancelled in Blue Cherry before it reached Seko")
            queue.auto_resolve(catalogue.order_key(order.ord_num), VALIDATION_KINDS + REJECTION_KINDS,
                               "The order was cancelled in Blue Cherry")
    due = list(Order.objects.filter(status=Status.SENT, cancel_requested_at__isnull=False)[:limit])
    if not due:
        return 0
    seko = seko_client()
    done = 0
    for order in due:
        with about_order(order):
            try:
                seko.cancel_order(order.ord_num, settings.SEKO_CANCEL_REASON_CODE)
            except Rejected as error:
                with transaction.atomic():  # the refused status and CX's exception land together
                    if Order.objects.filter(pk=order.pk, status=Status.SENT).update(
                        status=Status.CANCEL_REFUSED, last_error=error.remote_message, updated_at=timezone.now()
                    ):
                        queue.raise_exception(
                            catalogue.ORDER_CANCEL_REFUSED, catalogue.order_key(order.ord_num),
                            f"Order {order.ord_num} was cancelled in Blue Cherry but Seko refused the cancel: "
                            f"{error.remote_message}. It will ship: when Seko dispatches it, its shipment is posted "
                            "to Blue Cherry against the cancelled order and invoiced, so a return can be raised "
                            "against that invoice. It is no longer watched for lateness.", order=order,
                        )
                        # The customer cancelled: a late parcel they no longer want is not CX's to chase.
                        queue.auto_resolve(catalogue.order_key(order.ord_num), [catalogue.DISPATCH_OVERDUE],
                                           "Cancel refused by Seko: the order will ship after all")
                        _event(order, Status.SENT, Status.CANCEL_REFUSED,
                               f"Cancel refused by Seko ({error.remote_message}): will ship; its shipment will be "
                               "posted against the cancelled order")
                continue
            except (Transient, Unauthorized, MalformedPayload) as error:
                log.warning("cancel of %s not passed to Seko yet: %s", order.ord_num, error)
                break
        now = timezone.now()
        if Order.objects.filter(pk=order.pk, status=Status.SENT).update(
            status=Status.CANCELLED, cancelled_at=now, updated_at=now
        ):
            _event(order, Status.SENT, Status.CANCELLED, "Cancelled at Seko")
            done += 1
    return done


# --- Releases: the cause was fixed ----------------------------------------------------------

def release_orders_blocked_by_mapping(*, location: str | None = None, ship_via: str | None = None) -> int:
    """A mapping row was added or changed: every order it blocked goes back to waiting."""
    held = Order.objects.filter(status__in=[Status.QUARANTINED, Status.REJECTED])
    if location is not None:
        held = held.filter(location=location)
    if ship_via is not None:
        held = held.filter(ship_via=ship_via)
    mapping_kinds = {catalogue.MAPPING_WAREHOUSE_UNKNOWN.code, catalogue.MAPPING_CARRIER_UNKNOWN.code,
                     catalogue.ORDER_REJECTED_MAPPING.code}
    blocked = [o for o in held.only("pk", "status", "problems")
               if any(p.get("kind") in mapping_kinds for p in o.problems)]
    return _release(blocked, "A cross-reference row it needed was saved")


def release_orders_blocked_by_sku(sku: str) -> int:
    """A SKU became sellable (LIVE, and acknowledged by Seko): every order quarantined for it
    goes back to waiting."""
    return release_orders_blocked_by_skus([sku])


def release_when_skus_go_live(sender: object, skus: list[str], **kwargs: object) -> None:
    """Receives the item flow's ``skus_went_live`` (connected in integration/apps.py)."""
    release_orders_blocked_by_skus(skus)


def release_orders_blocked_by_skus(skus: list[str] | set[str]) -> int:
    """Many SKUs became sellable in one item-master run: the orders held for any of them are
    found with a query per chunk of SKUs, not per SKU."""
    wanted = sorted(set(skus))
    blocked: dict[int, Order] = {}
    for start in range(0, len(wanted), 500):
        chunk = set(wanted[start:start + 500])
        held = Order.objects.filter(status=Status.QUARANTINED, lines__sku__in=chunk).distinct()
        for order in held.only("pk", "status", "problems"):
            if any(p.get("kind") == catalogue.ORDER_SKU_NOT_LIVE.code and p.get("value") in chunk
                   for p in order.problems):
                blocked[order.pk] = order
    what = f"SKU {wanted[0]} is" if len(wanted) == 1 else "SKUs it needed are"
    return _release(list(blocked.values()), f"{what} now LIVE and at Seko")


def _release(orders: list[Order], reason: str) -> int:
    released = 0
    for order in orders:
        if Order.objects.filter(pk=order.pk, status=order.status).update(
            status=Status.RECEIVED, next_attempt_at=None, attempts=0, updated_at=timezone.now()
        ):
            _event(order, order.status, Status.RECEIVED, f"{reason}; checking it again")
            released += 1
    return released


def recover_stale_claims() -> int:
    """Orders left SENDING by a worker that died go back to waiting. Re-sending is safe: the
    order number is Seko's idempotency key."""
    cutoff = timezone.now() - timedelta(seconds=settings.ORDER_LEASE_SECONDS)
    return Order.objects.filter(status=Status.SENDING, claimed_at__lt=cutoff).update(
        status=Status.RECEIVED, next_attempt_at=None
    )


def _event(order: Order, from_status: str, to_status: str, note: str) -> None:
    OrderEvent.objects.create(order=order, from_status=from_status, to_status=to_status, note=note[:4000])


# --- Actions a person takes from the dashboard (issue 3) ------------------------------------
# Retry (put a held order back to waiting), retransmit (re-fetch from Blue Cherry, re-check and
# send now) and the "this save will release N orders" preview. Every one is safe to repeat.

class ActionRefused(Exception):
    """A person asked for something that cannot be done to this order now; the message says
    why in words they can act on. Nothing was written."""


RETRYABLE = [Status.QUARANTINED, Status.REJECTED]
MAPPING_BLOCK_KINDS = {
    "location": {catalogue.MAPPING_WAREHOUSE_UNKNOWN.code, catalogue.ORDER_REJECTED_MAPPING.code},
    "ship_via": {catalogue.MAPPING_CARRIER_UNKNOWN.code, catalogue.ORDER_REJECTED_MAPPING.code},
}


def retry_order(order: Order, who: str = "") -> str:
    """Put a quarantined or rejected order back to waiting (compare-and-swap), or make a waiting
    one due now; the next send re-checks it from scratch. Returns what happened, in words."""
    by = f" by {who}" if who else ""
    now = timezone.now()
    for status in RETRYABLE:
        if Order.objects.filter(pk=order.pk, status=status).update(
            status=Status.RECEIVED, next_attempt_at=None, attempts=0, updated_at=now
        ):
            _event(order, status, Status.RECEIVED, f"Retry requested{by}; checking it again")
            return f"Order {order.ord_num} is waiting to be checked and sent again."
    if Order.objects.filter(pk=order.pk, status=Status.RECEIVED).update(next_attempt_at=None, updated_at=now):
        return f"Order {order.ord_num} was already waiting; it is now due at once."
    current = Order.objects.filter(pk=order.pk).values_list("status", flat=True).first()
    if current == Status.SENT and not Order.objects.filter(pk=order.pk, pick_ticket_at__isnull=False).exists():
        return f"Order {order.ord_num} is at Seko; Blue Cherry will be told again on the next run."
    label = Status(current).label.lower() if current else "gone"
    raise ActionRefused(f"Order {order.ord_num} is {label}; there is nothing to retry.")


WITHDRAWABLE = [Status.QUARANTINED, Status.REJECTED]
# Not yet at Seko: a person may fetch these again and send them now (a withdrawn one included,
# which is the way back from a withdrawal).
RETRANSMITTABLE = [*REWORKABLE, Status.WITHDRAWN]


def withdraw_order(order: Order, who: str, reason: str) -> str:
    """Take a held order out of fulfilment because a person chose to, rather than fix it: it is
    not sent, who, when and why are kept on it and its timeline, and its open exceptions close
    naming the withdrawal. A compare-and-swap from a held status, so an order a fix released
    meanwhile is not withdrawn by mistake. Blue Cherry is not told: its contract has no call to
    hold or un-release an order (docs/contracts/bluecherry.md), so the order stays RELEASED there
    until someone holds or cancels it in Blue Cherry (a cancel then moves it to cancelled here).
    Retransmit on the order's page sends a withdrawn order after all."""
    reason = (reason or "").strip()
    if not reason:
        raise ActionRefused("Say why the order is withdrawn: it is kept on the order for whoever asks later.")
    who = who or "someone"
    now = timezone.now()
    with transaction.atomic():
        for status in WITHDRAWABLE:
            if Order.objects.filter(pk=order.pk, status=status).update(
                status=Status.WITHDRAWN, withdrawn_at=now, withdrawn_by=who[:150], withdrawn_reason=reason,
                next_attempt_at=None, updated_at=now,
            ):
                _event(order, status, Status.WITHDRAWN, f"Withdrawn from fulfilment by {who}: {reason}")
                queue.auto_resolve(catalogue.order_key(order.ord_num), None,
                                   f"The order was withdrawn from fulfilment by {who}: {reason}")
                return (f"Order {order.ord_num} was withdrawn from fulfilment and will not be sent. Blue Cherry "
                        "still has it RELEASED: hold or cancel it there.")
    current = Order.objects.filter(pk=order.pk).values_list("status", flat=True).first()
    label = Status(current).label.lower() if current else "gone"
    raise ActionRefused(f"Order {order.ord_num} is {label}; only a held order (quarantined or rejected) can be "
                        "withdrawn. Nothing was changed.")


def retry_waiting_orders_now() -> int:
    """Orders waiting out a backoff (Seko was down) become due at once; returns how many."""
    return Order.objects.filter(status=Status.RECEIVED, next_attempt_at__isnull=False).update(next_attempt_at=None)


def retransmit_order(order: Order, who: str = "") -> Order:
    """Re-fetch the order from Blue Cherry, take that version, check it and send it now.

    Only for orders not yet at Seko (waiting, quarantined, rejected): iHub cannot amend an order
    after upload. A Blue Cherry failure raises ``ActionRefused`` with nothing written. Returns the
    order as it is afterwards (sent, quarantined, rejected, or waiting after a Seko hiccup)."""
    if order.status not in RETRANSMITTABLE:
        raise ActionRefused(f"Order {order.ord_num} is {Status(order.status).label.lower()}; only an order not yet "
                            "at Seko (waiting, quarantined, rejected or withdrawn) can be retransmitted.")
    try:
        with bluecherry_client() as client, about_order(order):
            payload = client.get_sales_order(order.ord_num)
    except ClientError as error:
        raise ActionRefused(f"Blue Cherry did not give order {order.ord_num}: {error}. Nothing was changed.") from error
    unreadable = order_record_problems(payload)
    if unreadable:
        raise ActionRefused(f"Blue Cherry's copy of {order.ord_num} cannot be read: {'; '.join(unreadable)}. "
                            "Nothing was changed.")
    if str(payload.get("status")) == "CANCELLED":
        take_cancel(payload)
        order.refresh_from_db()
        return order
    if str(payload.get("status")) != "RELEASED":
        raise ActionRefused(f"Blue Cherry has {order.ord_num} as {payload.get('status')}; only RELEASED orders are "
                            "sent. Nothing was changed.")
    by = f" by {who}" if who else ""
    now = timezone.now()
    with transaction.atomic():
        # Take Blue Cherry's version whatever its timestamp, then claim it for this request.
        if not Order.objects.filter(pk=order.pk, status=order.status).update(
            status=Status.SENDING, claimed_at=now, next_attempt_at=None, attempts=0, updated_at=now,
            bc_updated_at=cursors.parse_timestamp(payload.get("updated_at")), **_order_fields(payload),
        ):
            raise ActionRefused(f"Order {order.ord_num} changed while this was asked (a worker took it); "
                                "look again in a moment.")
        _replace_lines(order, payload)
        _event(order, order.status, Status.SENDING, f"Retransmit requested{by}: re-fetched from Blue Cherry")
    order.refresh_from_db()
    lookups = _lookups({line.sku for line in order.lines.all()})
    try:
        with seko_client() as seko, about_order(order):
            send_order(order, lookups, seko)
    except Exception:
        # Never leave it claimed: the workers take it from here, as after any failed send.
        log.exception("unexpected failure retransmitting %s", order.ord_num)
        _retry_later(order, "Unexpected error during a retransmit; see the web log")
        raise
    order.refresh_from_db()
    if order.status == Status.SENT:
        send_owed_pick_tickets()
        order.refresh_from_db()
    return order


def orders_blocked_by_mapping(*, location: str | None = None, ship_via: str | None = None) -> list[Order]:
    """The held orders that a saved, active mapping row for ``location`` or ``ship_via`` would
    unblock: those held for exactly that missing or refused mapping."""
    if (location is None) == (ship_via is None):
        raise ValueError("give exactly one of location or ship_via")
    field, value = ("location", location) if location is not None else ("ship_via", ship_via)
    held = Order.objects.filter(status__in=[Status.QUARANTINED, Status.REJECTED], **{field: value})
    kinds = MAPPING_BLOCK_KINDS[field]
    return [o for o in held.only("pk", "ord_num", "status", "problems")
            if any(p.get("kind") in kinds for p in o.problems)]


def count_orders_blocked_by_mapping(*, location: str | None = None, ship_via: str | None = None) -> int:
    """How many orders saving an active mapping row for this code releases (the editor's preview)."""
    return len(orders_blocked_by_mapping(location=location, ship_via=ship_via))
