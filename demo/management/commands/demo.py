"""``manage.py demo``: the whole product on one machine; ``--headless`` runs it without a browser
to quiescence and prints one JSON object.

Every run starts from empty state in its own data directory: this command re-runs itself in a
child process whose environment points the settings (database, broker, cluster name) there,
because Django reads settings once, at start-up.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandParser

from demo.backends import run_environment
from demo.rerun import ChildRunCommand, child_env, child_environment, rerun_self_in_child

# The headless run's rates (each 0..1), handed to the scenario as one dict.
FAULT_OPTIONS = ("short_ship_rate", "missing_tracking_rate", "missing_carrier_rate", "duplicate_push_rate",
                 "drop_push_rate", "held_stock_rate", "tracking_later_rate", "adjustment_rate",
                 "preloaded_product_rate")

# Time compressed for the demo: retries, pushes and Blue Cherry's batch cycle in seconds.
COMPRESSED_TIME = {
    "RETRY_BASE_SECONDS": "1",
    "RETRY_MAX_SECONDS": "10",
    "ORDER_LEASE_SECONDS": "60",
    "HTTP_BACKOFF_SECONDS": "0.2",
    "Q_POLL": "0.2",
    "LOG_LEVEL": "WARNING",
    # Dispatches (issue 5): a push gets a few seconds before the poll goes after it.
    "DISPATCH_POLL_MINUTES": "1",
    "DISPATCH_POLL_GRACE_SECONDS": "3",
    "DISPATCH_POLL_OVERLAP_SECONDS": "60",
    "MONITOR_INTERVAL_MINUTES": "1",
    "DIGEST_INTERVAL_MINUTES": "5",
}


# Only while someone watches the interactive demo: SLAs in minutes, so the Overdue page and
# its alerts show something (the headless run must end with nothing overdue).
INTERACTIVE_TIME = {
    "DISPATCH_SLA_HOURS": "0.1",
    "DISPATCH_SLA_BY_SERVICE": "NEXTDAY=0.05,EXPRESS=0.04,STANDARD=0.1",
}


class Command(ChildRunCommand):
    help = "Run the product with both simulators; --headless runs to quiescence and prints JSON."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--headless", action="store_true",
                            help="no browser to drive: run the whole system (its web server too, for Seko's "
                                 "pushes) to quiescence and report")
        parser.add_argument("--orders", type=int, default=300, help="released orders to generate (headless)")
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--json", action="store_true", help="print the report as one JSON object on stdout")
        parser.add_argument("--port", type=int, default=8000, help="web server port (interactive)")
        parser.add_argument("--data-dir", default=None, help="where to keep this run's state (default: fresh)")
        parser.add_argument("--keep-data", action="store_true", help="keep the headless run's data directory")
        parser.add_argument("--timeout", type=float, default=900, help="give up after this many seconds (headless)")
        # Warehouse and push faults for the headless run (issue 5), each a rate between 0 and 1.
        for flag, what in (("short-ship-rate", "dispatches with a line shipped short"),
                           ("missing-tracking-rate", "dispatches without a tracking number"),
                           ("missing-carrier-rate", "dispatches without a carrier"),
                           ("duplicate-push-rate", "push records Seko delivers twice"),
                           ("drop-push-rate", "push records Seko drops (the poll recovers them)"),
                           # Seko as its pages document it (issue 14):
                           ("held-stock-rate", "SKUs with stock also in a non-sellable location type"),
                           ("tracking-later-rate", "dispatches whose tracking number comes later, in its own push"),
                           ("adjustment-rate", "SKUs Seko adjusts (Increase/Decrease pushes) during the run"),
                           ("preloaded-product-rate", "products already at Seko before the item flow sees them")):
            parser.add_argument(f"--{flag}", type=float, default=0.0, help=f"share of {what} (headless)")

    def run_parent(self, options: dict) -> int:
        if options["data_dir"]:
            data_dir = Path(options["data_dir"]).resolve()
        elif options["headless"]:
            data_dir = Path(tempfile.mkdtemp(prefix="bridge-demo-"))
        else:
            data_dir = Path(settings.BASE_DIR) / ".data" / "demo"
        if data_dir.exists() and not options["headless"]:
            shutil.rmtree(data_dir)  # the interactive demo starts clean too
        data_dir.mkdir(parents=True, exist_ok=True)
        # Issue 8: an explicitly given PostgreSQL DATABASE_URL / Redis Q_BROKER_URL is honoured
        # (a fresh database per run, dropped at the end; a cluster name of its own).
        backend_env, drop_backends = run_environment(data_dir, str(os.getpid()), prefix="demo")
        watched = {} if options["headless"] else INTERACTIVE_TIME
        try:
            return rerun_self_in_child(child_env(data_dir, {**COMPRESSED_TIME, **backend_env, **watched}))
        finally:
            drop_backends()
            if options["headless"] and not options["keep_data"] and not options["data_dir"]:
                shutil.rmtree(data_dir, ignore_errors=True)

    def run_child(self, options: dict) -> None:
        from demo import scenario

        data_dir, env = child_environment()
        try:
            if options["headless"]:
                faults = {key: options[key] for key in FAULT_OPTIONS}
                report = scenario.run_headless(data_dir, env, orders=options["orders"], seed_value=options["seed"],
                                               timeout_s=options["timeout"], faults=faults)
                if options["json"]:
                    sys.stdout.write(json.dumps(report) + "\n")
                else:
                    sys.stdout.write(json.dumps(report, indent=2) + "\n")
            else:
                scenario.run_interactive(data_dir, env, port=options["port"], seed_value=options["seed"])
        except KeyboardInterrupt:
            scenario.say("stopped")
            time.sleep(0)
            sys.exit(130)
        except Exception as error:
            scenario.say(f"failed: {error}")
            sys.exit(1)
