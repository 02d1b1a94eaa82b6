"""``manage.py bench [--only oversell] [--json]``: the experiments in bench/, each against its
own simulators and a fresh database, printing one JSON object on stdout (progress on stderr).

Issue 9 (performance): ``manage.py bench --json [--only orders,stock,dashboard,webhook]
[--scale small|full] [--database-url postgres://... --broker-url redis://...]`` runs the
performance benchmarks (docs/performance.md), each in its own child process on its own fresh
database; without ``--only`` it runs those four. ``--only items`` (20,000 items onboarded at
150 ms a call) and ``--only peakday`` (every flow at once through a flash sale) run when named;
their figures, and the dashboard's, carry ``{"value", "target", "met"}``. ``--only oversell``
and ``--only stock_100k`` run the earlier experiments as before.

Like ``demo``, the command re-runs itself in a child process whose environment points the
settings at a fresh temporary data directory, because Django reads settings once, at start-up.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from django.core.management.base import CommandParser

from demo.rerun import ChildRunCommand, child_env, rerun_self_in_child

EXPERIMENTS = ("oversell", "stock_100k")
PERF_BENCHMARKS = ("orders", "stock", "dashboard", "webhook")  # issue 9, the default set
PEAK_DAY_BENCHMARKS = ("items", "peakday")  # run when named: every flow at once, item onboarding
KNOWN = PERF_BENCHMARKS + PEAK_DAY_BENCHMARKS + EXPERIMENTS


class Command(ChildRunCommand):
    help = "Run the experiments in bench/ against fresh simulators; prints one JSON object."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--only", action="append", type=_names,
                            help=f"run only these, comma-separated: {', '.join(KNOWN)}")
        # --- issue 9: performance benchmarks ---
        parser.add_argument("--scale", choices=("small", "full"), default="full",
                            help="small: a quick run proving the command works (CI); full: the targets' sizes")
        parser.add_argument("--database-url", default="",
                            help="a PostgreSQL server URL: each benchmark gets its own fresh database on it "
                                 "(default: a fresh SQLite file)")
        parser.add_argument("--broker-url", default="", help="a Redis URL for django-q2 (default: the ORM broker)")
        parser.add_argument("--json", action="store_true", help="one JSON object on one line")
        parser.add_argument("--seed", type=int, default=11)
        parser.add_argument("--keep-data", action="store_true", help="keep the run's data directory")
        parser.add_argument("--chart", default="", help="oversell: also write a PNG chart here")
        parser.add_argument("--detail", action="store_true", help="oversell: add per-strategy detail")
        parser.add_argument("--skus", type=int, default=100_000, help="stock_100k: how many SKUs")
        # The peak day's shape (bench/peakday.py); each defaults to its scale's value and reaches
        # the benchmark's child as the PEAKDAY_* variable of the same name.
        for flag, kind, what in PEAK_DAY_SHAPE:
            parser.add_argument(f"--peakday-{flag}", type=kind, default=None, help=f"peakday: {what}")

    def run_parent(self, options: dict) -> int:
        names = [name for chosen in options["only"] or [list(PERF_BENCHMARKS)] for name in chosen]
        if any(name in PERF_BENCHMARKS + PEAK_DAY_BENCHMARKS for name in names):
            return self._run_perf(names, options)
        from bench.perf_runner import bench_settings

        data_dir = Path(tempfile.mkdtemp(prefix="bridge-bench-"))
        try:
            return rerun_self_in_child(child_env(data_dir, bench_settings(data_dir, cluster=f"bench{os.getpid()}")))
        finally:
            if not options["keep_data"]:
                shutil.rmtree(data_dir, ignore_errors=True)

    def _run_perf(self, names: list[str], options: dict) -> int:
        for flag, _, _ in PEAK_DAY_SHAPE:
            value = options[f"peakday_{flag.replace('-', '_')}"]
            if value is not None:
                os.environ[f"PEAKDAY_{flag.replace('-', '_').upper()}"] = str(value)
        """Issue 9: one child process per benchmark, each with its own data directory and fresh
        database, so no benchmark inherits another's rows, caches or memory high-water mark."""
        from bench import perf_runner

        report = perf_runner.run_all(names, scale=options["scale"], database_url=options["database_url"],
                                     broker_url=options["broker_url"], keep_data=options["keep_data"])
        sys.stdout.write(json.dumps(report, indent=None if options["json"] else 2) + "\n")
        return 1 if report.get("failed") else 0

    def run_child(self, options: dict) -> None:
        from django.core.management import call_command

        from bench import oversell, stock_100k

        call_command("migrate", verbosity=0, interactive=False)
        data_dir = Path(os.environ["DATA_DIR"])
        report = {}
        if os.environ.get("BRIDGE_BENCH_PERF"):  # issue 9: one performance benchmark, in this child
            from bench import perf_runner

            report = perf_runner.run_child(os.environ["BRIDGE_BENCH_PERF"], data_dir, scale=options["scale"])
            sys.stdout.write(json.dumps(report) + "\n")
            return
        names = [name for chosen in options["only"] or [list(EXPERIMENTS)] for name in chosen]
        for name in names:
            if name == "oversell":
                result = oversell.run(data_dir, seed=options["seed"], detail=options["detail"])
                if options["chart"]:
                    oversell.chart(result, Path(options["chart"]))
                report["oversell"] = result
            elif name == "stock_100k":
                report["stock_100k"] = stock_100k.run(data_dir, skus=options["skus"])
        sys.stdout.write(json.dumps(report, indent=None if options["json"] else 2) + "\n")


def _positive_int(value: str) -> int:
    number = int(value)
    if number <= 0:
        from argparse import ArgumentTypeError

        raise ArgumentTypeError(f"must be a whole number above 0, not {value}")
    return number


def _positive(value: str) -> float:
    number = float(value)
    if not number > 0:
        from argparse import ArgumentTypeError

        raise ArgumentTypeError(f"must be a number above 0, not {value}")
    return number


def _share(value: str) -> float:
    number = float(value)
    if not 0 < number <= 1:
        from argparse import ArgumentTypeError

        raise ArgumentTypeError(f"must be a share above 0 and at most 1 (0.5 is half), not {value}")
    return number


def _latency(value: str) -> int:
    number = int(value)
    if number < 0:
        from argparse import ArgumentTypeError

        raise ArgumentTypeError(f"must be 0 or more milliseconds, not {value}")
    return number


# (flag after --peakday-, its type, what it sets)
PEAK_DAY_SHAPE = [
    ("orders", _positive_int, "orders released over the day (full: 20000, small: 400)"),
    ("minutes", _positive, "how long the releases run (full: 15, small: 2.5)"),
    ("burst-share", _share, "the share of the orders released in the flash sale (0.5)"),
    ("burst-fraction", _share, "the share of the run the flash sale lasts, from its start (0.2)"),
    ("users", _positive_int, "signed-in dashboard users clicking through pages (20)"),
    ("latency-ms", _latency, "what both simulators add to every call (150)"),
    ("push-interval-s", _positive, "seconds between Seko's push cycles (60)"),
]


def _names(value: str) -> list[str]:
    """``--only orders,stock``: comma-separated names, each one we know."""
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in KNOWN]
    if unknown or not names:
        from argparse import ArgumentTypeError

        raise ArgumentTypeError(f"unknown benchmark {', '.join(unknown) or value!r}; "
                                f"known: {', '.join(KNOWN)}")
    return names
