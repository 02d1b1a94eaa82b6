"""Monitoring alerts (DESIGN.md flow 5): orders overdue at the warehouse, flows that stalled.

Both close themselves: an overdue alert when the dispatch arrives (the dispatch flow resolves
it, and so does the next check once the order is no longer waiting), a stalled alert on the
flow's next success.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from exceptions import catalogue
from exceptions import services as queue
from exceptions.models import IntegrationException
from integration.clients import seko_client
from integration.clients.errors import ClientError, NotFound
from integration.messagelog import about_order
from integration.models import CarrierMapping, Order, SyncCursor

log = logging.getLogger(__name__)

# Orders waiting for their dispatch: accepted by Seko, not dispatched or cancelled since.
WAITING = [Order.Status.SENT, Order.Status.CANCEL_REFUSED]


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


@dataclass(frozen=True)
class OverdueOrder:
    order: Order
    sla_hours: float
    age: timedelta

    @property
    def age_hours(self) -> float:
        return self.age.total_seconds() / 3600


def overdue_orders(now: datetime | None = None) -> list[OverdueOrder]:
    """Orders sent for fulfilment longer ago than their SLA and not dispatched, oldest first."""
    now = now or timezone.now()
    table = sla_hours_by_ship_via()
    shortest = min([settings.DISPATCH_SLA_HOURS, *table.values()])
    candidates = Order.objects.filter(status__in=WAITING, sent_at__lte=now - timedelta(hours=shortest),
                                      dispatched_at__isnull=True).order_by("sent_at", "id")
    result = []
    for order in candidates:
        hours = sla_hours(order.ship_via, table)
        age = now - order.sent_at
        if age > timedelta(hours=hours):
            result.append(OverdueOrder(order=order, sla_hours=hours, age=age))
    return result


def check_overdue(now: datetime | None = None) -> int:
    """Raise ``dispatch.overdue`` for each overdue order (with Seko's current status), close the
    ones no longer waiting; returns how many are overdue. An open alert is re-checked against
    Seko only every OVERDUE_RECHECK_MINUTES, so Seko is not asked about every order every run."""
    now = now or timezone.now()
    overdue = overdue_orders(now)
    open_alerts = {e.trace_key: e for e in IntegrationException.objects.filter(
        kind=catalogue.DISPATCH_OVERDUE.code, status=IntegrationException.Status.OPEN)}
    due_keys = {catalogue.order_key(o.order.ord_num) for o in overdue}
    for key in set(open_alerts) - due_keys:
        queue.auto_resolve(key, [catalogue.DISPATCH_OVERDUE], "No longer waiting for a dispatch")
    recheck = now - timedelta(minutes=settings.OVERDUE_RECHECK_MINUTES)
    todo = [o for o in overdue if (alert := open_alerts.get(catalogue.order_key(o.order.ord_num))) is None
            or alert.last_seen_at < recheck]
    if todo:
        with seko_client() as seko:
            for item in todo:
                _raise_overdue(item, _seko_status(seko, item.order))
    return len(overdue)


def _seko_status(seko: object, order: Order) -> str:
    with about_order(order):
        try:
            return seko.order_status(order.ord_num).status  # type: ignore[attr-defined]
        except NotFound:
            return "unknown to Seko"
        except ClientError as error:
            return f"not known (Seko did not answer: {error})"


def _raise_overdue(item: OverdueOrder, seko_status: str) -> None:
    order = item.order
    message = (f"Order {order.ord_num} was sent for fulfilment {item.age_hours:.1f} hours ago "
               f"(SLA {item.sla_hours:g} h for {order.ship_via}) and has not been dispatched. "
               f"Seko's status: {seko_status}.")
    queue.raise_exception(
        catalogue.DISPATCH_OVERDUE, catalogue.order_key(order.ord_num), message, order=order,
        problems=[{"kind": catalogue.DISPATCH_OVERDUE.code, "message": message, "value": seko_status,
                   "age_hours": round(item.age_hours, 1), "sla_hours": item.sla_hours}],
    )


def seko_status_of(order: Order) -> str:
    """Seko's status as the open overdue alert last saw it ("" when there is none)."""
    alert = IntegrationException.objects.filter(kind=catalogue.DISPATCH_OVERDUE.code, order=order,
                                                status=IntegrationException.Status.OPEN).first()
    if alert is None or not alert.problems:
        return ""
    return str(alert.problems[0].get("value") or "")


# --- Stalled ---------------------------------------------------------------------------------

def flow_intervals() -> dict[str, float]:
    """Each watched flow (its cursor name) and the minutes between its scheduled runs."""
    sync = float(settings.SYNC_INTERVAL_MINUTES)
    return {"items": sync, "orders.released": sync, "orders.cancelled": sync, "dispatches.sync": sync,
            "dispatches.poll": float(settings.DISPATCH_POLL_MINUTES)}


def check_stalled(now: datetime | None = None) -> int:
    """Raise ``sync.stalled`` for each flow without a success within twice its interval, and
    close it for each that has succeeded since; returns how many are stalled. A flow that has
    never run is not judged (the schedule may not have reached it yet)."""
    now = now or timezone.now()
    intervals = flow_intervals()
    stalled = 0
    for cursor in SyncCursor.objects.filter(name__in=intervals):
        allowed = timedelta(minutes=2 * intervals[cursor.name])
        key = catalogue.flow_key(cursor.name)
        last = cursor.last_success_at or (cursor.last_run_at if cursor.last_run_at else None)
        if last is None:
            continue
        if cursor.last_success_at is not None and now - cursor.last_success_at <= allowed:
            queue.auto_resolve(key, [catalogue.SYNC_STALLED], f"'{cursor.name}' succeeded again")
            continue
        if now - last <= allowed:
            continue  # it has run, not yet succeeded, and is not yet late
        stalled += 1
        since = (f"last succeeded {cursor.last_success_at:%Y-%m-%d %H:%M} UTC" if cursor.last_success_at
                 else "has never succeeded")
        error = f" Last error: {cursor.last_error}" if cursor.last_error else ""
        queue.raise_exception(
            catalogue.SYNC_STALLED, key,
            f"Flow '{cursor.name}' {since}; it should succeed every {intervals[cursor.name]:g} min.{error}",
        )
    return stalled
