"""The benchmarks' figures carry their target and whether it was met, and the run's summary
names every figure missed wherever it sits, so a miss cannot hide in a nested block."""

from __future__ import annotations

import argparse

import pytest

from bench.perf_common import figure
from bench.perf_runner import machine_speed_ms, targets_summary
from demo.management.commands.bench import _names


def test_a_time_is_met_at_or_under_its_target_and_a_rate_at_or_over_it():
    assert figure(100, 100) == {"value": 100, "target": 100, "met": True}
    assert figure(100.1, 100)["met"] is False
    assert figure(99.9, 100, at_most=False)["met"] is False
    assert figure(100, 100, at_most=False)["met"] is True


def test_a_figure_that_could_not_be_measured_is_never_met():
    assert figure(None, 300) == {"value": None, "target": 300, "met": False}


def test_the_summary_names_every_missed_figure_however_deeply_it_sits():
    report = {
        "scale": "full",
        "dashboard": {"overview": {"ms_1m": 20, "median_ms_1m": figure(20, 100), "ratio": figure(2.0, 1.5)}},
        "peakday": {"dashboard_p99_ms": figure(250, 300), "minutes": [{"p99": figure(400, 300)}]},
        "items": {"items_per_s": figure(120, 100, at_most=False)},
    }
    summary = targets_summary(report)
    assert summary == {"met": 3, "missed": ["dashboard.overview.ratio", "peakday.minutes[0].p99"],
                       "all_met": False}
    assert targets_summary({"items": {"items_per_s": figure(120, 100, at_most=False)}})["all_met"] is True


def test_the_peak_day_benchmarks_are_named_with_the_others():
    assert _names("dashboard,peakday,items") == ["dashboard", "peakday", "items"]
    with pytest.raises(argparse.ArgumentTypeError, match=r"unknown benchmark 'peak'; known: .*items, peakday"):
        _names("peak")


def test_every_peak_day_flag_reaches_the_benchmarks_shape():
    from bench.peakday import params
    from demo.management.commands.bench import PEAK_DAY_SHAPE

    for flag, kind, _ in PEAK_DAY_SHAPE:
        name = flag.replace("-", "_")
        default = getattr(params("small", {}), name)
        changed = kind("0.25") if kind.__name__ in ("_share", "_positive") else kind("7")
        assert changed != default, flag
        assert getattr(params("small", {f"PEAKDAY_{name.upper()}": str(changed)}), name) == changed, flag


@pytest.mark.parametrize("value", ["0", "1.5", "-0.2", "nan"])
def test_a_burst_share_outside_zero_to_one_is_refused_by_name(value):
    from demo.management.commands.bench import _share

    with pytest.raises(argparse.ArgumentTypeError, match="share above 0 and at most 1"):
        _share(value)


def test_the_machine_speed_is_the_median_round_of_fixed_work(monkeypatch):
    """A stored run says how fast the machine was; the figure is the median of its rounds, so one
    round slowed by a neighbour does not make it."""
    import bench.perf_runner as runner

    ticks = iter([0.0, 0.2, 1.0, 1.9, 2.0, 2.3])  # rounds of 0.2 s, 0.9 s and 0.3 s
    monkeypatch.setattr(runner.time, "perf_counter", lambda: next(ticks))
    assert machine_speed_ms(rounds=3) == 300.0
