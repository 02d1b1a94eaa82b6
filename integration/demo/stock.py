"""The stock flow in the headless demo (issue 6): once the orders have settled, a snapshot of
Seko's free stock, the figures published to Blue Cherry and followed until applied, then the
audit. Run in the demo process through the same flow functions the scheduled tasks call."""

from __future__ import annotations

import time
from typing import Any

from django.db.models import Sum

from exceptions import catalogue
from exceptions.models import IntegrationException
from integration.flows import stock
from integration.models import AtsPublication, Order, StockPosition
from simulators.launcher import RunningSimulator

# Blue Cherry applies ATS batches every minutes in production; the demo compresses that.
DEMO_BATCH_CYCLE_SECONDS = 1.0


def settle(bluecherry: RunningSimulator, timeout_s: float = 120) -> None:
    bluecherry.control("POST", "_sim/faults", {"batch_cycle_seconds": DEMO_BATCH_CYCLE_SECONDS})
    stock.take_snapshot()
    stock.publish_available()
    deadline = time.monotonic() + timeout_s
    while AtsPublication.objects.filter(status=AtsPublication.Status.QUEUED).exists():
        if time.monotonic() > deadline:
            raise RuntimeError("Blue Cherry did not apply the stock batches in time")
        time.sleep(0.5)
        stock.follow_publications()
    stock.audit_bluecherry()


def report() -> dict[str, Any]:
    applied = AtsPublication.objects.filter(status=AtsPublication.Status.APPLIED)
    return {
        "skus": StockPosition.objects.count(),
        "pushed": AtsPublication.objects.aggregate(n=Sum("count"))["n"] or 0,
        "batches_applied": applied.count(),
        "drift": IntegrationException.objects.filter(kind=catalogue.STOCK_DRIFT.code, status="open").count(),
        # Orders Seko refused for no free stock: what the buffer is there to prevent.
        "oversell_rejections": _rejected_for_stock(),
    }


def _rejected_for_stock() -> int:
    # Counted in Python: portable across SQLite and PostgreSQL, and a demo has hundreds of orders.
    rejected = Order.objects.filter(status=Order.Status.REJECTED).values_list("problems", flat=True)
    return sum(1 for problems in rejected if any(p.get("kind") == catalogue.ORDER_REJECTED_STOCK.code
                                                 for p in problems or []))
