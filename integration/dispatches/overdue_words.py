"""What CX can tell a customer whose order is late at the warehouse: when it was promised to
leave, how late it is, where Seko has it (in plain words), and the carrier and tracking number
once they are known. Shared by the Overdue page and the ``dispatch.overdue`` message."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings

from integration.models import CarrierMapping, Dispatch, Order, PushPart

# Seko's sales-order statuses (docs/contracts/seko.md 2.5 and the cancel call), as a customer
# can be told them.
SEKO_STATUS_WORDS = {
    "To Be Picked": "waiting in the warehouse queue, not picked yet",
    "Being Picked": "being picked in the warehouse now",
    "Pick Complete": "picked, waiting to be packed",
    "To Dispatch": "packed, waiting for the carrier to collect it",
    "Dispatched": "has left the warehouse; the dispatch confirmation is on its way to us",
    "To Cancel": "a cancel was asked for; the warehouse has not processed it yet",
    "Cancelled": "cancelled at the warehouse",
}
NOT_CHECKED = "not checked with Seko yet"


def seko_status_in_words(status: str) -> str:
    """"To Be Picked: waiting in the warehouse queue, not picked yet"; other answers as they came."""
    if not status:
        return NOT_CHECKED
    if status == "unknown to Seko":
        return "unknown to Seko: the warehouse has no order by this number (ask integration admins)"
    words = SEKO_STATUS_WORDS.get(status)
    return f"{status}: {words}" if words else status


def duration_in_words(value: timedelta | None) -> str:
    """A span as a person reads it: "45 s", "12 min", "3 h 20 min", "1 day 4 h", "5 days"."""
    if value is None:
        return "—"
    seconds = max(0, int(value.total_seconds()))
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{minutes} min"
    if seconds < 86400:
        rest = minutes % 60
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    plural = "day" if days == 1 else "days"
    rest_hours = hours % 24
    # Past a few days the hours stop mattering to whoever reads it.
    return f"{days} {plural} {rest_hours} h" if rest_hours and days < 3 else f"{days} {plural}"


# Where an overdue order is, from the customer's side: the clock runs from its release in Blue
# Cherry, so an order that never reached the warehouse is as late as one the warehouse sits on.
BEFORE_SEKO = "before_seko"
HELD = "held"
AT_SEKO = "at_seko"
LEFT_WAREHOUSE = "left_warehouse"


@dataclass(frozen=True)
class Stage:
    code: str  # one of the four above ("" before it is known)
    words: str  # what CX reads, starting with where it is


NO_STAGE = Stage("", "")


def stage_of(order: Order, unposted_dispatch: str, seko_status: str, now: datetime) -> Stage:
    """The stage an order waiting for its dispatch is in. ``unposted_dispatch``: the status of a
    dispatch of it not posted yet ("" if none); ``seko_status``: Seko's status as last asked."""
    status = order.status
    if status in (Order.Status.QUARANTINED, Order.Status.REJECTED):
        return Stage(HELD, f"Not yet at Seko: held here ({order.get_status_display()}); its exception on the "
                           "order's page says what to fix (ops)")
    if status == Order.Status.SENDING:
        return Stage(BEFORE_SEKO, "Not yet at Seko: being sent now")
    if status == Order.Status.RECEIVED:
        if order.next_attempt_at and order.next_attempt_at > now:
            error = f" (last: {order.last_error[:160]})" if order.last_error else ""
            return Stage(BEFORE_SEKO, f"Not yet at Seko: it was not taken yet and is tried again on its own at "
                                      f"{order.next_attempt_at:%H:%M} UTC{error}")
        return Stage(BEFORE_SEKO, "Not yet at Seko: waiting to be checked and sent (within a minute)")
    if unposted_dispatch == Dispatch.Status.QUARANTINED:
        return Stage(LEFT_WAREHOUSE, "Left the warehouse: Seko's dispatch is held here until ops fill it in and "
                                     "release it (the dispatch's exception on the order's page)")
    if unposted_dispatch:
        return Stage(LEFT_WAREHOUSE, "Left the warehouse: Seko's dispatch is being posted to Blue Cherry")
    return Stage(AT_SEKO, f"At Seko: {seko_status_in_words(seko_status)}")


def poll_collects_within() -> timedelta:
    """How long after Seko dispatches an order its confirmation is here at the latest when the
    push was lost: the safety-net poll asks only for dispatches older than its grace, and runs
    every DISPATCH_POLL_MINUTES (the manual's "within" figure)."""
    return (timedelta(minutes=settings.DISPATCH_POLL_MINUTES)
            + timedelta(seconds=settings.DISPATCH_POLL_GRACE_SECONDS))


@dataclass(frozen=True)
class Lateness:
    promised_by: datetime  # sent for fulfilment + the service level's SLA
    late_by: timedelta


def lateness(sent_at: datetime, sla_hours: float, now: datetime) -> Lateness:
    promised_by = sent_at + timedelta(hours=sla_hours)
    return Lateness(promised_by=promised_by, late_by=max(timedelta(0), now - promised_by))


@dataclass(frozen=True)
class Shipping:
    carrier: str  # the carrier and service, as Seko named them or as the order was booked
    tracking: str  # "" until Seko sends one


def shipping_of(orders: list) -> dict[str, Shipping]:
    """Carrier and tracking per order number, in a few queries whatever the count. A dispatch that
    arrived but is not posted yet (quarantined, waiting) or a TrackingDetails that came first
    tells what Seko knows; otherwise the carrier is the one the order's ship-via is booked with."""
    ord_nums = [order.ord_num for order in orders]
    booked = {row.bc_ship_via: " ".join(filter(None, [row.seko_courier_name, row.seko_service_description
                                                         or row.seko_courier_service]))
              for row in CarrierMapping.objects.filter(bc_ship_via__in={order.ship_via for order in orders})}
    from_dispatch: dict[str, dict] = {}
    for dispatch in Dispatch.objects.filter(ord_num__in=ord_nums).order_by("created_at", "id"):
        from_dispatch[dispatch.ord_num] = dispatch.effective  # the latest wins
    from_tracking: dict[str, dict] = {}
    for part in PushPart.objects.filter(type=PushPart.TRACKING, sales_order_number__in=ord_nums).order_by("id"):
        from_tracking[part.sales_order_number] = part.fields
    result = {}
    for order in orders:
        seko = {**from_tracking.get(order.ord_num, {}), **from_dispatch.get(order.ord_num, {})}
        courier = _text(seko.get("CourierName") or seko.get("Courier"))
        carrier = " ".join(filter(None, [courier, _text(seko.get("CourierService"))])) if courier else ""
        result[order.ord_num] = Shipping(carrier=carrier or booked.get(order.ship_via, ""),
                                         tracking=_text(seko.get("TrackingNumber")))
    return result


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()
