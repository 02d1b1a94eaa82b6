"""A checked Seko dispatch confirmation -> Blue Cherry ``POST shipments`` body. Pure.

Seko saw one line per SKU (lines repeating a SKU were consolidated on the way out), so the
quantity dispatched for a SKU is split back across the order's lines of that SKU in line_no
order, filling each line's open quantity. Every order line is listed, shipped 0 where nothing
of it left, and ``cancel_remainder`` is always set: Seko closes an order on its single dispatch,
so whatever was not shipped will not follow.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from integration.dispatches.rules import OrderView, open_quantity, parse_dispatch_date, shipped_by_sku, text


@dataclass(frozen=True)
class LineOutcome:
    line_no: int
    sku: str
    open: int
    shipped: int

    @property
    def cancelled(self) -> int:
        return self.open - self.shipped


def split_back(totals: Mapping[str, int], lines: list[Mapping[str, Any]]) -> list[LineOutcome]:
    """Each SKU's dispatched quantity spread over that SKU's lines in line_no order."""
    left = dict(totals)
    outcomes = []
    for line in sorted(lines, key=lambda line: int(line["line_no"])):
        sku, room = str(line["sku"]), max(0, open_quantity(line))
        take = min(room, left.get(sku, 0))
        left[sku] = left.get(sku, 0) - take
        outcomes.append(LineOutcome(line_no=int(line["line_no"]), sku=sku, open=room, shipped=take))
    return outcomes


def map_shipment(confirmation: Mapping[str, Any], order: OrderView, ship_via: str) -> tuple[dict, list[LineOutcome]]:
    """The shipment body for a confirmation that passed ``validate_dispatch``, and what it does
    to each order line."""
    totals, _ = shipped_by_sku(confirmation)
    outcomes = split_back(totals, order.lines)
    ship_date = parse_dispatch_date(confirmation.get("DispatchDate"))
    tracking = text(confirmation.get("TrackingNumber"))
    body = {
        "ord_num": order.ord_num,
        "wms_dispatch_id": text(confirmation.get("DispatchId")),
        "ship_date": ship_date.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if ship_date else None,
        "carrier": text(confirmation.get("CourierName")),
        "ship_via": ship_via,
        "tracking_numbers": [tracking] if tracking else [],
        "lines": [{"line_no": o.line_no, "sku": o.sku, "qty_shipped": o.shipped} for o in outcomes],
        "cancel_remainder": True,
    }
    return body, outcomes
