"""The performance chart's "before" comes from a stored measured run (with its date and commit),
not from numbers in the code, and the chart draws from it and two bench results."""

from __future__ import annotations

import json

from bench import perf_chart


def test_the_before_figures_are_a_stored_run_with_its_date_and_commit():
    stored = json.loads(perf_chart.BEFORE_RUN.read_text())
    assert stored["commit"] and stored["measured"]
    before = perf_chart.before_figures()
    assert set(before) == {key for key, *_ in perf_chart.PANELS}
    assert before["s_100k"] == (stored["sqlite"]["s_100k"], stored["postgresql"]["s_100k"])


def test_the_chart_is_drawn_from_the_stored_run_and_two_bench_results(tmp_path):
    run = {"orders": {"cpu_ms_per_order": 3.0, "orders_per_s_latency": 81}, "stock": {"s_100k": 6.45},
           "dashboard": {"overview": {"ms_1m": 24}}, "webhook": {"per_s": 1252, "p99_ms": 49}}
    out = tmp_path / "chart.png"
    perf_chart.draw(run, run, out)
    assert out.stat().st_size > 10_000
