"""The overdue monitor (DESIGN.md flow 5): orders a customer is still waiting for, past the SLA
of their ship-via, asked of Seko and raised as ``dispatch.overdue``.

The alert closes itself when the dispatch arrives (the dispatch flow resolves it, and so does
the next check once the order is no longer waiting).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from exceptions import catalogue
from exceptions import services as queue
from exceptions.models import IntegrationException
from integration.clients.errors import ClientError, NotFound
from integration.dispatches import overdue_words
from integration.models import CarrierMapping, Dispatch, Order, OrderEvent
from integration.shared.messagelog import about_order
from integration.shared.systems import seko_client

log = logging.getLogger(__name__)

# Orders a customer is still waiting for: released in Blue Cherry and not yet dispatched, whether
# they reached Seko or not. Not those being cancelled, cancelled, withdrawn by a person, or
# shipping after a cancel Seko refused (the customer cancelled: nobody chases that parcel).
WAITING = [Order.Status.RECEIVED, Order.Status.SENDING, Order.Status.QUARANTINED, Order.Status.REJECTED,
           Order.Status.SENT]
PROMISE_LONGEST = timedelta(days=30)  # further out than this is not a promise, it is giving up


# --- Overdue ---------------------------------------------------------------------------------

def sla_hours_by_ship_via() -> dict[str, float]:
    """The SLA of each Blue Cherry ship-via: per ship-via, else per service level, else the default."""
    overrides = settings.DISPATCH_SLA_BY_SERVICE
    result = {}
    for via, level in CarrierMapping.objects.values_list("bc_ship_via", "service_level"):
        result[via] = overrides.get(via, overrides.get(level, settings.DISPATCH_SLA_HOURS))
    return result


def sla_hours(ship_via: str, table: dict[str, float] | None = None) -> float:
    table = sla_hours_by_ship_via() if table is None else table
    return table.get(ship_via, settings.DISPATCH_SLA_HOURS)


def released_at(order: Order) -> datetime:
    """When the customer's clock started: when the integration first saw the order released in
    Blue Cherry (its row is created by that pull, which runs every minute). Blue Cherry keeps no
    release time of its own, and its ``order_date`` is when the order was placed, which may be
    days before a credit hold was lifted."""
    return order.created_at


@dataclass(frozen=True)
class OverdueOrder:
    order: Order
    sla_hours: float
    age: timedelta  # since it was released in Blue Cherry
    stage: overdue_words.Stage

    @property
    def age_hours(self) -> float:
        return self.age.total_seconds() / 3600

    @property
    def released_at(self) -> datetime:
        return released_at(self.order)

    @property
    def promised_by(self) -> datetime:
        """When the order should have left the warehouse: released plus its SLA, or the later
        time CX promised the customer."""
        return self.order.promised_dispatch_by or self.released_at + timedelta(hours=self.sla_hours)

    @property
    def promise_was_moved(self) -> bool:
        return self.order.promised_dispatch_by is not None

    @property
    def late_by(self) -> timedelta:
        return max(timedelta(0), self.released_at + self.age - self.promised_by)


def overdue_orders(now: datetime | None = None) -> list[OverdueOrder]:
    """Orders released in Blue Cherry longer ago than their SLA (or past the time CX promised
    instead) and not dispatched, wherever they are, oldest first."""
    now = now or timezone.now()
    table = sla_hours_by_ship_via()
    shortest = min([settings.DISPATCH_SLA_HOURS, *table.values()])
    # "Not dispatched" is checked here, not in SQL: with it in the query SQLite searched the
    # dispatched_at index (every cancelled and withdrawn order of the history has none: 45 ms at
    # a million orders) instead of the status index, which finds only the few in flight.
    candidates = list(
        Order.objects.filter(status__in=WAITING, cancel_requested_at__isnull=True)
        .filter(Q(created_at__lte=now - timedelta(hours=shortest)) | Q(promised_dispatch_by__lte=now))
        .order_by("created_at", "id"))
    judged = [_judge(order, table, now) for order in candidates if order.dispatched_at is None]
    late = [item for item in judged if item is not None]
    return _with_stages(late, now)


def _judge(order: Order, table: dict[str, float], now: datetime) -> OverdueOrder | None:
    hours = sla_hours(order.ship_via, table)
    item = OverdueOrder(order=order, sla_hours=hours, age=now - released_at(order), stage=overdue_words.NO_STAGE)
    return item if now > item.promised_by else None


def _with_stages(items: list[OverdueOrder], now: datetime) -> list[OverdueOrder]:
    """Each order with the stage it is in; two queries whatever the count."""
    orders = [item.order for item in items]
    dispatches = {order_id: status for order_id, status in Dispatch.objects.filter(
        order__in=[o for o in orders if o.status == Order.Status.SENT]).exclude(
        status=Dispatch.Status.POSTED).values_list("order_id", "status")}
    seko = {e.order_id: (str(e.problems[0].get("value") or "") if e.problems else "")
            for e in IntegrationException.objects.filter(kind=catalogue.DISPATCH_OVERDUE.code,
                                                         status=IntegrationException.Status.OPEN,
                                                         order_id__in=[o.pk for o in orders])}
    return [OverdueOrder(order=item.order, sla_hours=item.sla_hours, age=item.age,
                         stage=overdue_words.stage_of(item.order, dispatches.get(item.order.pk, ""),
                                                      seko.get(item.order.pk, ""), now))
            for item in items]


def is_overdue(order: Order, now: datetime | None = None) -> bool:
    """Whether the monitor would (re)raise ``dispatch.overdue`` for this order now."""
    now = now or timezone.now()
    if order.status not in WAITING or order.cancel_requested_at or order.dispatched_at:
        return False
    return _judge(order, sla_hours_by_ship_via(), now) is not None


def check_overdue(now: datetime | None = None) -> int:
    """Raise ``dispatch.overdue`` for each overdue order (with where it is: before Seko, held, or
    Seko's current status), close the ones no longer overdue; returns how many are overdue. An
    open alert is re-checked only every OVERDUE_RECHECK_MINUTES, so Seko is not asked about every
    order every run; Seko is asked only about orders it has."""
    now = now or timezone.now()
    overdue = overdue_orders(now)
    open_alerts = {e.trace_key: e for e in IntegrationException.objects.filter(
        kind=catalogue.DISPATCH_OVERDUE.code, status=IntegrationException.Status.OPEN)}
    due_keys = {catalogue.order_key(o.order.ord_num) for o in overdue}
    for key in set(open_alerts) - due_keys:
        queue.auto_resolve(key, [catalogue.DISPATCH_OVERDUE], "No longer overdue: dispatched, cancelled, withdrawn "
                                                              "or promised for later")
    recheck = now - timedelta(minutes=settings.OVERDUE_RECHECK_MINUTES)
    todo = [o for o in overdue if (alert := open_alerts.get(catalogue.order_key(o.order.ord_num))) is None
            or alert.last_seen_at < recheck]
    at_seko = [o for o in todo if o.order.status == Order.Status.SENT and o.stage.code == overdue_words.AT_SEKO]
    statuses: dict[int, str] = {}
    if at_seko:
        with seko_client() as seko:
            statuses = {item.order.pk: _seko_status(seko, item.order) for item in at_seko}
    for item in todo:
        _raise_overdue(item, statuses.get(item.order.pk, ""))
    return len(overdue)


def promise_later(order: Order, user: Any, until: datetime, note: str) -> str:
    """CX agreed a later dispatch time with the customer: lateness is measured against it from
    now on, and the open overdue alert closes with the person's note (it comes back, late against
    the new time, if the order has still not left by then). Refused, with nothing changed, for a
    time not in the future or too far out, without a note, or for an order no longer waiting."""
    note = (note or "").strip()
    now = timezone.now()
    if not note:
        raise queue.ActionRefused("Say what was agreed with the customer in the note. Nothing was changed.")
    if until <= now:
        raise queue.ActionRefused(f"The new promised time must be in the future (given {until:%Y-%m-%d %H:%M} "
                                  "UTC). Nothing was changed.")
    if until > now + PROMISE_LONGEST:
        raise queue.ActionRefused(f"Promise at most {PROMISE_LONGEST.days} days ahead; if the order will never "
                                  "leave, have it cancelled in Blue Cherry. Nothing was changed.")
    who = getattr(user, "username", "") or "someone"
    with transaction.atomic():
        # Compare-and-swap on the state it was judged in: not for an order that left meanwhile.
        if not Order.objects.filter(pk=order.pk, status__in=WAITING, cancel_requested_at__isnull=True,
                                    dispatched_at__isnull=True).update(promised_dispatch_by=until,
                                                                       updated_at=now):
            raise queue.ActionRefused(f"Order {order.ord_num} is no longer waiting for a dispatch; nothing to "
                                      "promise. Nothing was changed.")
        words = f"New dispatch time promised to the customer by {who}: {until:%Y-%m-%d %H:%M} UTC. {note}"
        OrderEvent.objects.create(order=order, from_status=order.status, to_status=order.status, note=words[:4000])
        alert = IntegrationException.objects.filter(kind=catalogue.DISPATCH_OVERDUE.code, order=order,
                                                    status=IntegrationException.Status.OPEN).first()
        if alert is not None:
            queue.resolve(alert, user, words)
    order.promised_dispatch_by = until
    return f"Order {order.ord_num}: promised to leave by {until:%Y-%m-%d %H:%M} UTC; off the Overdue page until then."


def _seko_status(seko: object, order: Order) -> str:
    with about_order(order):
        try:
            return seko.order_status(order.ord_num).status  # type: ignore[attr-defined]
        except NotFound:
            return "unknown to Seko"
        except ClientError as error:
            return f"not known (Seko did not answer: {error})"


def overdue_message(item: OverdueOrder, seko_status: str, shipping: overdue_words.Shipping) -> str:
    """What CX can tell the customer, in the words the Overdue page uses."""
    order = item.order
    carrier = shipping.carrier or "not known yet"
    tracking = shipping.tracking or "none yet"
    promise = ("the new time promised to the customer" if item.promise_was_moved
               else f"{order.ship_via} allows {overdue_words.duration_in_words(timedelta(hours=item.sla_hours))}")
    return (f"Order {order.ord_num} was promised to leave the warehouse by {item.promised_by:%Y-%m-%d %H:%M} UTC "
            f"and is {overdue_words.duration_in_words(item.late_by)} late (released in Blue Cherry "
            f"{overdue_words.duration_in_words(item.age)} ago; {promise}). "
            f"{item.stage.words}. "
            f"Carrier: {carrier}; tracking: {tracking}.")


def _raise_overdue(item: OverdueOrder, seko_status: str) -> None:
    order = item.order
    if item.stage.code in (overdue_words.AT_SEKO, ""):  # where Seko has it, as it just answered
        item = OverdueOrder(order=order, sla_hours=item.sla_hours, age=item.age,
                            stage=overdue_words.stage_of(order, "", seko_status, timezone.now()))
    shipping = overdue_words.shipping_of([order])[order.ord_num]
    message = overdue_message(item, seko_status, shipping)
    queue.raise_exception(
        catalogue.DISPATCH_OVERDUE, catalogue.order_key(order.ord_num), message, order=order,
        problems=[{"kind": catalogue.DISPATCH_OVERDUE.code, "message": message, "value": seko_status,
                   "stage": item.stage.code, "age_hours": round(item.age_hours, 1), "sla_hours": item.sla_hours,
                   "promised_by": item.promised_by.isoformat(),
                   "late_by": overdue_words.duration_in_words(item.late_by),
                   "carrier": shipping.carrier, "tracking": shipping.tracking}],
    )


def seko_status_of(order: Order) -> str:
    """Seko's status as the open overdue alert last saw it ("" when there is none)."""
    alert = IntegrationException.objects.filter(kind=catalogue.DISPATCH_OVERDUE.code, order=order,
                                                status=IntegrationException.Status.OPEN).first()
    if alert is None or not alert.problems:
        return ""
    return str(alert.problems[0].get("value") or "")
