"""Item onboarding at any size, outside ``manage.py bench`` (which runs ``bench/items.py`` at
1,000 or 20,000 items): for trying another size, latency or concurrency.

    .venv/bin/python bench/items_20k.py [--items 20000] [--latency-ms 150] [--concurrency 32] [--keep-data]

Fresh simulators and a fresh SQLite database in a temporary directory; prints one JSON object
(the figures of ``bench.items.measure``). A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=None, help="ITEM_SYNC_CONCURRENCY for this run")
    parser.add_argument("--latency-ms", type=int, default=150, help="both simulators answer every call this much later")
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
    from bench.items import measure
    from demo.launcher import running_simulators

    try:
        call_command("migrate", verbosity=0, interactive=False)
        with running_simulators(data_dir) as (bluecherry, seko):
            report = measure(bluecherry, seko, items=args.items, latency_ms=args.latency_ms)
    finally:
        if not args.keep_data:
            shutil.rmtree(data_dir, ignore_errors=True)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
