"""Run the performance benchmarks of issue 9, each in its own child process on a fresh database.

The parent (``manage.py bench``) never touches a database: for each benchmark it makes a data
directory, a fresh database (a new SQLite file, or a new database on the PostgreSQL server
given) and a cluster name of its own, re-runs the command as a child with that environment
(Django reads settings once, at start-up), collects the child's JSON, and drops what it made.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bench.perf_common import say
from demo.launcher import ROOT
from demo.rerun import child_env, rerun_self_in_child

# Every performance benchmark: each runs in a child of its own on a fresh database.
PERF_NAMES = ("orders", "stock", "dashboard", "webhook", "items", "peakday")

# How a child ends when a stop (Ctrl-C, SIGTERM) reached it: the run ends there too.
STOPPED = (-signal.SIGINT, -signal.SIGTERM, 130)


def code_version() -> str:
    """The commit measured, marked ``+changes`` when the work tree differs from it: a stored
    result says exactly what code it came from."""
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return f"{commit}+changes" if git("status", "--porcelain", "--untracked-files=no") else commit


def load_average() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def machine_speed_ms(rounds: int = 3) -> float:
    """Milliseconds a fixed piece of pure-Python work takes here now (median of ``rounds``):
    on a shared virtual machine the same code has run a third slower in the afternoon than in
    the morning (the simulators' CPU for the same calls), so a stored run says how fast the
    machine was when it started and ended."""
    record = {"order": "SO-1", "lines": [{"sku": f"SKU-{n}", "qty": n, "price": "12.50"} for n in range(40)]}
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(2000):
            json.loads(json.dumps(record, sort_keys=True))
        times.append(time.perf_counter() - started)
    return round(sorted(times)[len(times) // 2] * 1000, 1)


def _postgres(database_url: str, name: str, create: bool) -> str:
    """Create (or drop) database ``name`` on the server of ``database_url``; returns its URL."""
    import psycopg

    parts = urlsplit(database_url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            connection.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}"))


def bench_settings(data_dir: Path, *, cluster: str, database_url: str = "", broker_url: str = "") -> dict[str, str]:
    """The settings a benchmark's child runs with: the database given (a SQLite file in
    ``data_dir`` by default) and broker, a cluster name of its own, quiet logs, quick retries."""
    return {
        "DATABASE_URL": database_url or f"sqlite:///{data_dir / 'integration.sqlite3'}",
        "Q_BROKER_URL": broker_url,
        "Q_CLUSTER_NAME": cluster,
        "LOG_LEVEL": "WARNING",
        "HTTP_BACKOFF_SECONDS": "0.05",
    }


def run_all(names: list[str], *, scale: str, database_url: str, broker_url: str, keep_data: bool) -> dict[str, Any]:
    old = [name for name in names if name not in PERF_NAMES]
    if old:
        raise SystemExit(f"run {', '.join(old)} on its own (--only {old[0]}): it is not a performance benchmark")
    report: dict[str, Any] = {
        "scale": scale, "cpu_count": os.cpu_count(),
        "database": "postgresql" if database_url else "sqlite",
        "broker": "redis" if broker_url else "orm",
        "started_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "commit": code_version(),
        "load_average_at_start": load_average(), "machine_speed_ms_at_start": machine_speed_ms(),
    }
    failed = []
    for name in names:
        if name == "stock":  # two sizes, each on its own fresh database
            from bench import stock_perf

            small, large = stock_perf.SIZES[scale]
            parts = [_child(f"stock:{skus}", database_url, broker_url, keep_data, failed)
                     for skus in (small, large)]
            report["stock"] = stock_perf.merge(scale, *parts) if not failed else {"error": parts}
            continue
        report[name] = _child(name, database_url, broker_url, keep_data, failed)
    report["load_average_at_end"] = load_average()
    report["machine_speed_ms_at_end"] = machine_speed_ms()
    report["targets"] = targets_summary(report)
    if failed:
        report["failed"] = failed
    return report


def targets_summary(report: dict[str, Any]) -> dict[str, Any]:
    """Every ``{"value", "target", "met"}`` figure of the run, found wherever it sits in a block:
    how many were met, and the path of each one missed, so a reader never has to hunt for a miss."""
    met, missed = 0, []

    def walk(node: Any, path: str) -> None:
        nonlocal met
        if isinstance(node, dict):
            if {"value", "target", "met"} <= node.keys():
                if node["met"] is True:
                    met += 1
                else:
                    missed.append(path)
                return
            for key, child in node.items():
                walk(child, f"{path}.{key}" if path else str(key))
        elif isinstance(node, list):
            for index, child in enumerate(node):
                walk(child, f"{path}[{index}]")

    walk(report, "")
    return {"met": met, "missed": missed, "all_met": not missed}


def _child(name: str, database_url: str, broker_url: str, keep_data: bool, failed: list[str]) -> dict[str, Any]:
    database = "postgresql" if database_url else "sqlite"
    broker = "redis" if broker_url else "orm"
    data_dir = Path(tempfile.mkdtemp(prefix=f"bridge-bench-{name}-"))
    db_name = f"bridge_bench_{os.getpid()}_{name.replace(':', '_')}"
    settings_env = bench_settings(data_dir, cluster=f"bench{os.getpid()}{name.replace(':', '')}",
                                  database_url=_postgres(database_url, db_name, True) if database_url else "",
                                  broker_url=broker_url)
    say(f"{name}: starting on {database} + {broker} broker (data in {data_dir})")
    started = time.monotonic()
    try:
        with tempfile.TemporaryFile() as output:
            code = rerun_self_in_child(child_env(data_dir, {**settings_env, "BRIDGE_BENCH_PERF": name}), stdout=output)
            output.seek(0)
            printed = output.read().decode()
        if code in STOPPED:
            raise KeyboardInterrupt
        if code:
            failed.append(name)
            result: dict[str, Any] = {"error": f"exited with {code}; see stderr above"}
        else:
            result = json.loads(printed.strip().splitlines()[-1])
        result["wall_s"] = round(time.monotonic() - started, 1)
    finally:
        if database_url:
            _postgres(database_url, db_name, False)
        if not keep_data:
            shutil.rmtree(data_dir, ignore_errors=True)
    return result


def run_child(name: str, data_dir: Path, *, scale: str) -> dict[str, Any]:
    if name.startswith("stock:"):
        from bench import stock_perf

        return stock_perf.run(data_dir, skus=int(name.split(":")[1]))
    if name == "orders":
        from bench import orders

        return orders.run(data_dir, scale=scale)
    if name == "dashboard":
        from bench import dashboard

        return dashboard.run(data_dir, scale=scale)
    if name == "items":
        from bench import items

        return items.run(data_dir, scale=scale)
    if name == "peakday":
        from bench import peakday

        return peakday.run(data_dir, scale=scale)
    from bench import webhook

    return webhook.run(data_dir, scale=scale)
