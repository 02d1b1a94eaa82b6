"""Item onboarding at speed (``manage.py bench --only items``): new Blue Cherry items to
products at Seko and LIVE in Blue Cherry, over real HTTP to both simulators, each answering
every API call ``LATENCY_MS`` later, as remote services do.

Blue Cherry generates the items first (PENDING_WMS, the default 2% invalid; not timed). Then one
``items.sync_items()`` is timed, as the heartbeat runs it: the pull into the mirror, validation,
a ProductMaster submit per item at Seko (``ITEM_SYNC_CONCURRENCY`` in flight), LIVE in Blue
Cherry per batch, and the bookkeeping. ``items_per_s`` counts only items that reached LIVE
(in Blue Cherry and in our mirror) against the whole run's time; the invalid ones are handled
but never LIVE, so they only cost. Exactly-once is read from the simulators: how many products
Seko accepted more than once (a submit or update it took), how many items Blue Cherry was told
LIVE more than once.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Count, Max, Min
from django.utils import timezone

from bench.perf_common import figure, group_cpu_seconds, say

LATENCY_MS = 150
TARGET_ITEMS_PER_S = 100
SCALES = {"small": 1_000, "full": 20_000}
SEED = 20


def run(data_dir: Path, *, scale: str) -> dict[str, Any]:
    """The benchmark's child: fresh simulators in ``data_dir``, this process's fresh database."""
    from demo.launcher import running_simulators

    with running_simulators(data_dir) as (bluecherry, seko):
        return measure(bluecherry, seko, items=SCALES[scale], latency_ms=LATENCY_MS) | {"scale": scale}


def measure(bluecherry: Any, seko: Any, *, items: int, latency_ms: int = LATENCY_MS) -> dict[str, Any]:
    """Generate ``items`` in Blue Cherry, time one ``sync_items()`` with ``latency_ms`` on every
    call at both simulators, and return the figures. The simulators must be fresh (or reset)."""
    from integration.items import flow as item_flow

    generated = bluecherry.control("POST", "_sim/generate", {"items": items, "orders": 0, "seed": SEED}, timeout=900)
    invalid = len(generated["faults"]["invalid_item"])
    say(f"items: Blue Cherry generated {generated['items']} items ({invalid} invalid); {latency_ms} ms a call, "
        f"{settings.ITEM_SYNC_CONCURRENCY} in flight")
    for sim in (bluecherry, seko):
        sim.control("POST", "_sim/faults", {"latency_ms": latency_ms})
    sims = {"bluecherry": bluecherry, "seko": seko}
    sims_cpu0 = {name: group_cpu_seconds(sim.process.pid) for name, sim in sims.items()}
    cpu0 = _own_cpu_seconds()
    started_at = timezone.now()
    with counting_queries() as queries:
        started = time.perf_counter()
        result = item_flow.sync_items()
        elapsed = time.perf_counter() - started
    cpu = _own_cpu_seconds() - cpu0
    sims_cpu = {name: round(group_cpu_seconds(sim.process.pid) - sims_cpu0[name], 2) for name, sim in sims.items()}
    for sim in (bluecherry, seko):
        sim.control("POST", "_sim/faults", {})

    report = _figures(bluecherry, seko, items=items, invalid=invalid, elapsed=elapsed, latency_ms=latency_ms)
    report.update({
        "queries": queries(),
        "queries_per_item": round(queries() / items, 3),
        "cpu_s": {"integration": round(cpu, 2), **sims_cpu},
        "cpu_ms_per_item": round((cpu + sum(sims_cpu.values())) * 1000 / items, 2),
        "result": result,
        "calls_ms": calls_since(started_at),
        "timeline_s": timeline(started_at),
    })
    live = report["items_per_s"]["value"]
    say(f"items: {items} in {elapsed:.1f}s, {live} LIVE/s (target {TARGET_ITEMS_PER_S}), {report['queries']} "
        f"queries, CPU {report['cpu_s']}")
    return report


def _figures(bluecherry: Any, seko: Any, *, items: int, invalid: int, elapsed: float,
             latency_ms: int) -> dict[str, Any]:
    from integration.models import Item

    by_status = dict(Item.objects.values_list("sync_status").annotate(n=Count("id")).order_by())
    live_both = Item.objects.filter(sync_status=Item.SyncStatus.LIVE, bc_status=Item.BCStatus.LIVE).count()
    at_seko, at_bluecherry = seko.control("GET", "_sim/state"), bluecherry.control("GET", "_sim/state")
    live_in_bluecherry = at_bluecherry["items_by_status"].get("LIVE", 0)
    return {
        "items": items,
        "invalid_items": invalid,
        "latency_ms": latency_ms,
        "concurrency": settings.ITEM_SYNC_CONCURRENCY,
        "batch_size": settings.ITEM_BATCH_SIZE,
        "batches_in_flight": settings.ITEM_BATCHES_IN_FLIGHT,
        "elapsed_s": round(elapsed, 2),
        "items_per_s": figure(round(live_both / elapsed, 1), TARGET_ITEMS_PER_S, at_most=False),
        "handled_per_s": round(items / elapsed, 1),
        "sync_status": by_status,
        "live_in_blue_cherry": live_in_bluecherry,
        # Every valid item LIVE, in our mirror and in Blue Cherry: none left behind.
        "valid_items_not_live": figure(items - invalid - min(live_both, live_in_bluecherry), 0),
        "products_accepted": at_seko["products_accepted"],
        "products_accepted_more_than_once": figure(at_seko["products_accepted_more_than_once"], 0),
        "items_set_live": at_bluecherry["items_set_live"],
        "items_set_live_more_than_once": figure(at_bluecherry["items_set_live_more_than_once"], 0),
    }


@contextmanager
def counting_queries() -> Iterator[Callable[[], int]]:
    """Count every statement this process sends to the database (an ``executemany`` is one
    statement, one round trip), without keeping them: a 20,000-item run would overflow
    ``connection.queries``, which holds the last 9,000."""
    count = 0

    def counted(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal count
        count += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(counted):
        yield lambda: count


def _own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def calls_since(started_at: datetime) -> dict[str, dict[str, int]]:
    """Per operation: how many calls and their p50, p90 and max as the clients measured them."""
    from integration.models import MessageLog

    durations: dict[str, list[int]] = {}
    for operation, ms in MessageLog.objects.filter(created_at__gte=started_at).values_list("operation", "duration_ms"):
        durations.setdefault(operation, []).append(ms or 0)
    return {op: {"calls": len(v), "p50": sorted(v)[len(v) // 2], "p90": sorted(v)[len(v) * 9 // 10], "max": max(v)}
            for op, v in durations.items()}


def timeline(started_at: datetime) -> dict[str, float | None]:
    """Seconds from the start to Seko's first and last acknowledgement and the last LIVE: the
    pull is over before the first acknowledgement."""
    from integration.models import Item

    steps = Item.objects.aggregate(first_acknowledged=Min("seko_acknowledged_at"),
                                   last_acknowledged=Max("seko_acknowledged_at"), last_live=Max("live_at"))
    return {name: round((at - started_at).total_seconds(), 2) if at else None for name, at in steps.items()}
