"""The peak day's chart reads every target figure of a stored run and shows how much of its
target each used, whichever way the target points."""

from __future__ import annotations

import json

import pytest

from bench.peak_chart import draw, share_of_target, target_figures
from bench.perf_common import figure


def test_a_time_under_its_target_and_a_rate_over_it_both_show_margin():
    assert share_of_target(figure(50, 100)) == 0.5
    assert share_of_target(figure(200, 100, at_most=False)) == 0.5
    assert share_of_target(figure(150, 100)) == 1.5  # a time over its target: missed, over the line
    assert share_of_target(figure(50, 100, at_most=False)) == 2.0  # a rate under its target: missed
    assert share_of_target(figure(0, 0)) == 0.0
    assert share_of_target(figure(2, 0)) > 1  # a duplicate where none may be: over the line
    assert share_of_target(figure(None, 300)) is None


def test_every_target_figure_of_the_three_blocks_is_found_by_its_path():
    run = {"orders": {"x": figure(1, 2)},
           "dashboard": {"overview": {"ms_1m": 20, "median_ms_1m": figure(20, 100)}},
           "peakday": {"dashboard_p99_ms": figure(250, 300)}, "items": {"items_per_s": figure(120, 100)}}
    assert set(target_figures(run)) == {"dashboard.overview.median_ms_1m", "peakday.dashboard_p99_ms",
                                        "items.items_per_s"}


@pytest.mark.parametrize("missing_timeline", [False, True])
def test_the_chart_is_drawn_from_two_stored_runs(tmp_path, missing_timeline):
    pytest.importorskip("matplotlib")
    run = {"dashboard": {"overview": {"median_ms_1m": figure(20, 100)}},
           "peakday": {"dashboard_p99_ms_bursts": figure(350, 300),
                       "timeline": [] if missing_timeline else [
                           {"minute": m, "released": 10, "accepted": 9, "dispatched": 5, "posted": 5,
                            "dashboard_p99_ms": 120} for m in range(3)]},
           "items": {"items_per_s": figure(120, 100, at_most=False)}}
    out = tmp_path / "peak.png"
    draw(json.loads(json.dumps(run)), run, out)
    assert out.stat().st_size > 10_000


def test_outputs_of_one_database_are_merged_block_by_block(tmp_path):
    from bench.peak_chart import merged

    (tmp_path / "a.json").write_text(json.dumps({"scale": "full", "dashboard": {"x": 1}}))
    (tmp_path / "b.json").write_text(json.dumps({"scale": "full", "peakday": {"y": 2}, "targets": {"met": 1}}))
    run = merged([tmp_path / "a.json", tmp_path / "b.json"])
    assert run["dashboard"] == {"x": 1} and run["peakday"] == {"y": 2}


def test_one_database_alone_is_drawn(tmp_path):
    pytest.importorskip("matplotlib")
    run = {"dashboard": {"overview": {"median_ms_1m": figure(20, 100)}}, "peakday": {"timeline": []}}
    draw(run, None, tmp_path / "one.png")
    assert (tmp_path / "one.png").stat().st_size > 5_000


def test_the_pages_tables_are_printed_from_the_stored_figures_with_each_miss_marked():
    from bench.peak_tables import dashboard_table, figures_table, timeline_table

    run = {"dashboard": {"requested_as": {"overdue": "ops"},
                         "overdue": {"ms_1m": 72.9, "ms_10k": 25.4, "queries_1m": 13, "queries_10k": 13,
                                     "median_ms_1m": figure(72.9, 100), "ratio_1m_to_10k": figure(2.87, 1.5)}},
           "peakday": {"release_to_accepted_p99_s": figure(98.0, 120),
                       "timeline": [{"minute": 0, "released": 5, "dashboard_p99_ms": 80}]}}
    assert dashboard_table(run)[2] == "| overdue (ops) | 25.4 | 72.9 (met) | 2.87 (**missed**) | 13 / 13 |"
    assert figures_table(run, "peakday")[2] == "| `peakday.release_to_accepted_p99_s` | 120 | 98.0 (met) |"
    assert timeline_table(run)[2] == "| 0 | 5 | 0 | 0 | 0 | 0 | 80 |"


def test_the_cpu_table_shows_each_process_and_the_cost_of_an_order_with_and_without_the_servers():
    from bench.peak_tables import cpu_table
    from bench.peakday_figures import cpu_figures

    run = {"peakday": cpu_figures({"qcluster": 30.0, "web": 10.0, "database": 12.0, "broker": 3.0}, 2_000)}
    lines = cpu_table(run)
    assert "| database | 12.0 |" in lines and lines[-1] == "| | 20.0 | 7.5 | 27.5 |"
    assert cpu_table({"peakday": {}}) == ["(this run predates the CPU figures)"]
