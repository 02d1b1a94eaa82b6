"""``manage.py bench [--only oversell] [--json]``: the experiments in bench/, each against its
own simulators and a fresh database, printing one JSON object on stdout (progress on stderr).

Like ``demo``, the command re-runs itself in a child process whose environment points the
settings at a fresh temporary data directory, because Django reads settings once, at start-up.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandParser

CHILD_FLAG = "BRIDGE_BENCH_CHILD"
EXPERIMENTS = ("oversell", "stock_100k")


class Command(BaseCommand):
    help = "Run the experiments in bench/ against fresh simulators; prints one JSON object."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--only", choices=EXPERIMENTS, action="append", help="run only this experiment")
        parser.add_argument("--json", action="store_true", help="one JSON object on one line")
        parser.add_argument("--seed", type=int, default=11)
        parser.add_argument("--keep-data", action="store_true", help="keep the run's data directory")
        parser.add_argument("--chart", default="", help="oversell: also write a PNG chart here")
        parser.add_argument("--detail", action="store_true", help="oversell: add per-strategy detail")
        parser.add_argument("--skus", type=int, default=100_000, help="stock_100k: how many SKUs")

    def handle(self, *args, **options) -> None:
        if os.environ.get(CHILD_FLAG):
            self._run_child(options)
            return
        data_dir = Path(tempfile.mkdtemp(prefix="bridge-bench-"))
        env = {
            **os.environ,
            CHILD_FLAG: "1",
            "DATA_DIR": str(data_dir),
            "DATABASE_URL": f"sqlite:///{data_dir / 'integration.sqlite3'}",
            "Q_BROKER_URL": "",
            "Q_CLUSTER_NAME": f"bench{os.getpid()}",
            "LOG_LEVEL": "WARNING",
            "HTTP_BACKOFF_SECONDS": "0.05",
            "PYTHONUNBUFFERED": "1",
        }
        try:
            code = subprocess.call([sys.executable, os.path.abspath(sys.argv[0]), *sys.argv[1:]], env=env)
        finally:
            if not options["keep_data"]:
                shutil.rmtree(data_dir, ignore_errors=True)
        sys.exit(code)

    def _run_child(self, options: dict) -> None:
        from django.core.management import call_command

        from bench import oversell, stock_100k

        call_command("migrate", verbosity=0, interactive=False)
        data_dir = Path(os.environ["DATA_DIR"])
        report = {}
        for name in options["only"] or EXPERIMENTS:
            if name == "oversell":
                result = oversell.run(data_dir, seed=options["seed"], detail=options["detail"])
                if options["chart"]:
                    oversell.chart(result, Path(options["chart"]))
                report["oversell"] = result
            elif name == "stock_100k":
                report["stock_100k"] = stock_100k.run(data_dir, skus=options["skus"])
        sys.stdout.write(json.dumps(report, indent=None if options["json"] else 2) + "\n")
