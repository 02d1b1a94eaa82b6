"""The reconciliation's arithmetic, pure (dict in, dict out; no database, no HTTP).

``reconcile`` takes what the run read from both systems (Seko's dispatch documents, Blue
Cherry's shipments and invoices, in the contracts' shapes) and the orders we sent, and returns
per-day totals (orders, units and value sent, dispatched at Seko, shipped and invoiced in Blue
Cherry) and every difference as a line. Each column counts on its own event's day (sent on the
day Seko accepted the order, dispatched on Seko's DispatchDate, shipped on Blue Cherry's
ship_date, invoiced on its invoice_date), so an order sent today and dispatched tomorrow is not
a difference; a difference is put on the day of the event it is about.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

DISPATCHED_NOT_SHIPPED = "dispatched_not_shipped"
SHIPPED_NOT_DISPATCHED = "shipped_not_dispatched"
QUANTITY_MISMATCH = "quantity_mismatch"
VALUE_MISMATCH = "value_mismatch"
SHIPPED_NOT_INVOICED = "shipped_not_invoiced"
INVOICED_NOT_SHIPPED = "invoiced_not_shipped"
INVOICED_TWICE = "invoiced_twice"
NOT_DISPATCHED_PAST_SLA = "not_dispatched_past_sla"

KINDS: dict[str, str] = {
    DISPATCHED_NOT_SHIPPED: "Dispatched at Seko, no shipment in Blue Cherry",
    SHIPPED_NOT_DISPATCHED: "Shipment in Blue Cherry, no dispatch at Seko",
    QUANTITY_MISMATCH: "Shipped quantity differs from Seko's dispatch",
    VALUE_MISMATCH: "Invoiced value differs from the value dispatched",
    SHIPPED_NOT_INVOICED: "Shipped in Blue Cherry, not invoiced",
    INVOICED_NOT_SHIPPED: "Invoiced in Blue Cherry, neither shipped nor dispatched",
    INVOICED_TWICE: "Invoiced more than once",
    NOT_DISPATCHED_PAST_SLA: "Sent to Seko, neither dispatched nor cancelled past its SLA",
}

# Seko statuses that end waiting for a dispatch.
SEKO_DONE = ("Dispatched", "Cancelled")

# What each difference most likely means and who acts, appended to its message so the hint always
# matches the cause (one generic hint for every kind sent finance after shipments "keyed in by hand"
# for orders that were merely late at the warehouse).
HINTS: dict[str, str] = {
    DISPATCHED_NOT_SHIPPED: "Post the shipment in Blue Cherry, or release the quarantined dispatch from the "
                            "exception queue.",
    SHIPPED_NOT_DISPATCHED: "Check the shipment in Blue Cherry: if nothing left the warehouse, reverse it.",
    QUANTITY_MISMATCH: "Correct the shipped quantities in Blue Cherry to what left the warehouse.",
    VALUE_MISMATCH: "Correct or credit the invoice in Blue Cherry.",
    SHIPPED_NOT_INVOICED: "Raise the invoice in Blue Cherry.",
    INVOICED_NOT_SHIPPED: "Credit the invoice in Blue Cherry unless the goods did leave.",
    INVOICED_TWICE: "Credit the duplicate invoice in Blue Cherry.",
    NOT_DISPATCHED_PAST_SLA: "Late at the warehouse, not a booking error: nothing to correct in Blue Cherry; "
                             "customer service chases it as an overdue dispatch.",
}

TOTAL_FIELDS = (
    "sent_orders", "sent_units", "sent_value",
    "dispatched_orders", "dispatched_units", "dispatched_value",
    "shipped_orders", "shipped_units", "shipped_value",
    "invoiced_orders", "invoiced_units", "invoiced_value", "invoices",
)
ZERO = Decimal("0.00")
Line = dict[str, Any]  # one difference: see ``reconcile``


def money(value: Any) -> Decimal:
    """A decimal string (Blue Cherry's money) as a Decimal; unreadable is zero, never a crash."""
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return ZERO
    return number.quantize(Decimal("0.01")) if number.is_finite() else ZERO


def day_of(value: Any, zone: tzinfo = UTC) -> date | None:
    """The day in ``zone`` (the business's time zone, where its month closes) of an ISO
    timestamp; a bare date is already a day (Blue Cherry's ship and invoice dates). A timestamp
    without a zone is UTC (Seko's DispatchDate may lack one)."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(zone).date()
    if isinstance(value, date):
        return value
    text = str(value or "").strip()
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            return date.fromisoformat(text[:10])
        except ValueError:
            return None
    return day_of(parsed, zone)


def moment_of(value: Any, zone: tzinfo = UTC) -> datetime | None:
    """The moment of an ISO timestamp (no zone: UTC). A bare date counts as the end of its day
    in ``zone``, so a dispatch dated today is never judged older than it can be."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = str(value or "").strip()
    if len(text) > 10:
        try:
            return moment_of(datetime.fromisoformat(text.replace("Z", "+00:00")))
        except ValueError:
            pass
    day = day_of(text, zone)
    return None if day is None else datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=zone)


def duration(span: timedelta) -> str:
    """A span as a person reads it: "40 s", "3 min", "3 h 20 min", "2 days 4 h"."""
    seconds = max(0, int(span.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} days {hours} h" if hours else f"{days} days"


def _qty(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def dispatch_lines(confirmation: Mapping[str, Any]) -> dict[str, int]:
    """Units per SKU in a DispatchConfirmation (a SKU from several lots comes as several lines)."""
    lines = (confirmation.get("List") or {}).get("DispatchLineItem") or []
    if isinstance(lines, dict):
        lines = [lines]
    units: dict[str, int] = defaultdict(int)
    for line in lines:
        if isinstance(line, dict):
            units[str(line.get("ProductCode") or "")] += _qty(line.get("Quantity"))
    return {sku: qty for sku, qty in units.items() if qty}


def shipment_lines(shipments: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    units: dict[str, int] = defaultdict(int)
    for shipment in shipments:
        for line in shipment.get("lines") or []:
            units[str(line.get("sku") or "")] += _qty(line.get("qty_shipped"))
    return {sku: qty for sku, qty in units.items() if qty}


def _value(units: Mapping[str, int], prices: Mapping[str, Decimal]) -> Decimal:
    return sum((prices.get(sku, ZERO) * qty for sku, qty in units.items()), ZERO).quantize(Decimal("0.01"))


def _units_text(units: Mapping[str, int]) -> str:
    return ", ".join(f"{sku} x{qty}" for sku, qty in sorted(units.items())) or "nothing"


def reconcile(
    *,
    sent: Mapping[str, Mapping[str, Any]],
    dispatches: Mapping[str, Mapping[str, Any]],
    shipments: Iterable[Mapping[str, Any]],
    invoices: Iterable[Mapping[str, Any]],
    prices: Mapping[str, Mapping[str, Decimal]],
    now: datetime,
    tolerance: Decimal = Decimal("0.01"),
    dispatch_settle: timedelta = timedelta(0),
    late_grace: timedelta = timedelta(0),
    zone: tzinfo = UTC,
) -> dict[str, Any]:
    """Totals per day and every difference, each on its day in ``zone`` (the business's).

    A difference is one only once the flow that would settle it has had its chance:
    ``dispatch_settle`` is how long a Seko dispatch may take to become a Blue Cherry shipment
    (the push, the poll, the posting's retries); a younger one is on its way, not missing.
    ``late_grace`` is added to each order's SLA before "not dispatched" counts (the overdue
    monitor's interval: it has flagged the order by then).

    ``sent``: {ord_num: {"sent_at", "units", "value", "sla_hours", "seko_status"}}, the orders
    Seko accepted from us (``seko_status`` is Seko's word, None when it was not asked).
    ``dispatches``: {ord_num: DispatchConfirmation} as Seko returns it. ``shipments``,
    ``invoices``: Blue Cherry's, as its API returns them. ``prices``: {ord_num: {sku: unit
    price}} from the order (Seko's dispatch carries no prices).

    Returns {"days": {day: {field: total}}, "differences": [line, ...]}, each line
    {"day", "kind", "ord_num", "message", "dispatch_id", "ship_num", "invoice_num",
    "seko_units", "bc_units", "seko_value", "bc_value"}.
    """
    days: dict[date, dict[str, Any]] = defaultdict(lambda: {f: (ZERO if f.endswith("value") else 0)
                                                            for f in TOTAL_FIELDS})
    ships_by_order: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for shipment in _unique(shipments, "ship_num"):
        ships_by_order[str(shipment.get("ord_num"))].append(shipment)
    invoices_by_order: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for invoice in _unique(invoices, "invoice_num"):
        invoices_by_order[str(invoice.get("ord_num"))].append(invoice)

    for order in sent.values():
        if (day := day_of(order.get("sent_at"), zone)) is not None:
            days[day]["sent_orders"] += 1
            days[day]["sent_units"] += _qty(order.get("units"))
            days[day]["sent_value"] += money(order.get("value"))
    dispatched_units: dict[str, dict[str, int]] = {}
    for ord_num, confirmation in dispatches.items():
        units = dispatched_units[ord_num] = dispatch_lines(confirmation)
        if (day := day_of(confirmation.get("DispatchDate"), zone)) is not None:
            days[day]["dispatched_orders"] += 1
            days[day]["dispatched_units"] += sum(units.values())
            days[day]["dispatched_value"] += _value(units, prices.get(ord_num, {}))
    for ord_num, found in ships_by_order.items():
        for shipment in found:
            if (day := day_of(shipment.get("ship_date"), zone)) is not None:
                units = shipment_lines([shipment])
                days[day]["shipped_orders"] += 1
                days[day]["shipped_units"] += sum(units.values())
                days[day]["shipped_value"] += _value(units, prices.get(ord_num, {}))
    for found in invoices_by_order.values():
        invoiced_days = set()
        for invoice in found:
            if (day := day_of(invoice.get("invoice_date"), zone)) is not None:
                days[day]["invoices"] += 1
                days[day]["invoiced_units"] += sum(_qty(line.get("qty")) for line in invoice.get("lines") or [])
                days[day]["invoiced_value"] += money(invoice.get("amount"))
                invoiced_days.add(day)
        for day in invoiced_days:
            days[day]["invoiced_orders"] += 1

    allow = _Allowances(now, tolerance, dispatch_settle, late_grace, zone)
    differences: list[Line] = []
    for ord_num in sorted(set(sent) | set(dispatches) | set(ships_by_order) | set(invoices_by_order)):
        order = _OrderRecord(ord_num, sent.get(ord_num), dispatches.get(ord_num), ships_by_order.get(ord_num, []),
                             invoices_by_order.get(ord_num, []), prices.get(ord_num, {}))
        differences.extend(_order_differences(order, allow))
    return {"days": {day: dict(totals) for day, totals in sorted(days.items())}, "differences": differences}


def _unique(rows: Iterable[Mapping[str, Any]], key: str) -> list[Mapping[str, Any]]:
    """Rows de-duplicated by document number (the run may read one twice: by day and by order)."""
    seen: dict[str, Mapping[str, Any]] = {}
    for row in rows:
        seen.setdefault(str(row.get(key)), row)
    return list(seen.values())


@dataclass(frozen=True)
class _OrderRecord:
    """What is known about one order: what we sent Seko, Seko's dispatch, Blue Cherry's
    shipments and invoices, and the order's unit prices."""

    ord_num: str
    sent: Mapping[str, Any] | None
    confirmation: Mapping[str, Any] | None
    shipments: list[Mapping[str, Any]]
    invoices: list[Mapping[str, Any]]
    prices: Mapping[str, Decimal]


@dataclass(frozen=True)
class _Allowances:
    """When a gap becomes a difference: the moment judged, and the slack of ``reconcile``."""

    now: datetime
    tolerance: Decimal
    dispatch_settle: timedelta
    late_grace: timedelta
    zone: tzinfo


@dataclass(frozen=True)
class _SekoDispatch:
    """What the differences read of Seko's DispatchConfirmation."""

    dispatch_id: str
    day: date | None
    dispatched_at: datetime | None
    units: dict[str, int]
    value: Decimal  # at the order's prices: Seko's dispatch carries none


def _line(kind: str, ord_num: str, day: date | None, message: str, **fields: Any) -> Line:
    """A difference line, its kind's hint after the message; the fields not given are blank."""
    return {"day": day, "kind": kind, "ord_num": ord_num, "message": f"{message} {HINTS[kind]}",
            "dispatch_id": "", "ship_num": "", "invoice_num": "", "seko_units": None,
            "bc_units": None, "seko_value": None, "bc_value": None, **fields}


def _order_differences(order: _OrderRecord, allow: _Allowances) -> list[Line]:
    """Every difference of one order, always in this order: the dispatch against the shipments
    (or the shipments without a dispatch), then the invoicing, then lateness at the warehouse."""
    if order.confirmation is not None:
        dispatched = _dispatch_differences(order, _read_dispatch(order.confirmation, order.prices, allow.zone), allow)
    else:
        dispatched = _shipped_not_dispatched(order, allow.zone)
    return [*dispatched, *_shipped_not_invoiced(order, allow.zone), *_invoiced_twice(order, allow.zone),
            *_invoiced_not_shipped(order, allow.zone), *_not_dispatched_past_sla(order, allow)]


def _read_dispatch(confirmation: Mapping[str, Any], prices: Mapping[str, Decimal], zone: tzinfo) -> _SekoDispatch:
    units = dispatch_lines(confirmation)
    return _SekoDispatch(
        dispatch_id=str(confirmation.get("DispatchId") or ""),
        day=day_of(confirmation.get("DispatchDate"), zone),
        dispatched_at=moment_of(confirmation.get("DispatchDate"), zone),
        units=units,
        value=_value(units, prices),
    )


def _dispatch_differences(order: _OrderRecord, dispatch: _SekoDispatch, allow: _Allowances) -> list[Line]:
    """Seko's dispatch against Blue Cherry: not shipped at all (once the dispatch has had the time
    to become a shipment), shipped in other quantities, invoiced at another value."""
    if not order.shipments:
        settling = dispatch.dispatched_at is not None and allow.now - dispatch.dispatched_at < allow.dispatch_settle
        return [] if settling else [_line(
            DISPATCHED_NOT_SHIPPED, order.ord_num, dispatch.day,
            f"Seko dispatched {order.ord_num} ({dispatch.dispatch_id}: {_units_text(dispatch.units)}) but Blue "
            "Cherry has no shipment for it: the customer has been neither invoiced nor told.",
            dispatch_id=dispatch.dispatch_id, seko_units=sum(dispatch.units.values()), seko_value=dispatch.value,
            bc_units=0)]
    return [*_quantity_mismatch(order, dispatch), *_value_mismatch(order, dispatch, allow.tolerance)]


def _quantity_mismatch(order: _OrderRecord, dispatch: _SekoDispatch) -> list[Line]:
    shipped = shipment_lines(order.shipments)
    if shipped == dispatch.units:
        return []
    skus = sorted(sku for sku in set(dispatch.units) | set(shipped)
                  if dispatch.units.get(sku, 0) != shipped.get(sku, 0))
    detail = "; ".join(f"{sku} Seko {dispatch.units.get(sku, 0)}, Blue Cherry {shipped.get(sku, 0)}" for sku in skus)
    ship_num = order.shipments[0].get("ship_num")
    return [_line(QUANTITY_MISMATCH, order.ord_num, dispatch.day,
                  f"{order.ord_num}: Blue Cherry shipment {ship_num} does not ship what left the warehouse in "
                  f"{dispatch.dispatch_id}: {detail}.",
                  dispatch_id=dispatch.dispatch_id, ship_num=str(ship_num),
                  seko_units=sum(dispatch.units.values()), bc_units=sum(shipped.values()))]


def _value_mismatch(order: _OrderRecord, dispatch: _SekoDispatch, tolerance: Decimal) -> list[Line]:
    """The invoices of the order's shipments against the value of what Seko dispatched."""
    ship_nums = {str(s.get("ship_num")) for s in order.shipments}
    own = [i for i in order.invoices if str(i.get("ship_num")) in ship_nums]
    if not own:
        return []
    billed = sum((money(i.get("amount")) for i in own), ZERO)
    if abs(billed - dispatch.value) <= tolerance:
        return []
    return [_line(VALUE_MISMATCH, order.ord_num, dispatch.day,
                  f"{order.ord_num}: invoice {', '.join(str(i.get('invoice_num')) for i in own)} bills {billed} "
                  f"but what Seko dispatched is worth {dispatch.value} at the order's prices.",
                  dispatch_id=dispatch.dispatch_id, ship_num=str(order.shipments[0].get("ship_num")),
                  invoice_num=str(own[0].get("invoice_num")), seko_value=dispatch.value, bc_value=billed)]


def _shipped_not_dispatched(order: _OrderRecord, zone: tzinfo) -> list[Line]:
    """Each shipment of an order Seko has no dispatch for."""
    found = []
    for shipment in order.shipments:
        units = shipment_lines([shipment])
        found.append(_line(
            SHIPPED_NOT_DISPATCHED, order.ord_num, day_of(shipment.get("ship_date"), zone),
            f"Blue Cherry shipment {shipment.get('ship_num')} of {order.ord_num} ({_units_text(units)}) has no "
            "dispatch at Seko: nothing left the warehouse for it.",
            ship_num=str(shipment.get("ship_num")), bc_units=sum(units.values()),
            bc_value=_value(units, order.prices), seko_units=0,
            dispatch_id=str(shipment.get("wms_dispatch_id") or "")))
    return found


def _shipped_not_invoiced(order: _OrderRecord, zone: tzinfo) -> list[Line]:
    """Shipments neither carrying an invoice number nor named by one of the order's invoices."""
    invoiced = {str(i.get("ship_num")) for i in order.invoices}
    return [_line(SHIPPED_NOT_INVOICED, order.ord_num, day_of(shipment.get("ship_date"), zone),
                  f"Blue Cherry shipment {shipment.get('ship_num')} of {order.ord_num} has no invoice.",
                  ship_num=str(shipment.get("ship_num")))
            for shipment in order.shipments
            if not shipment.get("invoice_num") and str(shipment.get("ship_num")) not in invoiced]


def _invoiced_twice(order: _OrderRecord, zone: tzinfo) -> list[Line]:
    """More than one invoice for the order, put on the day of the latest."""
    invoices = order.invoices
    if len(invoices) <= 1:
        return []
    ordered = sorted(invoices, key=lambda i: (str(i.get("invoice_date")), str(i.get("invoice_num"))))
    later = ordered[-1]
    return [_line(INVOICED_TWICE, order.ord_num, day_of(later.get("invoice_date"), zone),
                  f"{order.ord_num} is invoiced {len(invoices)} times ("
                  + ", ".join(f"{i.get('invoice_num')} {money(i.get('amount'))}" for i in ordered)
                  + f") for {len(order.shipments)} shipment(s): credit the duplicate.",
                  invoice_num=str(later.get("invoice_num")), ship_num=str(later.get("ship_num") or ""),
                  bc_value=sum((money(i.get("amount")) for i in invoices), ZERO))]


def _invoiced_not_shipped(order: _OrderRecord, zone: tzinfo) -> list[Line]:
    """Each invoice of an order that neither system shows leaving the warehouse."""
    if order.shipments or order.confirmation is not None:
        return []
    return [_line(INVOICED_NOT_SHIPPED, order.ord_num, day_of(invoice.get("invoice_date"), zone),
                  f"Invoice {invoice.get('invoice_num')} bills {money(invoice.get('amount'))} for {order.ord_num}, "
                  "which has neither a shipment in Blue Cherry nor a dispatch at Seko.",
                  invoice_num=str(invoice.get("invoice_num")), bc_value=money(invoice.get("amount")))
            for invoice in order.invoices]


def _not_dispatched_past_sla(order: _OrderRecord, allow: _Allowances) -> list[Line]:
    """An order we sent that Seko has neither dispatched nor cancelled, older than its SLA and
    the overdue monitor's grace."""
    sent = order.sent
    if sent is None or order.confirmation is not None or order.shipments:
        return []
    status = sent.get("seko_status")
    sent_at = sent.get("sent_at")
    sla = timedelta(hours=float(sent.get("sla_hours") or 0))
    if status in SEKO_DONE or not isinstance(sent_at, datetime) or allow.now - sent_at <= sla + allow.late_grace:
        return []
    return [_line(NOT_DISPATCHED_PAST_SLA, order.ord_num, day_of(sent_at, allow.zone),
                  f"{order.ord_num} was sent to Seko {duration(allow.now - sent_at)} ago, "
                  f"{duration(allow.now - sent_at - sla)} past its dispatch SLA of {duration(sla)}, and is neither "
                  f"dispatched nor cancelled; Seko says '{status or 'unknown'}'.",
                  seko_units=0, bc_units=0, seko_value=money(sent.get("value")))]
