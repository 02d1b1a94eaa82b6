"""``manage.py chaos --orders N --seed S --json``: the whole system over real HTTP with faults
injected and, at random moments, the workers, the web server or a simulator killed and started
again (on PostgreSQL + Redis also the broker's queue lost and the database connections
terminated), then run to quiescence and checked against the simulators (demo/chaos.py). Exits non-zero when an invariant
fails. Like ``demo``, it re-runs itself in a child whose settings point at a fresh state:
a SQLite file in its own data directory, or, when DATABASE_URL / Q_BROKER_URL are given,
a fresh PostgreSQL database (dropped afterwards) and a Redis cluster name of its own.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from django.core.management.base import CommandError, CommandParser

from demo.backends import run_environment
from demo.management.commands.demo import COMPRESSED_TIME
from demo.rerun import ChildRunCommand, child_env, child_environment, rerun_self_in_child


class Command(ChildRunCommand):
    help = ("Break the system on purpose (faults; workers, web server, simulators, broker and database killed), "
            "run to quiescence, check the invariants.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--orders", type=int, default=200, help="released orders to generate")
        parser.add_argument("--seed", type=int, default=11)
        parser.add_argument("--json", action="store_true", help="print the report as one JSON object on stdout")
        parser.add_argument("--data-dir", default=None, help="where to keep this run's state (default: fresh)")
        parser.add_argument("--keep-data", action="store_true", help="keep the data directory (and database)")
        parser.add_argument("--timeout", type=float, default=1500, help="give up after this many seconds")
        parser.add_argument("--nodes", type=int, default=1, choices=range(1, 5), metavar="N",
                            help="worker clusters and web servers, as on N machines (PostgreSQL + Redis only)")
        parser.add_argument("--outage-seconds", type=float, default=12.0,
                            help="how long Seko, then Blue Cherry, refuses every call (503, connection refused, a "
                                 "proxy's page in turn); 0 for none")

    def run_parent(self, options: dict) -> int:
        from demo.chaos import CHAOS_ENV

        if options["outage_seconds"] < 0:
            raise CommandError(f"--outage-seconds must be 0 (no outage) or more, not {options['outage_seconds']}.")
        if options["nodes"] > 1 and not (os.environ.get("DATABASE_URL") and os.environ.get("Q_BROKER_URL")):
            raise CommandError("--nodes 2 or more runs as on several machines, which needs a database and a broker "
                               "they share: set DATABASE_URL (PostgreSQL) and Q_BROKER_URL (Redis). SQLite and the "
                               "ORM broker live on one machine.")

        data_dir = Path(options["data_dir"]).resolve() if options["data_dir"] else \
            Path(tempfile.mkdtemp(prefix="bridge-chaos-"))
        data_dir.mkdir(parents=True, exist_ok=True)
        run_id = f"{os.getpid()}"
        backend_env, drop_backends = run_environment(data_dir, run_id, prefix="chaos")
        try:
            return rerun_self_in_child(child_env(data_dir, {**COMPRESSED_TIME, **CHAOS_ENV, **backend_env}))
        finally:
            if not options["keep_data"]:
                drop_backends()
                if not options["data_dir"]:
                    shutil.rmtree(data_dir, ignore_errors=True)

    def run_child(self, options: dict) -> None:
        from demo import chaos

        data_dir, env = child_environment()
        try:
            report = chaos.run(data_dir, env, orders=options["orders"], seed_value=options["seed"],
                               timeout_s=options["timeout"], nodes=options["nodes"],
                               outage_s=options["outage_seconds"])
        except KeyboardInterrupt:
            chaos.say("stopped")
            sys.exit(130)
        except Exception as error:
            chaos.say(f"failed: {type(error).__name__}: {error}")
            sys.exit(2)
        sys.stdout.write(json.dumps(report, indent=None if options["json"] else 2) + "\n")
        sys.exit(0 if report["all_held"] else 1)
