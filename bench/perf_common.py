"""What the performance benchmarks (issue 9) share: progress on stderr, CPU time and resident
memory of process groups read from /proc (no extra dependency; Linux only, like the CI), and the
load generator in its own process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from demo.launcher import ROOT
from demo.reporting import speaker

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

say = speaker("bench")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name (field 2) may hold spaces: split after its closing parenthesis.
    return raw[raw.rindex(")") + 2:].split()


def group_pids(pgid: int) -> list[int]:
    """Every live process of a process group (each process we start gets its own session)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields and int(fields[2]) == pgid:  # fields[2] is pgrp (field 5 of stat)
                pids.append(int(entry))
    return pids


# The servers a PostgreSQL + Redis run also works: their CPU is part of what an order costs.
SERVER_ROLES = {"postgres": "database", "redis-server": "broker"}


def _command_name(pid: int) -> str | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return raw[raw.index("(") + 1:raw.rindex(")")]


def servers_cpu_seconds() -> dict[str, float]:
    """User + system CPU, by role, of the database and broker servers on this machine
    (PostgreSQL's processes, Redis's), with what they reaped: PostgreSQL's postmaster reaps the
    backends of connections that ended, so their CPU still counts. Compare two readings: the
    servers run before and after a measurement."""
    ticks = dict.fromkeys(SERVER_ROLES.values(), 0)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            role = SERVER_ROLES.get(_command_name(int(entry)) or "")
            fields = _stat_fields(int(entry)) if role else None
            if role and fields:
                ticks[role] += sum(int(v) for v in fields[11:15])
    return {role: n / CLOCK_TICKS for role, n in ticks.items()}


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU of a process group's live processes, plus what their reaped children
    used (cutime/cstime), so a worker recycled during the run still counts."""
    ticks = 0
    for pid in group_pids(pgid):
        fields = _stat_fields(pid)
        if fields:
            ticks += sum(int(v) for v in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / CLOCK_TICKS


def group_rss_mb(pgid: int) -> float:
    """The largest resident set of any process of the group right now."""
    largest = 0
    for pid in group_pids(pgid):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    largest = max(largest, int(line.split()[1]))
        except (FileNotFoundError, ProcessLookupError):
            continue
    return round(largest / 1024, 1)


def self_peak_rss_mb() -> float:
    """This process's high-water resident set (VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def figure(value: float | int | None, target: float | int, *, at_most: bool = True) -> dict[str, Any]:
    """A measured figure beside its target and whether it was met: ``{"value", "target", "met"}``.
    ``at_most``: the value must not exceed the target (a time); otherwise it must reach it (a rate).
    A figure that could not be measured (None) is never met."""
    met = value is not None and (value <= target if at_most else value >= target)
    return {"value": value, "target": target, "met": met}


def run_loadgen(spec: dict[str, Any], data_dir: Path, timeout: float = 900) -> dict[str, Any]:
    """Run bench/loadgen.py in its own process (its CPU is not the app's) and return its JSON."""
    spec_path = data_dir / f"loadgen-{time.monotonic_ns()}.json"
    spec_path.write_text(json.dumps(spec))
    done = subprocess.run([sys.executable, "-m", "bench.loadgen", str(spec_path)], cwd=ROOT, capture_output=True,
                          timeout=timeout, env={k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"})
    if done.returncode:
        raise RuntimeError(f"load generator failed: {done.stderr.decode()[-2000:]}")
    return json.loads(done.stdout)
