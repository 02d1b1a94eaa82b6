"""CPU per order on PostgreSQL + Redis counts the servers' CPU beside ours (like for like with
SQLite and the ORM broker, which live in our own processes)."""

from __future__ import annotations

import subprocess
import time

import pytest

from bench.orders import per_order_with_servers
from bench.perf_common import servers_cpu_seconds


def test_the_servers_cpu_is_added_per_order():
    phase = {"orders": 100, "cpu_s": 0.5, "database_cpu_s": 0.2, "broker_cpu_s": 0.05}
    assert per_order_with_servers(phase) == {"cpu_ms_per_order_with_servers": 7.5,
                                             "database_cpu_ms_per_order": 2.0, "broker_cpu_ms_per_order": 0.5}
    assert per_order_with_servers({"orders": 10, "cpu_s": 0.1}) == {"cpu_ms_per_order_with_servers": 10.0}


def test_the_database_servers_cpu_is_read_from_proc_and_grows_with_its_work():
    before = servers_cpu_seconds()
    assert set(before) == {"database", "broker"}
    work = "SELECT count(*) FROM generate_series(1, 3000000) a, generate_series(1, 3) b"
    done = subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-c", work], capture_output=True,
                          timeout=60, check=False)
    if done.returncode != 0:
        pytest.skip(f"PostgreSQL did not answer psql here (CI starts it): {done.stderr[-200:]!r}")
    time.sleep(0.2)
    assert servers_cpu_seconds()["database"] > before["database"]
