"""Stock arithmetic, pure: no database, no HTTP, dict in and dict out (flow 4 in DESIGN.md).

The buffer answers one question: how many units may the channels sell between the moment we
publish a figure and the moment Blue Cherry shows the next one? That window is our push
interval plus Blue Cherry's batch cycle (the lag); during it every channel sells against the
same stale figure. So ``buffer = ceil(velocity x lag x safety)``, clamped to a configured
minimum and maximum, unless a person set an override for the SKU. What the channels are shown
is ``max(0, free - buffer)``, where ``free`` is Seko's physical free stock only: Blue Cherry's
own ATS counts open work orders and WIP, which can never be picked and so never count here.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from django.utils.dateparse import parse_datetime

T = TypeVar("T")


@dataclass(frozen=True)
class BufferParams:
    """The knobs of the buffer; ``lag_hours`` = push interval + Blue Cherry's batch cycle."""

    lag_hours: float
    safety: float
    minimum: int
    maximum: int

    def __post_init__(self) -> None:
        if self.lag_hours < 0 or self.safety < 0:
            raise ValueError("lag and safety must not be negative")
        if self.minimum < 0 or self.maximum < self.minimum:
            raise ValueError(f"buffer bounds must satisfy 0 <= min <= max, got {self.minimum}..{self.maximum}")


@dataclass(frozen=True)
class Figure:
    """What one SKU publishes, and why (shown on the Stock page)."""

    free: int
    velocity: float  # units per hour over the window
    buffer: int
    reason: str  # "velocity", "minimum", "maximum" or "override"
    available: int

    def as_dict(self) -> dict[str, Any]:
        return {"free": self.free, "velocity": self.velocity, "buffer": self.buffer, "reason": self.reason,
                "available": self.available}


def lag_hours(push_interval_minutes: float, batch_cycle_minutes: float) -> float:
    """The window during which the channels sell against a stale figure."""
    return (push_interval_minutes + batch_cycle_minutes) / 60.0


def velocity(units_sold: int, window_hours: float) -> float:
    """Units per hour over the window; 0 for an empty or degenerate window."""
    if window_hours <= 0 or units_sold <= 0:
        return 0.0
    return units_sold / window_hours


def buffer_for(velocity_per_hour: float, params: BufferParams, override: int | None = None) -> tuple[int, str]:
    """(buffer, reason). An override is taken as given (a person chose it), never clamped."""
    if override is not None:
        return max(0, int(override)), "override"
    # Rounding noise (0.1 * 3 * 10 = 3.0000000000000004) must not add a whole unit.
    raw = math.ceil(round(max(0.0, velocity_per_hour) * params.lag_hours * params.safety, 9))
    if raw < params.minimum:
        return params.minimum, "minimum"
    if raw > params.maximum:
        return params.maximum, "maximum"
    return raw, "velocity"


def published_available(free: int, buffer: int) -> int:
    """What the channels may sell: never negative, whatever Seko's free stock says."""
    return max(0, free - buffer)


def figure(free: int, velocity_per_hour: float, params: BufferParams, override: int | None = None) -> Figure:
    buffer, reason = buffer_for(velocity_per_hour, params, override)
    return Figure(free=free, velocity=round(velocity_per_hour, 4), buffer=buffer, reason=reason,
                  available=published_available(free, buffer))


def plan(
    free: Mapping[str, int],
    sold: Mapping[str, int],
    window_hours: float,
    params: BufferParams,
    overrides: Mapping[str, int] | None = None,
) -> dict[str, Figure]:
    """Per SKU of ``free`` (Seko's free stock): the figure to publish, from the units ``sold`` in
    the window. SKUs with sales but no stock position are not published (nothing is known)."""
    overrides = overrides or {}
    return {
        sku: figure(qty, velocity(sold.get(sku, 0), window_hours), params, overrides.get(sku))
        for sku, qty in free.items()
    }


def changed(figures: Mapping[str, int], published: Mapping[str, int | None]) -> dict[str, int]:
    """Only what differs from what Blue Cherry was last given (None: never given, or lost)."""
    return {sku: qty for sku, qty in figures.items() if published.get(sku) != qty}


def chunked(items: Sequence[T], size: int) -> Iterator[list[T]]:
    if size <= 0:
        raise ValueError("chunk size must be positive")
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


def drift(expected: int, actual: int, tolerance: int) -> int | None:
    """``actual - expected`` when it is beyond the tolerance, else None."""
    difference = actual - expected
    return difference if abs(difference) > tolerance else None


# --- StockAdjustment pushes ------------------------------------------------------------------


@dataclass(frozen=True)
class Adjustment:
    """One StockAdjustment part: identity (what makes a repeat a repeat) and the signed delta."""

    identity: str
    sku: str
    dc_code: str
    delta: int
    reason: str
    adjusted_at: datetime | None


class BadAdjustment(ValueError):
    """A StockAdjustment record that cannot be applied; the message says what is wrong."""


def push_identity(fields: Mapping[str, Any]) -> str:
    """InterfaceRecordId + SequenceNumber + MessagePart: one delivered part (contract)."""
    record_id, sequence = fields.get("InterfaceRecordId"), fields.get("SequenceNumber")
    if record_id in (None, "") or sequence in (None, ""):
        raise BadAdjustment("it has no InterfaceRecordId or SequenceNumber, so a repeat could not be recognised")
    part = fields.get("MessagePart") or 1
    return f"{record_id}/{sequence}/{part}"


def parse_adjustment(fields: Mapping[str, Any]) -> Adjustment:
    """A StockAdjustment's fields (as normalised by the Seko client) checked and read."""
    if not isinstance(fields, Mapping):
        raise BadAdjustment(f"it is not an object: {str(fields)[:200]!r}")
    identity = push_identity(fields)
    problems = []
    sku = str(fields.get("ProductCode") or "").strip()
    dc_code = str(fields.get("DCCode") or "").strip()
    if not sku:
        problems.append("ProductCode is missing")
    if not dc_code:
        problems.append("DCCode is missing")
    delta = _whole(fields.get("Quantity"), "Quantity", problems)
    adjusted_at = _time(fields.get("AdjustmentDate"), "AdjustmentDate", problems)
    if problems:
        raise BadAdjustment("; ".join(problems))
    return Adjustment(identity=identity, sku=sku, dc_code=dc_code, delta=delta,
                      reason=str(fields.get("Reason") or "")[:100], adjusted_at=adjusted_at)


def net_deltas(adjustments: Iterable[Adjustment]) -> dict[tuple[str, str], int]:
    """Sum of deltas per (sku, dc), so a batch is applied in one write per position."""
    totals: dict[tuple[str, str], int] = {}
    for adjustment in adjustments:
        key = (adjustment.sku, adjustment.dc_code)
        totals[key] = totals.get(key, 0) + adjustment.delta
    return totals


# --- Location types ("Retrieve Stock Quantity", "Stock service field descriptions") ---------

# The type a stock line or flat adjustment without one is taken to be in: the older shapes we
# first read carried no type and only ever meant the free, sellable stock (our assumption).
DEFAULT_LOCATION_TYPE = "Available Stock"


def location_key(location_type: Any) -> str:
    """A location type as compared: no outer spaces, no case ("available stock")."""
    return " ".join(str(location_type or "").split()).casefold()


def sellable_types(setting: str | Iterable[str]) -> frozenset[str]:
    """The configured sellable location types (a comma-separated setting or a list), as keys."""
    names = setting.split(",") if isinstance(setting, str) else list(setting)
    return frozenset(key for key in (location_key(name) for name in names) if key)


def is_sellable(location_type: Any, sellable: frozenset[str]) -> bool:
    return location_key(location_type or DEFAULT_LOCATION_TYPE) in sellable


def type_label(location_type: Any) -> str:
    """The type as shown and stored in ``held`` (Seko's own spelling, spaces tidied)."""
    return " ".join(str(location_type or DEFAULT_LOCATION_TYPE).split())[:100]


def split_by_location(lines: Iterable[tuple[str, Any, int]], sellable: frozenset[str]) -> tuple[
        dict[str, int], dict[str, dict[str, int]]]:
    """(sellable units per SKU, held units per SKU and type) from (sku, location type, units)
    lines. Negative units count as none (Seko does not return them; one that slips by is not
    stock anyone can sell)."""
    free: dict[str, int] = {}
    held: dict[str, dict[str, int]] = {}
    for sku, location_type, units in lines:
        units = max(0, int(units))
        if is_sellable(location_type, sellable):
            free[sku] = free.get(sku, 0) + units
        elif units:
            by_type = held.setdefault(sku, {})
            label = type_label(location_type)
            by_type[label] = by_type.get(label, 0) + units
    return free, held


def add_held(held: Mapping[str, int], changes: Mapping[str, int]) -> dict[str, int]:
    """``held`` moved by ``changes`` ({type: signed units}); a type never goes below 0 and a type
    at 0 is dropped (the next snapshot says what is really there)."""
    out = dict(held or {})
    for location_type, delta in changes.items():
        units = max(0, out.get(location_type, 0) + delta)
        if units:
            out[location_type] = units
        else:
            out.pop(location_type, None)
    return out


def settle_snapshot(running: int, seko: int, unsure: int) -> int:
    """Sellable free stock at a snapshot's start, from our running figure and Seko's answer.

    ``unsure`` is the units of orders Seko accepted within its order-to-stock lag before the
    snapshot ("Retrieve Stock Quantity": an accepted order shows in the figures only minutes
    later). Our running figure already subtracts them; Seko's answer may include none, some or
    all of them, so without drift the truth is ``seko - x`` for some 0 <= x <= unsure. A running
    figure inside [seko - unsure, seko] is consistent with Seko and kept (not counted twice, not
    lost); outside it, it is moved to the nearest end, the smallest correction Seko's answer
    proves. With nothing unsure this is Seko's figure, as before."""
    low = seko - max(0, unsure)
    return min(max(running, low), seko)


# --- Stock pushes: StockAdjustment, StockStatusMovement, StockOvernightSummary ---------------


@dataclass(frozen=True)
class StockChange:
    """One stock change to apply once: ``identity`` names it, ``sellable`` is the signed change
    to sellable free stock, ``held`` the signed changes to held units by location type."""

    identity: str
    kind: str  # "adjustment" or "status_movement" (StockMovement.Kind)
    sku: str
    dc_code: str
    location_type: str
    sellable: int
    held: dict[str, int]
    reason: str
    adjusted_at: datetime | None
    raw: dict[str, Any]


def code_text(value: Any) -> str:
    """A code as text: iHub may send numbers (``100083``), and ``{}`` for empty."""
    if value is None or isinstance(value, dict | list | bool):
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _whole(value: Any, name: str, problems: list[str]) -> int:
    if isinstance(value, bool) or value in (None, "") or isinstance(value, dict | list):
        problems.append(f"{name} is missing or not a number ({value!r})")
        return 0
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not number.is_integer():
        problems.append(f"{name} {value!r} is not a whole number of units")
        return 0
    return int(number)


def _time(value: Any, name: str, problems: list[str]) -> datetime | None:
    """A push time; one without a zone is UTC ("Additional points to note": pushes are UTC)."""
    if value in (None, "") or isinstance(value, dict):
        return None
    try:
        moment = parse_datetime(str(value).strip())
    except ValueError:
        moment = None
    if moment is None:
        problems.append(f"{name} {value!r} is not an ISO 8601 time")
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def message_lines(fields: Mapping[str, Any], name: str) -> list[Any]:
    """The ``List.<name>`` items the Seko client attached to a push record."""
    container = fields.get("List")
    if not isinstance(container, Mapping):
        return []
    items = container.get(name)
    if items is None:
        return []
    return items if isinstance(items, list) else [items]


ADJUSTMENT_SIGNS = {"increase": 1, "decrease": -1}


def parse_adjustment_message(fields: Mapping[str, Any], sellable: frozenset[str]) -> tuple[
        list[StockChange], list[tuple[Any, str]]]:
    """A StockAdjustment ("Push Stock Adjustment"): header plus ``List.StockAdjustmentLineItem``.
    Returns (the changes of its readable lines, [(unreadable line, why)]). Each line is one
    change named ``InternalId/LineInternalId``; its ``Quantity`` is a magnitude, signed by the
    header's ``StockAdjustmentType``; it moves sellable stock when the header's
    ``LocationType`` is sellable, held stock of that type otherwise. A header that cannot be
    read raises ``BadAdjustment`` (no line can be applied). The flat shape we first guessed
    (``ProductCode``/signed ``Quantity`` on the header, no lines) is still read."""
    if not isinstance(fields, Mapping):
        raise BadAdjustment(f"it is not an object: {str(fields)[:200]!r}")
    if "StockAdjustmentType" not in fields and "InternalId" not in fields and fields.get("ProductCode"):
        return [_flat_adjustment(fields, sellable)], []
    problems: list[str] = []
    internal_id = code_text(fields.get("InternalId"))
    if not internal_id:
        problems.append("InternalId is missing, so a repeat could not be recognised")
    kind = code_text(fields.get("StockAdjustmentType"))
    sign = ADJUSTMENT_SIGNS.get(kind.casefold())
    if sign is None:
        problems.append(f"StockAdjustmentType {fields.get('StockAdjustmentType')!r} is neither Increase nor "
                        "Decrease")
    dc_code = code_text(fields.get("DCCode") or fields.get("DcCode"))
    if not dc_code:
        problems.append("DCCode is missing")
    adjusted_at = _time(fields.get("StockAdjustmentDate"), "StockAdjustmentDate", problems)
    location_type = type_label(fields.get("LocationType"))
    if problems:
        raise BadAdjustment("; ".join(problems))
    header = {k: v for k, v in fields.items() if k != "List"}
    changes: list[StockChange] = []
    unreadable: list[tuple[Any, str]] = []
    for number, line in enumerate(message_lines(fields, "StockAdjustmentLineItem"), start=1):
        if not isinstance(line, Mapping):
            unreadable.append((line, f"line {number} is not an object"))
            continue
        line_problems: list[str] = []
        line_id = code_text(line.get("LineInternalId"))
        if not line_id:
            line_problems.append("LineInternalId is missing, so a repeat could not be recognised")
        sku = code_text(line.get("ProductCode"))
        if not sku:
            line_problems.append("ProductCode is missing")
        quantity = _whole(line.get("Quantity"), "Quantity", line_problems)
        if quantity < 0:
            line_problems.append(f"Quantity {quantity} is negative; Seko sends a magnitude signed by the type")
        if line_problems:
            unreadable.append((line, "; ".join(line_problems)))
            continue
        delta = sign * quantity  # type: ignore[operator]  # sign is set when the header is readable
        on_sale = is_sellable(location_type, sellable)
        reason = " ".join(p for p in (code_text(line.get("ReasonCode")), code_text(line.get("ReasonDescription"))) if p)
        changes.append(StockChange(
            identity=f"{internal_id}/{line_id}", kind="adjustment", sku=sku, dc_code=dc_code,
            location_type=location_type, sellable=delta if on_sale else 0,
            held={} if on_sale else {location_type: delta}, reason=reason[:100], adjusted_at=adjusted_at,
            raw={**header, "Line": dict(line)},
        ))
    if not changes and not unreadable:
        raise BadAdjustment("it has no List.StockAdjustmentLineItem lines")
    return changes, unreadable


def _flat_adjustment(fields: Mapping[str, Any], sellable: frozenset[str]) -> StockChange:
    adjustment = parse_adjustment(fields)
    location_type = type_label(fields.get("LocationType"))
    on_sale = is_sellable(location_type, sellable)
    return StockChange(
        identity=adjustment.identity, kind="adjustment", sku=adjustment.sku, dc_code=adjustment.dc_code,
        location_type=location_type, sellable=adjustment.delta if on_sale else 0,
        held={} if on_sale else {location_type: adjustment.delta}, reason=adjustment.reason,
        adjusted_at=adjustment.adjusted_at, raw=dict(fields),
    )


def parse_status_movement(fields: Mapping[str, Any], sellable: frozenset[str]) -> StockChange:
    """A StockStatusMovement ("Push Stock Status Movement"): ``Quantity`` units of
    ``ProductCode`` moved from ``FromLocationType`` to ``ToLocationType`` at DC ``DcCode`` (that
    page's spelling; ``DCCode`` read too). Sellable stock gains them when the destination is
    sellable and loses them when the origin is; held stock moves likewise. Named by
    ``MovementID`` when Seko fills it (a placeholder on older pages), else by the part."""
    if not isinstance(fields, Mapping):
        raise BadAdjustment(f"it is not an object: {str(fields)[:200]!r}")
    problems: list[str] = []
    movement_id = code_text(fields.get("MovementID"))
    identity = ""
    if movement_id:
        identity = f"movement:{movement_id}"
    elif code_text(fields.get("InterfaceRecordId")) and code_text(fields.get("SequenceNumber")):
        identity = f"movement:{push_identity(fields)}"
    else:
        # The documented message has neither a filled MovementID nor an InterfaceRecordId: named
        # by what it says, so Seko's redelivery of the same record is still a repeat.
        identity = "movement:sha1-" + content_digest(fields)
    sku = code_text(fields.get("ProductCode"))
    if not sku:
        problems.append("ProductCode is missing")
    dc_code = code_text(fields.get("DcCode") or fields.get("DCCode"))
    if not dc_code:
        problems.append("DcCode is missing")
    quantity = _whole(fields.get("Quantity"), "Quantity", problems)
    if quantity < 0:
        problems.append(f"Quantity {quantity} is negative")
    origin, destination = fields.get("FromLocationType"), fields.get("ToLocationType")
    if not code_text(origin) or not code_text(destination):
        problems.append("FromLocationType or ToLocationType is missing")
    moved_at = _time(fields.get("UtcDate"), "UtcDate", problems)
    if problems:
        raise BadAdjustment("; ".join(problems))
    from_type, to_type = type_label(origin), type_label(destination)
    delta = 0
    held: dict[str, int] = {}
    if is_sellable(from_type, sellable):
        delta -= quantity
    else:
        held[from_type] = held.get(from_type, 0) - quantity
    if is_sellable(to_type, sellable):
        delta += quantity
    else:
        held[to_type] = held.get(to_type, 0) + quantity
    return StockChange(
        identity=identity, kind="status_movement", sku=sku, dc_code=dc_code, location_type=to_type,
        sellable=delta, held={t: n for t, n in held.items() if n}, reason=f"{from_type} -> {to_type}"[:100],
        adjusted_at=moved_at, raw=dict(fields),
    )


# Delivery bookkeeping that a redelivery of the same record may change (never what it says).
DELIVERY_FIELDS = frozenset({"MessageGroupId", "MessagePart", "MessageTotal"})


def content_digest(fields: Mapping[str, Any]) -> str:
    """A record's content as a hex digest, delivery bookkeeping left out."""
    content = {k: v for k, v in fields.items() if k not in DELIVERY_FIELDS}
    return hashlib.sha1(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


# "Push Stock Overnight Summary" / "Stock service field descriptions": the quantity fields that
# are stock standing in a location type, and that type. Allocated, picked, to-dispatch, put-away
# and unconfirmed (pending GRN) quantities are not free stock of any type and are not read.
OVERNIGHT_QUANTITIES = {
    "QuantityOnHand": "Available Stock",
    "QuantityInCrossDock": "Cross Dock",
    "QuantityInQuarantine": "Quarantine",
    "QuantityInReturns": "Returns",
    "QuantityInQC": "QC",
    "QuantityInQuery": "Query",
}


@dataclass(frozen=True)
class OvernightLine:
    sku: str
    dc_code: str
    at: datetime | None
    by_type: dict[str, int]


def parse_overnight_line(line: Any, header: Mapping[str, Any]) -> OvernightLine:
    """One ``StockOvernightSummaryLineItem``. Its SKU and DC fields are not in the public field
    table: ``ProductCode`` and ``DCCode`` on the line, then on the header, then the DC at the
    front of ``MessageGroupId`` (the page's example reads "DCCL01-4/8/2020 11:59:59 PM") are our
    assumption."""
    if not isinstance(line, Mapping):
        raise BadAdjustment(f"a line is not an object: {str(line)[:200]!r}")
    problems: list[str] = []
    sku = code_text(line.get("ProductCode"))
    if not sku:
        problems.append("ProductCode is missing")
    group = code_text(header.get("MessageGroupId"))
    dc_code = (code_text(line.get("DCCode") or line.get("DcCode"))
               or code_text(header.get("DCCode") or header.get("DcCode"))
               or (group.split("-", 1)[0] if "-" in group else ""))
    if not dc_code:
        problems.append("DCCode is missing")
    at = _time(line.get("AtEndOfDate"), "AtEndOfDate", problems)
    by_type: dict[str, int] = {}
    for name, location_type in OVERNIGHT_QUANTITIES.items():
        if line.get(name) in (None, ""):
            continue
        units = _whole(line.get(name), name, problems)
        if units > 0:
            by_type[location_type] = by_type.get(location_type, 0) + units
    if problems:
        raise BadAdjustment(f"line for {sku or '?'}: " + "; ".join(problems))
    return OvernightLine(sku=sku, dc_code=dc_code, at=at, by_type=by_type)
