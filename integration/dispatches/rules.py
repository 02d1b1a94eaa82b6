"""The data contract for a Seko dispatch confirmation, checked before anything reaches Blue
Cherry. Pure: plain data in, every problem out (one clear message each), so a quarantined
dispatch tells the reader all that is wrong at once.

The contract (DESIGN.md flow 3): an order we sent; a dispatch date; a carrier that maps back
to a Blue Cherry ship-via; a non-empty tracking number; every line's SKU on the order;
quantities whole, not negative and, summed per SKU (a SKU picked from several lots comes as
several lines), not above what is open. A line shipped 0 is kept: it is cancelled with the
remainder.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from exceptions import catalogue
from integration.orders.rules import Problem

INCOMPLETE = catalogue.DISPATCH_INCOMPLETE.code
UNKNOWN_ORDER = catalogue.DISPATCH_UNKNOWN_ORDER.code
LINE_MISMATCH = catalogue.DISPATCH_LINE_MISMATCH.code
# Seko may send the tracking number in its own later push (TrackingDetails): a dispatch whose
# only problem is this one waits a while for it before it is quarantined (flows/dispatches.py).
TRACKING_MISSING = "The tracking number is missing."
# Words every "no carrier maps back" problem carries (and carried before the order's own row was
# consulted too), so a carrier row saved active can find the dispatches it may release.
CARRIER_UNMAPPED_MARK = "carrier mapping back to a Blue Cherry ship-via"


@dataclass(frozen=True)
class OrderView:
    """What the contract needs to know about our order (None where we have no such order)."""

    ord_num: str
    sent: bool  # accepted by Seko from us
    cancelled: bool = False
    dispatched: bool = False
    ship_via: str = ""
    # [{"line_no", "sku", "qty_ordered", "qty_shipped", "qty_cancelled"}], in line_no order
    lines: list[Mapping[str, Any]] = field(default_factory=list)


def text(value: Any) -> str:
    """A field as trimmed text; iHub's empties (None, {}, "") are all ""."""
    if value is None or isinstance(value, dict | list):
        return ""
    return str(value).strip()


def parse_dispatch_date(value: Any) -> datetime | None:
    """Seko's date as an aware datetime, None when there is none or it cannot be read. Seko
    sends every push date in UTC, with or without a zone: one without is UTC."""
    raw = text(value)
    if not raw:
        return None
    try:
        parsed = parse_datetime(raw)
    except ValueError:
        return None
    if parsed is None:
        return None
    return parsed if timezone.is_aware(parsed) else parsed.replace(tzinfo=UTC)


def quantity(value: Any) -> int | None:
    """A whole quantity (an int, or text/float holding one); None for anything else."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(text(value)) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if number.is_integer() else None


def open_quantity(line: Mapping[str, Any]) -> int:
    return int(line.get("qty_ordered") or 0) - int(line.get("qty_shipped") or 0) - int(line.get("qty_cancelled") or 0)


@dataclass(frozen=True)
class CarrierRow:
    """One active carrier mapping as the way back needs it: Seko's courier and service, by code
    and as Seko describes it in words, to Blue Cherry's ship-via."""

    ship_via: str
    courier_name: str
    service_code: str
    service_description: str = ""


@dataclass(frozen=True)
class CarrierMatch:
    """The ship-via a dispatch is posted with; ``note`` says, for the order's timeline, how Seko's
    carrier differs from the one the order was sent with (empty when it does not)."""

    ship_via: str
    note: str = ""


def same_words(left: str, right: str) -> bool:
    """Seko's names compared as people read them: case, outer and repeated spaces ignored."""
    return bool(left.strip()) and " ".join(left.split()).casefold() == " ".join(right.split()).casefold()


def carrier_rows(carriers: Mapping[tuple[str, str], str] | Sequence[CarrierRow]) -> list[CarrierRow]:
    """``carriers`` as rows; a plain {(courier, service): ship-via} mapping is still accepted."""
    if isinstance(carriers, Mapping):
        return [CarrierRow(via, name, service) for (name, service), via in carriers.items()]
    return list(carriers)


def _service_matches(row: CarrierRow, service: str) -> bool:
    return same_words(row.service_code, service) or same_words(row.service_description, service)


def resolve_carrier(courier_name: str, courier_service: str,
                    carriers: Mapping[tuple[str, str], str] | Sequence[CarrierRow], order_ship_via: str = "",
                    own_carrier: tuple[str, str] | None = None) -> CarrierMatch | None:
    """Blue Cherry's ship-via for the courier and service Seko reports, or None when there is
    none to post with.

    Seko may name the service by the code we sent or in words ("Next Day", its "Push Dispatch
    Confirmation" page), so a mapping matches on courier + code or courier + description. The
    order's own mapping is tried first. A different courier than the order asked for is posted
    as Seko reports it: the ship-via its courier and service map to, else the order's own ship-via
    (the shipment must not wait; the note says what changed). Our own courier with a service no
    mapping knows goes with the order's own ship-via, the note asking for the words to be mapped.
    None only when neither Seko's carrier nor the order's own mapping gives a ship-via."""
    rows = carrier_rows(carriers)
    own = next((row for row in rows if order_ship_via and row.ship_via == order_ship_via), None)
    if own is None and own_carrier is not None:
        own = next((row for row in rows if (row.courier_name, row.service_code) == own_carrier), None)
    if not courier_name:
        return None
    if own is not None and same_words(own.courier_name, courier_name) and (
            not courier_service or _service_matches(own, courier_service)):
        return CarrierMatch(own.ship_via)
    named = [row for row in rows if same_words(row.courier_name, courier_name)]
    by_code = [row for row in named if courier_service and same_words(row.service_code, courier_service)]
    by_words = [row for row in named if courier_service and same_words(row.service_description, courier_service)]
    found = sorted(by_code or by_words, key=lambda row: row.ship_via)
    asked = f"{own.courier_name} {own.service_code}" if own is not None else "the order's carrier"
    reported = f"{courier_name} '{courier_service}'" if courier_service else courier_name
    if found:
        if own is not None and found[0].ship_via == own.ship_via:
            return CarrierMatch(own.ship_via)
        note = "" if own is None else (f"Seko dispatched with {reported}, not {asked} as the order asked; "
                                       f"posted with ship-via {found[0].ship_via}, which it maps to.")
        if len(found) > 1:
            note += f" (Several mappings match it: {', '.join(row.ship_via for row in found)}; the first was used.)"
        return CarrierMatch(found[0].ship_via, note)
    if own is not None and not same_words(own.courier_name, courier_name):
        return CarrierMatch(own.ship_via, f"Seko dispatched with {reported}, not {asked} as the order asked; "
                                          f"no carrier mapping knows it, so the order's own ship-via "
                                          f"{own.ship_via} was posted with carrier {courier_name}.")
    if own is not None:
        # Our own courier, its service in words no mapping holds yet: Seko's description of a
        # service it runs for us. Holding the shipment for a name would stop the invoice and
        # the customer's notification, so it goes with the ship-via the order was sent with.
        return CarrierMatch(own.ship_via, f"Seko named the service '{courier_service}', which no carrier mapping "
                                          f"of {own.courier_name} holds; posted with the order's own ship-via "
                                          f"{own.ship_via}. Add the words as the mapping's 'Seko service as Seko "
                                          "describes it' so the next one matches.")
    return None


def resolve_ship_via(courier_name: str, courier_service: str,
                     carriers: Mapping[tuple[str, str], str] | Sequence[CarrierRow],
                     own_carrier: tuple[str, str] | None = None, order_ship_via: str = "") -> str | None:
    """Just the ship-via of ``resolve_carrier`` (None when there is none to post with)."""
    match = resolve_carrier(courier_name, courier_service, carriers, order_ship_via, own_carrier)
    return match.ship_via if match else None


def validate_dispatch(
    confirmation: Mapping[str, Any],
    order: OrderView | None,
    carriers: Mapping[tuple[str, str], str] | Sequence[CarrierRow],
    own_carrier: tuple[str, str] | None = None,
) -> list[Problem]:
    """Every way ``confirmation`` breaks the contract; empty when it may be posted."""
    problems: list[Problem] = []
    dispatch_id = text(confirmation.get("DispatchId")) or "(no DispatchId)"
    ord_num = text(confirmation.get("SalesOrderNumber"))

    if not ord_num and order is None:
        problems.append(Problem(UNKNOWN_ORDER, f"Dispatch {dispatch_id} names no sales order."))
    elif order is None:
        problems.append(Problem(UNKNOWN_ORDER, f"Dispatch {dispatch_id} is for order '{ord_num}', which the "
                                               "integration never sent to Seko.", ord_num))
    elif order.cancelled:
        problems.append(Problem(UNKNOWN_ORDER, f"Order {order.ord_num} was cancelled; Seko should not have "
                                               "dispatched it.", order.ord_num))
    elif not order.sent:
        problems.append(Problem(UNKNOWN_ORDER, f"Order {order.ord_num} was never accepted by Seko from us.",
                                order.ord_num))

    if parse_dispatch_date(confirmation.get("DispatchDate")) is None:
        raw = text(confirmation.get("DispatchDate"))
        problems.append(Problem(INCOMPLETE, f"The dispatch date is {'unreadable: ' + repr(raw) if raw else 'missing'}.",
                                raw))
    courier_name, courier_service = text(confirmation.get("CourierName")), text(confirmation.get("CourierService"))
    if not courier_name:
        problems.append(Problem(INCOMPLETE, "The carrier (CourierName) is missing."))
    elif resolve_carrier(courier_name, courier_service, carriers, order.ship_via if order else "",
                         own_carrier) is None:
        problems.append(Problem(
            INCOMPLETE, f"Carrier '{courier_name}' service '{courier_service}' has no {CARRIER_UNMAPPED_MARK}: "
                        "no active carrier row, nor the row the order was sent with, names it (by service code "
                        "or by the service as Seko describes it in words).", f"{courier_name}/{courier_service}"))
    if not text(confirmation.get("TrackingNumber")):
        problems.append(Problem(INCOMPLETE, TRACKING_MISSING))

    problems.extend(line_problems(confirmation, order))
    return problems


def shipped_by_sku(confirmation: Mapping[str, Any]) -> tuple[dict[str, int], list[str]]:
    """Quantity per SKU, lot lines summed, and the messages for lines that cannot be read."""
    totals: dict[str, int] = {}
    unreadable: list[str] = []
    lines = (confirmation.get("List") or {}).get("DispatchLineItem") or []
    for index, line in enumerate(lines, start=1):
        if not isinstance(line, Mapping):
            unreadable.append(f"Dispatch line {index} is not an object.")
            continue
        sku = text(line.get("ProductCode"))
        qty = quantity(line.get("Quantity"))
        if not sku:
            unreadable.append(f"Dispatch line {index} has no ProductCode.")
        elif qty is None or qty < 0:
            unreadable.append(f"Dispatch line {index} ({sku}) has quantity {line.get('Quantity')!r}, "
                              "not a whole number of at least 0.")
        else:
            totals[sku] = totals.get(sku, 0) + qty
    if not lines:
        unreadable.append("The dispatch has no lines.")
    return totals, unreadable


def line_problems(confirmation: Mapping[str, Any], order: OrderView | None) -> list[Problem]:
    totals, unreadable = shipped_by_sku(confirmation)
    problems = [Problem(LINE_MISMATCH, message) for message in unreadable]
    if order is None or not order.sent or order.cancelled:
        return problems  # nothing to compare the lines with
    if order.dispatched:
        problems.append(Problem(LINE_MISMATCH, f"Order {order.ord_num} was already dispatched; Seko dispatches "
                                               "an order once.", order.ord_num))
        return problems
    open_by_sku: dict[str, int] = {}
    lines_by_sku: dict[str, list[int]] = {}
    for line in order.lines:
        sku = str(line["sku"])
        open_by_sku[sku] = open_by_sku.get(sku, 0) + open_quantity(line)
        lines_by_sku.setdefault(sku, []).append(int(line["line_no"]))
    for sku, shipped in totals.items():
        if sku not in open_by_sku:
            problems.append(Problem(LINE_MISMATCH, f"SKU {sku} (x{shipped}) is not on order {order.ord_num}.", sku))
        elif shipped > open_by_sku[sku]:
            where = ", ".join(str(n) for n in lines_by_sku[sku])
            problems.append(Problem(
                LINE_MISMATCH, f"SKU {sku} ships {shipped}, but only {open_by_sku[sku]} is open on order "
                               f"{order.ord_num} (line {where}).", sku))
    return problems


def is_carrier_unmapped(problem: Mapping[str, Any]) -> bool:
    """True for a stored problem saying no carrier row maps Seko's courier and service back."""
    return problem.get("kind") == INCOMPLETE and CARRIER_UNMAPPED_MARK in str(problem.get("message", ""))


def read_filled_date(raw: str, now: datetime) -> tuple[str, str]:
    """A dispatch date a person typed, as (Seko's form of it in UTC, "") or ("", why it cannot
    be used). A day alone ("2026-11-27") is that day at 00:00 UTC; a time may follow it, with
    a space or a T. Seko's dates are UTC, and a dispatch cannot have left in the future."""
    typed = text(raw).replace(" ", "T", 1)
    if not typed:
        return "", ""
    if len(typed) == 10:
        typed += "T00:00"
    parsed = parse_dispatch_date(typed)
    if parsed is None:
        return "", (f"The dispatch date {text(raw)!r} cannot be read: write it as YYYY-MM-DD, "
                    "or YYYY-MM-DD HH:MM (UTC).")
    if parsed > now + timedelta(minutes=5):
        return "", f"The dispatch date {text(raw)} is in the future: a dispatch cannot have left yet."
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), ""


def only_tracking_missing(problems: list[Problem]) -> bool:
    """True when the tracking number is all that keeps the dispatch from being posted."""
    return bool(problems) and all(p.kind == INCOMPLETE and p.message == TRACKING_MISSING for p in problems)
