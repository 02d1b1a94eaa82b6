"""The stock flow in the headless demo (issue 6): once the orders have settled, a snapshot of
Seko's free stock, the figures published to Blue Cherry and followed until applied, then the
audit. Run in the demo process through the same flow functions the scheduled tasks call.

With Seko's documented shapes: a share of SKUs also hold stock in a location type that is not
for sale (``held_stock_rate``), and a share are adjusted in the warehouse during the run
(``adjustment_rate``: increases, decreases and moves between location types), all pushed as
Seko documents them."""

from __future__ import annotations

import random
import time
from typing import Any

from django.conf import settings
from django.db.models import Sum

from demo.launcher import RunningSimulator
from demo.seed import WAREHOUSES, bluecherry_items, bluecherry_rows
from exceptions import catalogue
from exceptions.models import IntegrationException
from integration.models import AtsPublication, Order, StockMovement, StockPosition
from integration.stock import flow as stock

# Blue Cherry applies ATS batches every minutes in production; the demo compresses that.
DEMO_BATCH_CYCLE_SECONDS = 1.0
# Seko shows an accepted order in its stock figures about 5 minutes later; the demo compresses
# that too, on both sides (the simulator's lag and what the integration allows for).
DEMO_ORDER_STOCK_LAG_SECONDS = 3
HELD_TYPES = ("Quarantine", "QC", "Query")


def configure(seko: RunningSimulator) -> None:
    seko.control("POST", "_sim/stock/config", {"lag_seconds": DEMO_ORDER_STOCK_LAG_SECONDS})
    settings.SEKO_ORDER_STOCK_LAG_SECONDS = DEMO_ORDER_STOCK_LAG_SECONDS


def _skus(bluecherry: RunningSimulator) -> list[str]:
    return sorted(item["sku"] for item in bluecherry_items(bluecherry))


def seed_held_stock(seko: RunningSimulator, bluecherry: RunningSimulator, rate: float, seed: int) -> int:
    """A share ``rate`` of SKUs also hold a few units in a location type not for sale."""
    if rate <= 0:
        return 0
    rng = random.Random(f"held:{seed}")
    dc = WAREHOUSES[0][1]
    rows = [{"ProductCode": sku, "DCCode": dc, "LocationType": rng.choice(HELD_TYPES), "Quantity": rng.randint(1, 9)}
            for sku in _skus(bluecherry) if rng.random() < rate]
    if rows:
        seko.control("POST", "_sim/stock", rows)
    return len(rows)


def adjust_warehouse(seko: RunningSimulator, bluecherry: RunningSimulator, rate: float, seed: int) -> int:
    """A share ``rate`` of SKUs adjusted at Seko: increases and decreases (a few lines to a
    message, some in a held location type) and, for some, a unit moved to Quarantine. Returns
    the adjustment lines made."""
    if rate <= 0:
        return 0
    rng = random.Random(f"adjust:{seed}")
    dc = WAREHOUSES[0][1]
    adjustments, moves = [], []
    for sku in _skus(bluecherry):
        if rng.random() >= rate:
            continue
        draw = rng.random()
        if draw < 0.2:
            moves.append({"ProductCode": sku, "DCCode": dc, "FromLocationType": "Available Stock",
                          "ToLocationType": "Quarantine", "Quantity": 1})
            continue
        increase = draw < 0.6
        location_type = "Available Stock" if rng.random() < 0.8 else "Quarantine"
        adjustments.append({"ProductCode": sku, "DCCode": dc, "LocationType": location_type,
                            "Quantity": rng.randint(1, 5) if increase else -1,
                            "Message": f"{location_type}:{increase}:{len(adjustments) // 4}"})
    if adjustments:
        seko.control("POST", "_sim/warehouse/adjust", adjustments)
    if moves:
        seko.control("POST", "_sim/warehouse/move", moves)
    return len(adjustments)


def settle(bluecherry: RunningSimulator, timeout_s: float = 120) -> None:
    bluecherry.control("POST", "_sim/faults", {"batch_cycle_seconds": DEMO_BATCH_CYCLE_SECONDS})
    time.sleep(DEMO_ORDER_STOCK_LAG_SECONDS)  # so the snapshot sees the last orders at Seko
    stock.apply_pending_stock_parts()
    stock.take_snapshot()
    stock.publish_available()
    follow_until_applied(timeout_s=timeout_s, pause_s=0.5,
                         failure="Blue Cherry did not apply the stock batches in time")
    stock.audit_bluecherry()


def follow_until_applied(*, timeout_s: float, pause_s: float, failure: str) -> None:
    """Follow the published batches until Blue Cherry has applied every one (its batch cycle
    set short first); raise ``failure`` if it has not within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while AtsPublication.objects.filter(status=AtsPublication.Status.QUEUED).exists():
        if time.monotonic() > deadline:
            raise RuntimeError(failure)
        time.sleep(pause_s)
        stock.follow_publications()


def report(seko: RunningSimulator | None = None, bluecherry: RunningSimulator | None = None) -> dict[str, Any]:
    applied = AtsPublication.objects.filter(status=AtsPublication.Status.APPLIED)
    figures: dict[str, Any] = {
        "skus": StockPosition.objects.count(),
        "pushed": AtsPublication.objects.aggregate(n=Sum("count"))["n"] or 0,
        "batches_applied": applied.count(),
        "drift": IntegrationException.objects.filter(kind=catalogue.STOCK_DRIFT.code, status="open").count(),
        # Orders Seko refused for no free stock: what the buffer is there to prevent.
        "oversell_rejections": _rejected_for_stock(),
        "held_units": StockPosition.objects.aggregate(n=Sum("held_units"))["n"] or 0,
        "adjustments_applied": StockMovement.objects.filter(kind=StockMovement.Kind.ADJUSTMENT).count(),
        "status_movements_applied": StockMovement.objects.filter(kind=StockMovement.Kind.STATUS_MOVEMENT).count(),
    }
    if seko is not None:
        state = seko.control("GET", "_sim/state")
        figures["adjustments_pushed"] = state.get("adjustment_lines_pushed", 0)
        figures["status_movements_pushed"] = state.get("status_movements_pushed", 0)
        if bluecherry is not None:
            figures["published_above_sellable"] = published_above_sellable(seko, bluecherry)
    return figures


def published_above_sellable(seko: RunningSimulator, bluecherry: RunningSimulator) -> int:
    """SKUs whose Blue Cherry channel_available exceeds Seko's sellable free stock, both read from
    the simulators' own APIs (Seko's through Retrieve Stock Quantity, by location type)."""
    location, dc = WAREHOUSES[0][0], WAREHOUSES[0][1]
    sellable_types = stock.sellable_location_types()
    sellable: dict[str, int] = {}
    lines = seko.control("GET", f"stock/v3/quantity?dc={dc}")["List"]["StockQuantityLineItem"]
    for line in lines:
        if stock.stock_rules.is_sellable(line.get("LocationType"), sellable_types):
            sku = str(line["ProductCode"])
            sellable[sku] = sellable.get(sku, 0) + int(line.get("Quantity") or 0)
    above = 0
    for row in bluecherry_rows(bluecherry, f"inventory?location={location}"):
        channel = row.get("channel_available")
        if isinstance(channel, int) and channel > sellable.get(str(row.get("sku")), 0):
            above += 1
    return above


def _rejected_for_stock() -> int:
    # Counted in Python: portable across SQLite and PostgreSQL, and a demo has hundreds of orders.
    rejected = Order.objects.filter(status=Order.Status.REJECTED).values_list("problems", flat=True)
    return sum(1 for problems in rejected if any(p.get("kind") == catalogue.ORDER_REJECTED_STOCK.code
                                                 for p in problems or []))
