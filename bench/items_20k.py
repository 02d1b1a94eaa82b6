"""Benchmark: 20,000 Blue Cherry items to Seko products in one run of the item flow.

    .venv/bin/python bench/items_20k.py [--items 20000] [--concurrency 4] [--keep-data]

Fresh simulators and a fresh SQLite database in a temporary directory. Blue Cherry generates
the items (PENDING_WMS, the default 2% of them invalid; not timed); then one
``items.sync_items()`` is timed: the pull (pages of 500 into the mirror in bulk), validation,
a ProductMaster submit per item at Seko, and LIVE per item in Blue Cherry, with the
bookkeeping in bulk per batch. Prints one JSON object with the time and the number of
database queries (so a query per item would show). A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def run(data_dir: Path, *, items: int = 20_000, latency_ms: int = 0) -> dict[str, Any]:
    """Run inside a configured Django process whose database is fresh and migrated."""
    from django.conf import settings
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from bench.perf_common import say
    from demo.launcher import running_simulators
    from integration.items import flow as item_flow
    from integration.models import Item, MessageLog

    with running_simulators(data_dir) as (bluecherry, seko):
        generated = bluecherry.control("POST", "_sim/generate", {"items": items, "orders": 0, "seed": 20},
                                       timeout=600)
        say(f"Blue Cherry generated {generated['items']} items ({len(generated['faults']['invalid_item'])} invalid)")
        for sim in (bluecherry, seko):  # every call answered this much later, as over a real network
            sim.control("POST", "_sim/faults", {"latency_ms": latency_ms})

        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            result = item_flow.sync_items()
            elapsed = time.perf_counter() - started
        say(f"sync_items: {elapsed:.1f}s, {len(queries)} queries: {result}")
        by_status = {s: Item.objects.filter(sync_status=s).count() for s in Item.SyncStatus.values}
        at_seko = seko.control("GET", "_sim/state")
        return {
            "items": items,
            "concurrency": settings.ITEM_SYNC_CONCURRENCY,
            "batch_size": settings.ITEM_BATCH_SIZE,
            "elapsed_s": round(elapsed, 1),
            "items_per_s": round(items / elapsed, 1),
            "latency_ms": latency_ms,
            "queries": len(queries),
            "http_exchanges_logged": MessageLog.objects.count(),
            "result": result,
            "sync_status": {k: v for k, v in by_status.items() if v},
            "seko_state": at_seko,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=None, help="ITEM_SYNC_CONCURRENCY for this run")
    parser.add_argument("--latency-ms", type=int, default=0, help="both simulators answer every call this much later")
    parser.add_argument("--keep-data", action="store_true")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="bridge-bench-items-"))
    # Settings are read once, at start-up: point them at the fresh directory before Django loads.
    os.environ.update({"DATA_DIR": str(data_dir), "DATABASE_URL": f"sqlite:///{data_dir / 'integration.sqlite3'}",
                       "DJANGO_SETTINGS_MODULE": "config.settings", "LOG_LEVEL": "WARNING"})
    if args.concurrency:
        os.environ["ITEM_SYNC_CONCURRENCY"] = str(args.concurrency)
    sys.path.insert(0, str(ROOT))
    import django
    from django.core.management import call_command

    django.setup()
    try:
        call_command("migrate", verbosity=0, interactive=False)
        report = run(data_dir, items=args.items, latency_ms=args.latency_ms)
    finally:
        if not args.keep_data:
            shutil.rmtree(data_dir, ignore_errors=True)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
