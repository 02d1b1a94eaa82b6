"""The tables of docs/performance.md's peak-day section, printed as Markdown from stored runs
(bench/results/), so the page's figures are copied by a program from what was measured.

    .venv/bin/python -m bench.peak_tables bench/results/<run>-sqlite-*.json
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bench.peak_chart import merged


def _cell(node: Any) -> str:
    if isinstance(node, dict) and "value" in node:
        return f"{node['value']} ({'met' if node['met'] else '**missed**'})"
    return "—" if node is None else str(node)


def dashboard_table(run: dict[str, Any]) -> list[str]:
    rows = ["| Page (as) | ms at 10k | ms at 1M (≤ 100) | 1M / 10k (≤ 1.5) | queries 10k / 1M (the same) |",
            "|---|---|---|---|---|"]
    block = run.get("dashboard", {})
    for page, figures in block.items():
        if isinstance(figures, dict) and "ms_1m" in figures:
            rows.append(f"| {page} ({block.get('requested_as', {}).get(page, '')}) | {figures['ms_10k']} | "
                        f"{_cell(figures['median_ms_1m'])} | {_cell(figures['ratio_1m_to_10k'])} | "
                        f"{figures['queries_10k']} / {figures['queries_1m']} |")
    return rows


def figures_table(run: dict[str, Any], block: str) -> list[str]:
    rows = ["| Figure | Target | Measured |", "|---|---|---|"]
    for key, node in run.get(block, {}).items():
        if isinstance(node, dict) and {"value", "target", "met"} <= node.keys():
            rows.append(f"| `{block}.{key}` | {node['target']} | {_cell(node)} |")
    return rows


def memory_table(run: dict[str, Any]) -> list[str]:
    rows = ["| Processes | largest one, MB | all of them at their peak, MB |", "|---|---|---|"]
    for name, sizes in run.get("peakday", {}).get("peak_rss_mb", {}).items():
        rows.append(f"| {name} | {sizes.get('peak_process_mb')} | {sizes.get('peak_total_mb', '—')} |")
    return rows


def cpu_table(run: dict[str, Any]) -> list[str]:
    day = run.get("peakday", {})
    if "cpu_s" not in day:
        return ["(this run predates the CPU figures)"]
    per_order = day["cpu_ms_per_order"]
    rows = ["| Processes | CPU s over the day |", "|---|---|"]
    rows += [f"| {name} | {seconds} |" for name, seconds in day["cpu_s"].items()]
    rows += ["", "| CPU ms per order | integration | database + broker servers | together |", "|---|---|---|---|",
             f"| | {per_order['integration']} | {per_order['database_and_broker']} | "
             f"{per_order['integration_with_servers']} |"]
    return rows


def timeline_table(run: dict[str, Any]) -> list[str]:
    rows = ["| Minute | released | accepted by Seko | dispatched at Seko | posted to Blue Cherry "
            "| dashboard requests | dashboard p99 ms |", "|---|---|---|---|---|---|---|"]
    for row in run.get("peakday", {}).get("timeline", []):
        rows.append(f"| {row['minute']} | {row.get('released', 0)} | {row.get('accepted', 0)} | "
                    f"{row.get('dispatched', 0)} | {row.get('posted', 0)} | {row.get('dashboard_requests', 0)} | "
                    f"{_cell(row.get('dashboard_p99_ms'))} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("runs", type=Path, nargs="+", help="stored outputs of one database")
    run = merged(parser.parse_args().runs)
    tables = {"Dashboard": dashboard_table(run), "Peak day": figures_table(run, "peakday"),
              "Items": figures_table(run, "items"), "Peak resident memory": memory_table(run),
              "Peak day's CPU": cpu_table(run),
              "Peak day, minute by minute": timeline_table(run)}
    for title, lines in tables.items():
        print(f"### {title}\n")
        print("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
