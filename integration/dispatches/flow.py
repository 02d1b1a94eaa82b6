"""Flow 3, dispatch confirmation: Seko's dispatches -> one Blue Cherry shipment each.

The steps, in order (DESIGN.md):

1. The webhook (``integration/pushes/views.py``) stores each push raw and answers 202.
2. ``intake.process_pushes`` (intake.py): stored pushes split into parts, each part once; a
   DispatchConfirmation part is one whole dispatch, TrackingDetails fill in its tracking number,
   stock parts go to the stock flow.
3. ``post_due_dispatches``: claim a batch of dispatches (RECEIVED -> POSTING), check each
   against the data contract (``dispatch_rules``): quarantine with every problem listed, or map
   (``dispatch_mapper``) and post one shipment with ``wms_dispatch_id`` as Blue Cherry's
   idempotency key -> POSTED, the order DISPATCHED or PARTIALLY_DISPATCHED. A dispatch lacking
   only its tracking number first waits DISPATCH_TRACKING_WAIT_SECONDS for a TrackingDetails.
   Seko's courier and service map back to a ship-via by code or by the service in words; a
   different carrier than the order asked for is posted as Seko reports it, and noted. The same
   run sends Blue Cherry a tracking number that came after its shipment was posted
   (``send_tracking``), each dispatch on its own, retried later on failure.
4. ``poll_dispatches``: the safety net. Seko drops a push after three failed deliveries, so
   orders it reports dispatched that have no dispatch here are fetched and taken like a push.

Ops can fill in a missing carrier or tracking number and release a quarantined dispatch
(``release_dispatch``), which posts it at once.
"""

from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass
from datetime import UTC, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from exceptions import catalogue
from exceptions import services as queue
from integration.clients.bluecherry import BlueCherryClient
from integration.clients.errors import (
    ClientError,
    MalformedPayload,
    NotFound,
    Rejected,
    Transient,
    Unauthorized,
    Unsupported,
)
from integration.dispatches.intake import add_event, find_order, take_dispatch, tracking_rank
from integration.dispatches.mapper import LineOutcome, map_shipment
from integration.dispatches.rules import (
    INCOMPLETE,
    CarrierRow,
    OrderView,
    is_carrier_unmapped,
    only_tracking_missing,
    read_filled_date,
    resolve_carrier,
    text,
    validate_dispatch,
)
from integration.models import (
    CarrierMapping,
    Dispatch,
    InboundPush,
    Order,
    OrderEvent,
    OrderLine,
    PushPart,
    SyncCursor,
    WarehouseMapping,
)
from integration.orders.rules import Problem
from integration.shared import cursors, recovery
from integration.shared.concurrency import each_in_threads
from integration.shared.messagelog import about_order, buffered
from integration.shared.systems import bluecherry_client, seko_client

log = logging.getLogger(__name__)

POLL_CURSOR = "dispatches.poll"
SYNC_CURSOR = "dispatches.sync"  # its last success feeds the stalled-flow alert
DISPATCH_KINDS = [catalogue.DISPATCH_INCOMPLETE, catalogue.DISPATCH_UNKNOWN_ORDER, catalogue.DISPATCH_LINE_MISMATCH,
                  catalogue.DISPATCH_REJECTED]
# Orders whose dispatch may come: accepted by Seko and not yet dispatched here.
AWAITING_DISPATCH = [Order.Status.SENT, Order.Status.CANCEL_REFUSED]

DStatus = Dispatch.Status


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
    owed = claim_owed_tracking(limit or settings.DISPATCH_BATCH_SIZE)
    if not batch and not owed:
        return 0
    carriers = carrier_lookup()
    taken: list[Posted] = []  # appended by the threads (atomic for a list)

    def post_one(dispatch: Dispatch, bc: BlueCherryClient) -> None:
        try:
            with about_order(dispatch.order):
                if (post := post_to_bluecherry(dispatch, carriers, bc)) is not None:
                    taken.append(post)
        except Exception:
            log.exception("unexpected failure posting dispatch %s", dispatch.dispatch_id)
            _retry_later(dispatch, "Unexpected error; see the worker log")

    # Several posts in flight at once, as the order sends do: one at a time capped a worker at
    # ~7 dispatches a second at 150 ms a call, below a flash sale's dispatch rate, and held the
    # workers the order sends needed (bench/peakday.py, measured). Each dispatch is claimed
    # (POSTING) by this run alone and posted under its wms_dispatch_id, so no thread posts one twice.
    # What Blue Cherry took is recorded for the whole batch in one transaction at its end, its
    # message log in one bulk insert, and what the posts settle (the exceptions they close, Blue
    # Cherry answering) in a few statements: a transaction per dispatch in each of the threads
    # had them queue for SQLite's single write lock, most of a flash sale's waiting (profiled).
    # A worker dying after a post and before the record leaves its dispatches POSTING: they are
    # taken back and posted again under the same wms_dispatch_id, which Blue Cherry answers
    # with the first shipment's numbers (no second shipment or invoice).
    with buffered():
        each_in_threads(batch, post_one, client_factory=bluecherry_client,
                        threads=settings.DISPATCH_POST_CONCURRENCY)
        posted = record_posted(taken)
    settle_posted(posted)
    with bluecherry_client() as bc:  # one session for the tracking owed
        for dispatch in owed:  # each on its own: one that fails never holds up the others
            try:
                with about_order(dispatch.order):
                    send_tracking(dispatch, bc)
            except Exception:
                log.exception("unexpected failure sending tracking of dispatch %s", dispatch.dispatch_id)
                _tracking_later(dispatch, "Unexpected error; see the worker log")
    return len(batch) + len(owed)


def carrier_lookup() -> list[CarrierRow]:
    """The active carrier mappings, as the way back from Seko's courier and service needs them."""
    return [CarrierRow(via, name, service, description) for via, name, service, description in
            CarrierMapping.objects.filter(active=True).order_by("bc_ship_via").values_list(
                "bc_ship_via", "seko_courier_name", "seko_courier_service", "seko_service_description")]


def carriers_for(order: Order | None, active_rows: list[CarrierRow]) -> list[CarrierRow]:
    """The rows a dispatch of ``order`` is matched back through: the active ones and, when the
    order's own ship-via has no active row, that row as the order was sent with it (and as it is
    now). Deactivating a carrier stops new orders only: an order already at Seko on it still
    comes back as the ship-via it went out with."""
    if order is None or not order.ship_via or any(row.ship_via == order.ship_via for row in active_rows):
        return active_rows
    own: list[CarrierRow] = []
    if order.sent_at is not None:
        then = (CarrierMapping.history.filter(bc_ship_via=order.ship_via, history_date__lte=order.sent_at)
                .order_by("-history_date", "-history_id").first())
        if then is not None and then.history_type != "-":
            own.append(CarrierRow(then.bc_ship_via, then.seko_courier_name, then.seko_courier_service,
                                  then.seko_service_description))
    now = CarrierMapping.objects.filter(bc_ship_via=order.ship_via).first()
    if now is not None:
        row = CarrierRow(now.bc_ship_via, now.seko_courier_name, now.seko_courier_service,
                         now.seko_service_description)
        if row not in own:
            own.append(row)
    return [*own, *active_rows]


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


@dataclass(frozen=True)
class Posted:
    """A shipment Blue Cherry took, to be recorded (``record_posted``)."""
    dispatch: Dispatch
    order: Order
    body: dict[str, Any]
    outcomes: list[LineOutcome]
    result: dict[str, Any]
    carrier_note: str = ""


def post_dispatch(dispatch: Dispatch, carriers: list[CarrierRow], bc: BlueCherryClient) -> bool:
    """Check a claimed (POSTING) dispatch, then quarantine it or post it to Blue Cherry once,
    and record it; True when it was posted."""
    post = post_to_bluecherry(dispatch, carriers, bc)
    if post is None or not record_posted([post]):
        return False
    settle_posted([dispatch])
    return True


def post_to_bluecherry(dispatch: Dispatch, carriers: list[CarrierRow], bc: BlueCherryClient) -> Posted | None:
    """Check a claimed (POSTING) dispatch, then quarantine it, put it back for later, or post it
    to Blue Cherry; what Blue Cherry took is returned for ``record_posted``."""
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
        return None
    view = order_view(order)
    confirmation = dispatch.effective
    carriers = carriers_for(order, carriers)
    problems = validate_dispatch(confirmation, view, carriers)
    if only_tracking_missing(problems) and _waits_for_tracking(dispatch):
        return None
    if problems:
        quarantine(dispatch, problems)
        return None
    assert view is not None and order is not None  # validate_dispatch refuses a dispatch without an order
    carrier = resolve_carrier(text(confirmation.get("CourierName")), text(confirmation.get("CourierService")),
                              carriers, order.ship_via)
    assert carrier is not None  # validate_dispatch refuses a carrier with no ship-via
    body, outcomes = map_shipment(confirmation, view, carrier.ship_via)
    if order.status == Order.Status.CANCEL_REFUSED:
        # Cancelled in Blue Cherry, but the warehouse refused the cancel and shipped it: Blue
        # Cherry takes the shipment all the same when told so, so the invoice (and a return
        # against it) can follow instead of a refusal for ops.
        body["cancel_refused"] = True
    try:
        result = bc.create_shipment(body)
    except Rejected as error:  # 422/409: Blue Cherry will not take it until someone acts
        details = "; ".join(str(d.get("message", d)) for d in error.details if isinstance(d, dict))
        message = f"Blue Cherry refused the shipment: {error.remote_message}" + (f" ({details})" if details else "")
        quarantine(dispatch, [Problem(catalogue.DISPATCH_REJECTED.code, message)],
                   request_payload=json.dumps(body, indent=2),
                   response_payload=error.exchange.response_body if error.exchange else "")
        return None
    except Unauthorized as error:
        queue.raise_exception(catalogue.TRANSPORT_UNAUTHORIZED, catalogue.system_key("bluecherry"), str(error))
        _retry_later(dispatch, str(error))
        return None
    except (Transient, MalformedPayload) as error:  # safe to repeat: wms_dispatch_id is the key
        _retry_later(dispatch, str(error), transient=error)
        return None
    return Posted(dispatch, order, body, outcomes, result, carrier.note)


def record_posted(posts: list[Posted]) -> list[Dispatch]:
    """Record what Blue Cherry took, in one transaction; returns the dispatches recorded. The
    whole batch first, in a few statements (a handful per dispatch, eight hundred for a batch of
    a hundred, held SQLite's write lock while the order sends waited; profiled). Should that
    fail, each dispatch on its own in a savepoint, so one that fails to record never undoes the
    others. One no longer this run's, its claim taken back meanwhile, is left as it is."""
    if not posts:
        return []
    try:
        with transaction.atomic():
            return record_batch(posts)
    except Exception:
        log.exception("recording %d posted dispatches together failed; recording each on its own", len(posts))
    recorded: list[Dispatch] = []
    with transaction.atomic():
        for post in posts:
            try:
                with transaction.atomic(), about_order(post.order):
                    if _record_one(post):
                        recorded.append(post.dispatch)
            except Exception:  # posted again later under the same id: Blue Cherry answers the first numbers
                log.exception("unexpected failure recording dispatch %s", post.dispatch.dispatch_id)
                _retry_later(post.dispatch, "Unexpected error; see the worker log")
    return recorded


def record_batch(posts: list[Posted]) -> list[Dispatch]:
    """``_record_one`` for every post at once, inside the caller's transaction: the dispatches
    still POSTING are read under lock (SQLite's IMMEDIATE transaction holds the write lock; on
    PostgreSQL, FOR UPDATE), so the compare-and-swap holds for each of them."""
    now = timezone.now()
    by_pk = {post.dispatch.pk: post for post in posts}
    still_posting = list(Dispatch.objects.select_for_update().filter(pk__in=by_pk, status=DStatus.POSTING)
                         .only("pk", "status", "confirmation", "overrides"))
    for lost in by_pk.keys() - {dispatch.pk for dispatch in still_posting}:
        log.warning("dispatch %s was no longer POSTING when Blue Cherry took it", by_pk[lost].dispatch.dispatch_id)
    if not still_posting:
        return []
    ours = [by_pk[dispatch.pk] for dispatch in still_posting]
    recorded_fields: list[str] = []
    for dispatch in still_posting:
        fields = posted_fields(by_pk[dispatch.pk], dispatch, now)
        for name, value in fields.items():
            setattr(dispatch, name, value)
        recorded_fields = list(fields)
    Dispatch.objects.bulk_update(still_posting, recorded_fields)
    increments: dict[tuple[int, int], tuple[int, int]] = {}
    for post in ours:
        for outcome in post.outcomes:
            shipped, cancelled = increments.get((post.order.pk, outcome.line_no), (0, 0))
            increments[(post.order.pk, outcome.line_no)] = (shipped + outcome.shipped, cancelled + outcome.cancelled)
    line_pks = {(order_id, line_no): pk for order_id, line_no, pk in OrderLine.objects.filter(
        order_id__in={post.order.pk for post in ours}).values_list("order_id", "line_no", "pk")}
    by_line = {line_pks[key]: added for key, added in increments.items() if key in line_pks}
    if by_line:
        OrderLine.objects.filter(pk__in=by_line).update(
            qty_shipped=F("qty_shipped") + Case(*[When(pk=pk, then=Value(added[0])) for pk, added in by_line.items()],
                                                default=Value(0)),
            qty_cancelled=F("qty_cancelled") + Case(*[When(pk=pk, then=Value(added[1]))
                                                      for pk, added in by_line.items()], default=Value(0)))
    for new_status in {status_after(post) for post in ours}:
        Order.objects.filter(pk__in=[post.order.pk for post in ours if status_after(post) == new_status],
                             status__in=AWAITING_DISPATCH).update(status=new_status, dispatched_at=now, updated_at=now)
    OrderEvent.objects.bulk_create([
        OrderEvent(order=post.order, from_status=post.order.status, to_status=status_after(post),
                   note=posted_note(post)[:4000]) for post in ours])
    return [post.dispatch for post in ours]


def status_after(post: Posted) -> str:
    """The order's status once the shipment is recorded: partly dispatched when a line was cut."""
    short = any(o.cancelled for o in post.outcomes)
    return Order.Status.PARTIALLY_DISPATCHED if short else Order.Status.DISPATCHED


def posted_fields(post: Posted, current: Dispatch, now: Any) -> dict[str, Any]:
    """What a posted dispatch records; ``current`` is it as read now: tracking may have come
    while the shipment was on its way, and then Blue Cherry owes it."""
    posted_tracking = next(iter(post.body.get("tracking_numbers") or []), "")
    now_tracking = text(current.effective.get("TrackingNumber"))
    return {"status": DStatus.POSTED, "shipment": post.body, "short": any(o.cancelled for o in post.outcomes),
            "posted_at": now, "problems": [], "last_error": "",
            "bc_ship_num": str(post.result.get("ship_num") or "")[:40],
            "bc_invoice_num": str(post.result.get("invoice_num") or "")[:40],
            "bc_tracking_number": posted_tracking[:100],
            "tracking_sent_at": now if now_tracking == posted_tracking else None, "next_attempt_at": None}


def posted_note(post: Posted) -> str:
    """The order's timeline entry for a recorded shipment."""
    outcomes, result = post.outcomes, post.result
    shipped = ", ".join(f"line {o.line_no} {o.sku} {o.shipped}/{o.open}" for o in outcomes)
    cancelled = ", ".join(f"line {o.line_no} {o.sku} x{o.cancelled}" for o in outcomes if o.cancelled)
    note = (f"Dispatch {post.dispatch.dispatch_id} posted to Blue Cherry as shipment {result.get('ship_num')}, "
            f"invoice {result.get('invoice_num')}. Shipped: {shipped}.")
    if cancelled:
        note += f" Not shipped, remainder cancelled: {cancelled}."
    if post.carrier_note:
        note += f" {post.carrier_note}"
    if post.order.status == Order.Status.CANCEL_REFUSED:
        note += (" It shipped after the cancel Seko refused: Blue Cherry took the shipment against the cancelled "
                 "order and invoiced it, so a return can be raised against that invoice.")
    return note


def _record_one(post: Posted) -> bool:
    """``record_batch`` for one post, each step a statement of its own (the fallback)."""
    dispatch, order = post.dispatch, post.order
    now = timezone.now()
    current = Dispatch.objects.get(pk=dispatch.pk)
    if not Dispatch.objects.filter(pk=dispatch.pk, status=DStatus.POSTING).update(**posted_fields(post, current, now)):
        log.warning("dispatch %s was no longer POSTING when Blue Cherry took it", dispatch.dispatch_id)
        return False
    for outcome in post.outcomes:
        OrderLine.objects.filter(order=order, line_no=outcome.line_no).update(
            qty_shipped=F("qty_shipped") + outcome.shipped, qty_cancelled=F("qty_cancelled") + outcome.cancelled)
    old, new_status = order.status, status_after(post)
    Order.objects.filter(pk=order.pk, status__in=AWAITING_DISPATCH).update(
        status=new_status, dispatched_at=now, updated_at=now)
    add_event(order, old, new_status, posted_note(post))
    return True


def settle_posted(posted: list[Dispatch]) -> None:
    """After dispatches were posted: close what they answer (their own exceptions, their orders'
    overdue, Blue Cherry being down) and let a marked outage end."""
    if not posted:
        return
    queue.auto_resolve_many([catalogue.dispatch_key(d.dispatch_id) for d in posted], DISPATCH_KINDS,
                            "Posted to Blue Cherry")
    queue.auto_resolve_many([catalogue.order_key(d.order.ord_num) for d in posted if d.order is not None],
                            [catalogue.DISPATCH_OVERDUE], "The dispatch arrived")
    queue.auto_resolve(catalogue.system_key("bluecherry"), [catalogue.TRANSPORT_BLUECHERRY_UNAVAILABLE,
                                                            catalogue.TRANSPORT_UNAUTHORIZED], "Blue Cherry answered")
    recovery.system_answered(recovery.BLUECHERRY)


@transaction.atomic  # the held status and its exceptions land together, or not at all
def quarantine(dispatch: Dispatch, problems: list[Problem], *, request_payload: str = "",
               response_payload: str = "") -> None:
    """Hold a dispatch that must not be posted: one exception per kind, every problem listed,
    the confirmation kept on it. ``dispatch`` is as it was when it was checked."""
    if not Dispatch.objects.filter(pk=dispatch.pk, status=DStatus.POSTING).update(
            status=DStatus.QUARANTINED, problems=[p.as_dict() for p in problems], updated_at=timezone.now()):
        return
    key = catalogue.dispatch_key(dispatch.dispatch_id)
    by_kind: dict[str, list[Problem]] = {}
    for problem in problems:
        by_kind.setdefault(problem.kind, []).append(problem)
    queue.auto_resolve(key, [k for k in DISPATCH_KINDS if k.code not in by_kind],
                       "No longer found when checked again; it is now quarantined as " + ", ".join(sorted(by_kind)))
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
        add_event(order, order.status, order.status,
               f"Dispatch {dispatch.dispatch_id} quarantined: " + " ".join(p.message for p in problems))
    if all(p.kind == INCOMPLETE for p in problems):
        checked = dispatch.effective
        transaction.on_commit(lambda: check_again_if_filled_meanwhile(dispatch.pk, checked), robust=True)


def check_again_if_filled_meanwhile(dispatch_pk: int, checked: dict[str, Any]) -> bool:
    """A TrackingDetails (or a person's fill-in) laid over a dispatch while it was being checked
    with what was read before: the tracking write saw it not yet held and did not send it back,
    so after its hold is committed the dispatch looks again, and goes back to be checked when
    what it was checked with has changed. One of the two always sees the other's write."""
    current = Dispatch.objects.filter(pk=dispatch_pk, status=DStatus.QUARANTINED).first()
    if current is None or current.effective == checked:
        return False
    requeued = Dispatch.objects.filter(pk=dispatch_pk, status=DStatus.QUARANTINED).update(
        status=DStatus.RECEIVED, next_attempt_at=None)
    if requeued and current.order is not None:
        add_event(current.order, current.order.status, current.order.status,
               f"Dispatch {current.dispatch_id} was filled in while it was being checked; checking it again")
    return bool(requeued)


def _retry_later(dispatch: Dispatch, reason: str, transient: ClientError | None = None) -> None:
    attempts = dispatch.attempts + 1
    delay = min(settings.RETRY_MAX_SECONDS, settings.RETRY_BASE_SECONDS * 2 ** min(attempts - 1, 32))
    if isinstance(transient, Transient) and transient.retry_after:
        delay = max(delay, transient.retry_after)
    delay = random.uniform(delay / 2, delay)
    waits = Dispatch.objects.filter(pk=dispatch.pk, status=DStatus.POSTING).update(
        status=DStatus.RECEIVED, attempts=attempts, next_attempt_at=timezone.now() + timedelta(seconds=delay),
        last_error=reason[:2000])
    if waits and transient is not None:
        recovery.note_outage(recovery.BLUECHERRY, reason)  # released at once when Blue Cherry answers again
    if transient is not None and attempts >= settings.TRANSIENT_ALERT_AFTER:
        queue.raise_exception(
            catalogue.TRANSPORT_BLUECHERRY_UNAVAILABLE, catalogue.system_key("bluecherry"),
            f"Blue Cherry did not take shipments (last: {reason}). They are retried on their own.")


def _waits_for_tracking(dispatch: Dispatch) -> bool:
    """Seko may send a dispatch's tracking number in its own later push ("Push Tracking Details"):
    a claimed dispatch lacking only that waits DISPATCH_TRACKING_WAIT_SECONDS from its arrival
    before it is quarantined. True when it was put back to wait."""
    wait_until = dispatch.created_at + timedelta(seconds=settings.DISPATCH_TRACKING_WAIT_SECONDS)
    if timezone.now() >= wait_until:
        return False
    note = f"No tracking number yet: waiting for Seko's TrackingDetails until {wait_until:%Y-%m-%d %H:%M:%S} UTC"
    waiting = Dispatch.objects.filter(pk=dispatch.pk, status=DStatus.POSTING).update(
        status=DStatus.RECEIVED, next_attempt_at=wait_until, last_error=note)
    if waiting and dispatch.last_error != note and dispatch.order is not None:
        order = dispatch.order
        add_event(order, order.status, order.status, f"Dispatch {dispatch.dispatch_id}: {note}")
    return bool(waiting)


def claim_owed_tracking(limit: int) -> list[Dispatch]:
    """Posted dispatches whose tracking number may differ from the one Blue Cherry holds
    (``tracking_sent_at`` cleared when a new one came), due now. Each is claimed by moving its
    ``next_attempt_at`` on by a lease (compare-and-swap), so two workers never send the same one."""
    now = timezone.now()
    candidates = list(
        Dispatch.objects.filter(status=DStatus.POSTED, tracking_sent_at__isnull=True).exclude(bc_ship_num="")
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .order_by("posted_at", "id").values_list("pk", "next_attempt_at")[: limit * 2]
    )
    lease = now + timedelta(seconds=settings.ORDER_LEASE_SECONDS)
    claimed = []
    for pk, due in candidates:
        if Dispatch.objects.filter(pk=pk, status=DStatus.POSTED, tracking_sent_at__isnull=True,
                                   next_attempt_at=due).update(next_attempt_at=lease):
            claimed.append(pk)
            if len(claimed) == limit:
                break
    return list(Dispatch.objects.filter(pk__in=claimed).select_related("order").order_by("posted_at", "id"))


def send_tracking(dispatch: Dispatch, bc: BlueCherryClient) -> None:
    """Give Blue Cherry's shipment the dispatch's tracking number when it holds another (or none).
    The call sets the shipment's list, so a repeat changes nothing."""
    current = Dispatch.objects.select_related("order").get(pk=dispatch.pk)
    tracking = text(current.effective.get("TrackingNumber"))
    if not tracking or tracking == current.bc_tracking_number:
        _tracking_settled(current, current.bc_tracking_number)
        return
    try:
        bc.update_shipment_tracking(current.bc_ship_num, [tracking])
    except Rejected as error:  # 404/422: it will not take it until someone acts
        message = (f"Blue Cherry refused tracking number {tracking} for shipment {current.bc_ship_num} "
                   f"(dispatch {current.dispatch_id}): {error.remote_message}")
        queue.raise_exception(catalogue.DISPATCH_TRACKING_REJECTED, catalogue.dispatch_key(current.dispatch_id),
                              message, order=current.order,
                              response_payload=error.exchange.response_body if error.exchange else "")
        _tracking_later(current, message, delay=settings.RETRY_MAX_SECONDS)
        return
    except Unauthorized as error:
        queue.raise_exception(catalogue.TRANSPORT_UNAUTHORIZED, catalogue.system_key("bluecherry"), str(error))
        _tracking_later(current, str(error))
        return
    except (Transient, MalformedPayload) as error:  # safe to repeat: the list is set, not added to
        _tracking_later(current, str(error), transient=error)
        return
    _tracking_settled(current, tracking)
    queue.auto_resolve(catalogue.dispatch_key(current.dispatch_id), [catalogue.DISPATCH_TRACKING_REJECTED],
                       "Blue Cherry took the tracking number")
    if current.order is not None:
        was = f" (it held {current.bc_tracking_number})" if current.bc_tracking_number else " (it held none)"
        add_event(current.order, current.order.status, current.order.status,
               f"Tracking {tracking} of dispatch {current.dispatch_id} sent to Blue Cherry shipment "
               f"{current.bc_ship_num}{was}")


def _tracking_settled(current: Dispatch, held: str) -> None:
    """Blue Cherry holds ``held``. Settled only if no newer tracking came meanwhile (updated_at
    is moved by every tracking laid over the dispatch); otherwise it is checked again."""
    now = timezone.now()
    if not Dispatch.objects.filter(pk=current.pk, updated_at=current.updated_at).update(
            bc_tracking_number=held[:100], tracking_sent_at=now, next_attempt_at=None):
        Dispatch.objects.filter(pk=current.pk).update(bc_tracking_number=held[:100], next_attempt_at=None)


def _tracking_later(dispatch: Dispatch, reason: str, transient: ClientError | None = None,
                    delay: float | None = None) -> None:
    """Try the tracking update again later, backing off; other dispatches go on meanwhile."""
    attempts = dispatch.attempts + 1
    wait = delay or min(settings.RETRY_MAX_SECONDS, settings.RETRY_BASE_SECONDS * 2 ** min(attempts - 1, 32))
    if isinstance(transient, Transient) and transient.retry_after:
        wait = max(wait, transient.retry_after)
    Dispatch.objects.filter(pk=dispatch.pk, status=DStatus.POSTED).update(
        attempts=attempts, next_attempt_at=timezone.now() + timedelta(seconds=random.uniform(wait / 2, wait)),
        last_error=reason[:2000])
    if transient is not None and attempts >= settings.TRANSIENT_ALERT_AFTER:
        queue.raise_exception(
            catalogue.TRANSPORT_BLUECHERRY_UNAVAILABLE, catalogue.system_key("bluecherry"),
            f"Blue Cherry did not take tracking updates (last: {reason}). They are retried on their own.")


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

# Every field the data contract requires of Seko's confirmation (dispatch_rules) that a person
# can know: a dispatch held for any of them can be filled in and released.
FILLABLE = ("DispatchDate", "CourierName", "CourierService", "TrackingNumber")


def read_fill(fill: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """What a person typed, as it is laid over the confirmation, and why any of it cannot be used
    (a date that cannot be read, or in the future). Empty fields fill in nothing."""
    values = {key: text(value) for key, value in fill.items() if key in FILLABLE and text(value)}
    refusals = []
    if "DispatchDate" in values:
        values["DispatchDate"], why = read_filled_date(values["DispatchDate"], timezone.now())
        if why:
            refusals.append(why)
            del values["DispatchDate"]
    return values, refusals


@dataclass(frozen=True)
class Offer:
    """A value the release form offers for a field, and where it comes from."""

    value: str
    label: str


def offered_values(dispatch: Dispatch) -> dict[str, list[Offer]]:
    """For each fillable field, the values the order itself gives: the carrier it was sent with
    (and the other carrier rows), the day it was sent to Seko and today for the dispatch date,
    a tracking number Seko sent in a TrackingDetails."""
    order = dispatch.order
    offers: dict[str, list[Offer]] = {key: [] for key in FILLABLE}
    rows = carriers_for(order, carrier_lookup())
    own_ship_via = order.ship_via if order is not None else ""
    for row in sorted(rows, key=lambda row: row.ship_via != own_ship_via):  # the order's own first
        why = (f"the order's own carrier, ship-via {row.ship_via}" if row.ship_via == own_ship_via
               else f"carrier row {row.ship_via}")
        for key, value in (("CourierName", row.courier_name), ("CourierService", row.service_code)):
            if value and value not in [offer.value for offer in offers[key]]:
                offers[key].append(Offer(value, why))
    today = timezone.now().date().isoformat()
    if order is not None and order.sent_at is not None:
        sent = order.sent_at.astimezone(UTC).date().isoformat()
        offers["DispatchDate"].append(Offer(sent, "the day the order was sent to Seko"))
    if not any(offer.value == today for offer in offers["DispatchDate"]):
        offers["DispatchDate"].append(Offer(today, "today"))
    tracking = PushPart.objects.filter(type=PushPart.TRACKING, sales_order_number=dispatch.ord_num) \
        if dispatch.ord_num else PushPart.objects.none()
    for part in sorted(tracking, key=tracking_rank, reverse=True):
        number = text(part.fields.get("TrackingNumber"))
        if number and number not in [offer.value for offer in offers["TrackingNumber"]]:
            offers["TrackingNumber"].append(Offer(number, "sent by Seko in a tracking message"))
    return offers


def release_dispatch(dispatch: Dispatch, user: Any, fill: dict[str, str]) -> Dispatch:
    """Lay what ops filled in over a quarantined dispatch and post it now. Returns the dispatch
    as it ended (POSTED, or QUARANTINED again with what is still wrong). A value that cannot be
    used is left out (the screen refuses it first, with ``read_fill``'s words)."""
    values, _ = read_fill(fill)
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
        add_event(current.order, current.order.status, current.order.status,
               f"Dispatch {current.dispatch_id} released by {who} ({filled})")
    with bluecherry_client() as bc, about_order(current.order):
        post_dispatch(current, carrier_lookup(), bc)
    return Dispatch.objects.get(pk=dispatch.pk)


def held_for_carrier() -> list[Dispatch]:
    """The quarantined dispatches one of whose problems is that no carrier row maps them back."""
    return [dispatch for dispatch in Dispatch.objects.filter(status=DStatus.QUARANTINED).select_related("order")
            if any(isinstance(p, dict) and is_carrier_unmapped(p) for p in dispatch.problems)]


class SetAsideRefused(Exception):
    """The dispatch cannot be set aside now; the message says why. Nothing was written."""


def set_aside(dispatch_id: str, who: str, reason: str) -> str:
    """A person settled a held dispatch outside the integration (the shipment keyed by hand in
    Blue Cherry, or Seko shipped something we never sent): it leaves the hold as SET_ASIDE, by
    compare-and-swap, never to be posted, with who and why on its order's timeline. The caller
    closes the exception that held it, in the same transaction."""
    dispatch = Dispatch.objects.select_related("order").filter(dispatch_id=dispatch_id).first()
    if dispatch is None or not Dispatch.objects.filter(pk=dispatch.pk, status=DStatus.QUARANTINED).update(
            status=DStatus.SET_ASIDE, last_error=f"Set aside by {who}: {reason}"[:2000], updated_at=timezone.now()):
        raise SetAsideRefused(f"Dispatch {dispatch_id} is no longer held (it was posted or released meanwhile); "
                              "nothing was changed.")
    queue.auto_resolve(catalogue.dispatch_key(dispatch_id), DISPATCH_KINDS,
                       f"The dispatch was set aside by {who}, settled by hand: {reason}")
    if dispatch.order is not None:
        add_event(dispatch.order, dispatch.order.status, dispatch.order.status,
               f"Dispatch {dispatch_id} set aside by {who}, settled by hand and never posted: {reason}")
    return f"Dispatch {dispatch_id} was set aside by {who} and will not be posted."


def release_dispatches_held_for_carrier() -> int:
    """Send back to be checked every held dispatch that no carrier row mapped back, then post
    what is due: run when a carrier row is saved active or reactivated, so the dispatches it
    may now match are not left waiting for a person. Returns how many went back."""
    requeued = 0
    for dispatch in held_for_carrier():
        if Dispatch.objects.filter(pk=dispatch.pk, status=DStatus.QUARANTINED).update(
                status=DStatus.RECEIVED, next_attempt_at=None):
            requeued += 1
            if dispatch.order is not None:
                add_event(dispatch.order, dispatch.order.status, dispatch.order.status,
                       f"A carrier row was saved active; dispatch {dispatch.dispatch_id}, held because no carrier "
                       "row mapped it back, is checked again")
    if requeued:
        while post_due_dispatches():
            pass
    return requeued


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
            dcs = dcs_to_poll()
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


def dcs_to_poll() -> list[str]:
    """The active rows' DCs, and every DC an order still awaiting its dispatch was sent to: a
    warehouse row deactivated since still has those orders' dispatches to come back."""
    active = set(WarehouseMapping.objects.filter(active=True).values_list("seko_dc_code", flat=True))
    sent_to = set(Order.objects.filter(status__in=AWAITING_DISPATCH).exclude(seko_dc_code="")
                  .values_list("seko_dc_code", flat=True).distinct())
    return sorted(active | sent_to)


def _recover(seko: Any, guid: str | None, sales_order_number: str | None) -> int:
    """Fetch and take the dispatch of one order Seko reports dispatched, unless we have it."""
    order = Order.objects.filter(seko_guid=guid).first() if guid else None
    if order is None and sales_order_number:
        order = Order.objects.filter(ord_num=sales_order_number).first()
    if order is None:
        log.info("poll: Seko dispatched an order we do not know (GUID %s)", guid)
        return 0
    # An order whose only dispatch is held here is fetched again: Seko's copy may have been
    # corrected since (a held dispatch is never the end of it; a posted one is).
    if order.dispatches.exclude(status=DStatus.QUARANTINED).exists() or order.status not in AWAITING_DISPATCH:
        return 0
    key = catalogue.endpoint_key("seko", "order_dispatch")
    with about_order(order):
        try:
            confirmation = seko.order_dispatch(order.ord_num)
        except NotFound:
            return 0
        except Unsupported as error:
            # No Seko page documents this fetch. Without it the poll still learns which orders
            # were dispatched but cannot read a dispatch whose push was dropped: say so, loudly.
            queue.raise_exception(
                catalogue.SYNC_ENDPOINT_UNSUPPORTED, key,
                f"Seko has no endpoint to fetch one order's dispatch ({error}). The dispatch poll cannot recover "
                f"a dispatch whose push was lost: Seko reports {order.ord_num} dispatched and we have no "
                "dispatch for it. Ask Seko to push it again.",
                order=order,
            )
            return 0
    queue.auto_resolve(key, [catalogue.SYNC_ENDPOINT_UNSUPPORTED], "Seko answered the dispatch fetch again")
    _, created = take_dispatch(confirmation, Dispatch.Source.POLL)
    return int(created)


def mark_sync_success() -> None:
    SyncCursor.objects.get_or_create(name=SYNC_CURSOR)
    now = timezone.now()
    SyncCursor.objects.filter(name=SYNC_CURSOR).update(last_run_at=now, last_success_at=now, last_error="")
