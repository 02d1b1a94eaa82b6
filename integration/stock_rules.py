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
    quantity = fields.get("Quantity")
    delta = 0
    if isinstance(quantity, bool) or quantity in (None, ""):
        problems.append(f"Quantity is missing or not a number ({quantity!r})")
    else:
        try:
            number = float(quantity)
        except (TypeError, ValueError):
            number = math.nan
        if not number.is_integer():
            problems.append(f"Quantity {quantity!r} is not a whole number of units")
        else:
            delta = int(number)
    adjusted_at = None
    raw_date = fields.get("AdjustmentDate")
    if raw_date not in (None, ""):
        try:
            adjusted_at = parse_datetime(str(raw_date))
        except ValueError:
            adjusted_at = None
        if adjusted_at is None:
            problems.append(f"AdjustmentDate {raw_date!r} is not an ISO 8601 time")
        elif adjusted_at.tzinfo is None:
            adjusted_at = adjusted_at.replace(tzinfo=UTC)  # iHub times are UTC
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
