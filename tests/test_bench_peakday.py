"""The peak day's arithmetic (bench/peakday_figures.py) and shape (bench/peakday.py's params):
each figure computed from planted records, each target able to fail."""

from __future__ import annotations

import itertools
import time

import pytest

from bench.peakday import params, user_roles, warehouse_capacity
from bench.peakday_figures import (
    Shape,
    dashboard_figures,
    exactly_once_figures,
    latencies,
    parse_time,
    percentile_or_none,
    release_plan,
    timeline,
)


def test_release_plan_puts_the_burst_share_in_the_first_fifth_and_adds_up():
    shape = Shape(orders=20_000, minutes=15, burst_share=0.5)
    plan = release_plan(shape)
    assert sum(count for _, count in plan) == 20_000
    in_burst = sum(count for at, count in plan if at < shape.burst_seconds)
    assert in_burst == 10_000
    assert max(at for at, _ in plan) < shape.seconds
    assert all(later > earlier for (earlier, _), (later, _) in itertools.pairwise(plan))


@pytest.mark.parametrize(("orders", "minutes", "share"), [(401, 2.5, 0.5), (7, 1, 0.9), (1000, 3, 0.0)])
def test_release_plan_of_other_shapes_still_adds_up(orders, minutes, share):
    shape = Shape(orders=orders, minutes=minutes, burst_share=share)
    plan = release_plan(shape)
    assert sum(count for _, count in plan) == orders
    assert sum(count for at, count in plan if at < shape.burst_seconds) == round(orders * share)


def test_percentile_treats_unfinished_work_as_unbounded():
    assert percentile_or_none([1.0, 2.0, 3.0, 4.0, 5.0], 0.5) == 3.0
    finished = [float(n) for n in range(99)]
    assert percentile_or_none([*finished, None], 0.5) == 50.0
    assert percentile_or_none([*finished, None], 0.99) == 98.0  # one unfinished in a hundred: above the p99
    # Two in a hundred never accepted: the p99 falls on one and cannot be measured (never met).
    assert percentile_or_none([*finished[1:], None, None], 0.99) is None
    assert percentile_or_none([], 0.99) is None


def test_latencies_come_from_each_start_and_end_and_missing_ends_are_none():
    assert latencies({"A": 10.0, "B": 20.0, "C": 30.0}, {"A": 15.0, "B": None}) == [5.0, None, None]


def test_parse_time_reads_the_simulators_iso_timestamps():
    assert parse_time("2026-12-02T12:00:00+00:00") == parse_time("2026-12-02T12:00:00.000000+00:00")
    assert parse_time(None) is None


def test_timeline_counts_each_step_per_minute_and_the_dashboards_p99():
    start = 1_000.0
    requests = [[start + 5, "overview", 100.0, 200], [start + 10, "orders", 500.0, 200],
                [start + 70, "overview", 50.0, 200]]
    rows = timeline(start, released=[start + 1, start + 2, start + 61], accepted=[start + 30, start + 65, None],
                    dispatched=[start + 125], posted=[start + 130], requests=requests)
    assert [row["minute"] for row in rows] == [0, 1, 2]
    assert [row["released"] for row in rows] == [2, 1, 0]
    assert [row["accepted"] for row in rows] == [1, 1, 0]
    assert [row["dispatched"] for row in rows] == [0, 0, 1]
    assert [row["posted"] for row in rows] == [0, 0, 1]
    assert rows[0]["dashboard_p99_ms"] == 500.0 and rows[0]["dashboard_requests"] == 2
    assert rows[1]["dashboard_p99_ms"] == 50.0 and rows[2]["dashboard_p99_ms"] is None


def test_dashboard_figures_split_the_burst_and_fail_on_slow_or_failed_pages():
    start = 0.0
    fast = [[float(n), "overview", 100.0, 200] for n in range(100)]
    slow_in_burst = [[1.0, "orders", 900.0, 200], [2.0, "orders", 950.0, 200]]
    result = dashboard_figures(fast + slow_in_burst, start, burst_seconds=10)
    assert result["dashboard_p99_ms_bursts"] == {"value": 950.0, "target": 300, "met": False}
    assert result["dashboard_p99_ms_overall"]["met"] is False  # 2 of 102 above: the p99 sees them
    assert dashboard_figures(fast, start, burst_seconds=10)["dashboard_p99_ms_overall"]["met"] is True
    failed = [*fast, [50.0, "orders", 20.0, 500], [51.0, "orders", 20.0, 0]]
    assert dashboard_figures(failed, start, burst_seconds=10)["dashboard_p99_ms_overall"]["value"] is None
    assert dashboard_figures(failed, start, burst_seconds=10)["dashboard_statuses"] == {"200": 100, "500": 1, "0": 1}


def test_exactly_once_figures_fail_on_a_missing_or_doubled_order_or_dispatch():
    clean = exactly_once_figures(released=3, seko_accepted={"A": 1, "B": 1, "C": 1}, seko_dispatched=2,
                                 shipments={"A": 1, "B": 1}, duplicate_posts_refused=0, wrongly_rejected=0,
                                 max_submit_attempts=1)
    assert all(value["met"] for value in clean.values() if isinstance(value, dict))
    bad = exactly_once_figures(released=3, seko_accepted={"A": 1, "B": 2, "C": 0}, seko_dispatched=2,
                               shipments={"A": 2, "B": 0}, duplicate_posts_refused=1, wrongly_rejected=1,
                               max_submit_attempts=2)
    assert bad["orders_at_seko_once"] == {"value": 1, "target": 3, "met": False}
    assert bad["orders_accepted_more_than_once"]["value"] == 1 and not bad["orders_accepted_more_than_once"]["met"]
    assert bad["dispatches_posted_once"] == {"value": 0, "target": 2, "met": False}
    assert not bad["dispatches_posted_more_than_once"]["met"]
    assert not bad["duplicate_posts_refused"]["met"] and not bad["wrongly_rejected"]["met"]


def test_the_shape_comes_from_the_environment_with_the_scales_defaults():
    full = params("full", {})
    assert (full.orders, full.minutes, full.burst_share, full.users, full.latency_ms) == (20_000, 15.0, 0.5, 20, 150)
    other = params("small", {"PEAKDAY_ORDERS": "900", "PEAKDAY_MINUTES": "4", "PEAKDAY_BURST_SHARE": "0.7",
                             "PEAKDAY_USERS": "5", "PEAKDAY_LATENCY_MS": "80", "PEAKDAY_THINK_S": "1-3"})
    assert (other.orders, other.minutes, other.burst_share, other.users, other.latency_ms) == (900, 4.0, 0.7, 5, 80)
    assert other.think_s == (1.0, 3.0)


def test_users_are_mostly_ops_and_the_warehouse_keeps_up_with_the_day():
    assert user_roles(20) == {"ops": 16, "cx": 2, "finance": 2}
    assert sum(user_roles(7).values()) == 7
    full = params("full", {})
    ticks = full.minutes * 60 * 0.9 / 5
    assert warehouse_capacity(full) * ticks >= full.orders


def test_memory_sampler_keeps_every_process_peak_of_a_group():
    import os

    from bench.peakday import MemorySampler

    sampler = MemorySampler()
    sampler.watch("this", os.getpgid(0))
    sampler.sample()
    sampler.sample()
    peak = sampler.peaks["this"]
    assert peak["peak_process_mb"] > 0 and peak["peak_total_mb"] >= peak["peak_process_mb"]
    assert max([peak["leader_mb"], *peak["others_mb"]]) == peak["peak_process_mb"]


def test_cpu_per_order_counts_the_integration_and_beside_it_the_database_and_broker():
    from bench.peakday_figures import cpu_figures

    used = {"qcluster": 30.0, "web": 10.0, "database": 12.0, "broker": 3.0, "seko_simulator": 50.0}
    got = cpu_figures(used, 2_000)
    assert got["cpu_ms_per_order"] == {"integration": 20.0, "database_and_broker": 7.5,
                                       "integration_with_servers": 27.5}
    assert got["cpu_s"]["seko_simulator"] == 50.0  # reported, not charged to the integration
    assert cpu_figures({"qcluster": 1.0}, 0)["cpu_ms_per_order"]["integration"] is None


def test_the_cpu_meter_sees_this_process_work():
    import os

    from bench.peakday import CpuMeter

    meter = CpuMeter({"this": os.getpgid(0)}, {"database", "broker"})
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline:
        pass
    used = meter.used()
    assert used["this"] >= 0.2 and {"database", "broker"} <= set(used)
    assert set(CpuMeter({}, set()).used()) == set()  # a SQLite run charges no idle server
