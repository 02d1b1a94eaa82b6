"""Benchmark: a snapshot and a push of 100,000 SKUs (``manage.py bench --only stock_100k``).

Seko's simulator is seeded with free stock for N SKUs (not timed), then timed: the full snapshot
(one ``stock/v3/quantity`` without productCodes, parsed and upserted in bulk), the first publish
(every SKU's figure computed, written in bulk and sent to Blue Cherry in batches of
``STOCK_PUSH_BATCH_SIZE``), a second publish (nothing changed: nothing sent), and a second
snapshot after 1% of the SKUs moved. Blue Cherry's batch cycle is set long so its simulator
does not compete for the CPU while we measure; applying batches is Blue Cherry's work, not ours.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

from bench.perf_common import say
from demo.launcher import running_simulators
from demo.seed import seed_mappings
from integration.stock import flow as stock

DC = "DCCL01"
SEED_CHUNK = 10_000


def timed(label: str, fn: Any) -> tuple[Any, float, int]:
    # Issue 9: count statements with a bare execute wrapper. CaptureQueriesContext switches on
    # the debug cursor, which renders every statement's SQL with its parameters: profiled, that
    # was an eighth of the 100,000-SKU publish, a cost production never pays.
    executed = [0]

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        executed[0] += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        started = time.perf_counter()
        value = fn()
        elapsed = time.perf_counter() - started
    say(f"{label}: {elapsed:.1f}s, {executed[0]} queries")
    return value, round(elapsed, 2), executed[0]


def run(data_dir: Path, *, skus: int = 100_000) -> dict[str, Any]:
    with running_simulators(data_dir) as (bluecherry, seko):
        settings.HTTP_READ_TIMEOUT = 300  # one answer of 100,000 lines from a simulator on a busy machine
        bluecherry.control("POST", "_sim/faults", {"batch_cycle_seconds": 86400})
        seed_mappings()
        codes = [f"SKU{i:06d}-BLK-M" for i in range(skus)]
        started = time.perf_counter()
        for start in range(0, skus, SEED_CHUNK):
            seko.control("POST", "_sim/stock", [{"ProductCode": c, "DCCode": DC, "Quantity": 5 + i % 50}
                                                for i, c in enumerate(codes[start:start + SEED_CHUNK], start)],
                         timeout=600)
        say(f"seeded Seko with {skus} SKUs in {time.perf_counter() - started:.0f}s (not timed)")
        snap, snap_s, snap_q = timed("snapshot", stock.take_snapshot)
        pub, pub_s, pub_q = timed("publish", stock.publish_available)
        again, again_s, again_q = timed("publish, nothing changed", stock.publish_available)
        moved = codes[::100]
        seko.control("POST", "_sim/stock", [{"ProductCode": c, "DCCode": DC, "Quantity": 1} for c in moved])
        snap2, snap2_s, snap2_q = timed("snapshot after 1% moved", stock.take_snapshot)
        pub2, pub2_s, pub2_q = timed("publish after 1% moved", stock.publish_available)
    return {
        "skus": skus,
        "snapshot_s": snap_s, "snapshot_queries": snap_q,
        "publish_s": pub_s, "publish_queries": pub_q, "pushed": pub.pushed, "batches": pub.batches,
        "snapshot_and_push_s": round(snap_s + pub_s, 2),
        "unchanged_publish_s": again_s, "unchanged_publish_queries": again_q, "unchanged_pushed": again.pushed,
        "second_snapshot_s": snap2_s, "second_snapshot_queries": snap2_q,
        "second_snapshot_corrected": snap2.skus_corrected,
        "second_publish_s": pub2_s, "second_publish_queries": pub2_q, "second_pushed": pub2.pushed,
        "batch_size": settings.STOCK_PUSH_BATCH_SIZE,
        "database": connection.vendor,
        "snapshot_skus": snap.skus,
    }
