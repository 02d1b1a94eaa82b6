"""The peak day's pictures in docs/performance.md, drawn from stored runs (bench/results/), never
from figures typed into code: (1) every target figure of the run as the share of its target it
used, on both databases; (2) the peak day minute by minute: orders released, accepted by Seko,
dispatched, posted to Blue Cherry, and the dashboard's p99.

    .venv/bin/python -m bench.peak_chart --sqlite bench/results/<run>-sqlite-*.json \\
        [--postgres bench/results/<run>-postgresql-*.json] --out docs/peakday.png

Each input is a ``manage.py bench --json --scale full`` output; several outputs of one database
(``--only dashboard``, ``--only peakday``, ...) are merged block by block.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

SERIES = [("released", "released in Blue Cherry", "#718096"), ("accepted", "accepted by Seko", "#2b6cb0"),
          ("dispatched", "dispatched at Seko", "#dd6b20"), ("posted", "shipment posted to Blue Cherry", "#38a169")]


def target_figures(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every ``{"value", "target", "met"}`` figure of a run by its dotted path (per-minute rows
    left out: the timeline shows those)."""
    found: dict[str, dict[str, Any]] = {}

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            if {"value", "target", "met"} <= node.keys():
                found[path] = node
                return
            for key, child in node.items():
                walk(child, f"{path}.{key}" if path else str(key))

    for block in ("dashboard", "peakday", "items"):
        walk(report.get(block, {}), block)
    return found


def share_of_target(figure: dict[str, Any]) -> float | None:
    """How much of its target a figure used: 1.0 is exactly on target, under 1 is margin. A time
    (at most) is value/target; a rate (at least) is target/value. The direction is read from
    the figure itself: met with a value under its target, or missed over it, is a time."""
    value, target = figure["value"], figure["target"]
    if value is None:
        return None
    if target == 0:  # a count that must be zero (duplicates, query differences)
        return 0.0 if value == 0 else 1.0 + float(value)
    lower_is_better = (value <= target) == bool(figure["met"])
    if lower_is_better:
        return value / target
    return target / value if value else None


def timeline(report: dict[str, Any]) -> list[dict[str, Any]]:
    return list(report.get("peakday", {}).get("timeline", []))


def merged(paths: list[Path]) -> dict[str, Any]:
    """Several stored outputs of one database as one run: each block from the file that has it."""
    run: dict[str, Any] = {}
    for path in paths:
        run.update({key: value for key, value in json.loads(path.read_text()).items() if isinstance(value, dict)})
    return run


def draw(sqlite: dict[str, Any], postgres: dict[str, Any] | None, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = {"SQLite + ORM broker": sqlite, **({"PostgreSQL + Redis": postgres} if postgres else {})}
    fig = plt.figure(figsize=(12, 11))
    grid = fig.add_gridspec(3, len(runs), height_ratios=[1.5, 1, 1])
    _draw_shares(fig.add_subplot(grid[0, :]), runs)
    for column, (name, run) in enumerate(runs.items()):
        _draw_timeline(fig.add_subplot(grid[1, column]), fig.add_subplot(grid[2, column]), name, run)
    fig.suptitle("Peak day: each target's share used, and the day minute by minute (2 cores, --scale full)",
                 fontsize=11)
    fig.tight_layout()
    fig.savefig(out, dpi=100)


def _draw_shares(ax: Any, runs: dict[str, dict[str, Any]]) -> None:
    paths = sorted({path for run in runs.values() for path in target_figures(run)})
    height = 0.8 / len(runs)
    colours = ["#2b6cb0", "#6b46c1"]
    for index, (name, run) in enumerate(runs.items()):
        figures = target_figures(run)
        shares = [share_of_target(figures[p]) if p in figures else None for p in paths]
        positions = [row + index * height for row in range(len(paths))]
        ax.barh(positions, [s or 0 for s in shares], height=height, color=colours[index % 2], label=name)
        for y, share, path in zip(positions, shares, paths, strict=True):
            if path in figures and not figures[path]["met"]:
                ax.text((share or 0) + 0.02, y, "missed", va="center", fontsize=7, color="#c53030")
    ax.axvline(1.0, color="#c53030", linestyle="--", linewidth=1)
    ax.set_yticks([row + height / 2 for row in range(len(paths))], [p.replace(".", " ") for p in paths], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("share of the target used (dashed: the target; left of it is margin)", fontsize=8)
    ax.legend(fontsize=8, loc="lower right")
    ax.spines[["top", "right"]].set_visible(False)


def _draw_timeline(flow_ax: Any, page_ax: Any, name: str, run: dict[str, Any]) -> None:
    rows = timeline(run)
    minutes = [row["minute"] for row in rows]
    for key, label, colour in SERIES:
        flow_ax.plot(minutes, [row.get(key, 0) for row in rows], label=label, color=colour, linewidth=1.4)
    flow_ax.set_title(f"{name}: orders per minute", fontsize=9)
    flow_ax.legend(fontsize=7)
    flow_ax.spines[["top", "right"]].set_visible(False)
    target = run.get("peakday", {}).get("dashboard_p99_ms_bursts", {}).get("target")
    page_ax.plot(minutes, [row.get("dashboard_p99_ms") for row in rows], color="#805ad5", linewidth=1.4)
    if target:
        page_ax.axhline(target, color="#c53030", linestyle="--", linewidth=1)
    page_ax.set_title(f"{name}: dashboard p99 per minute, ms\n(dashed: the target during the bursts)", fontsize=9)
    page_ax.set_xlabel("minute of the peak day", fontsize=8)
    page_ax.spines[["top", "right"]].set_visible(False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sqlite", type=Path, nargs="+", required=True)
    parser.add_argument("--postgres", type=Path, nargs="*", default=[])
    parser.add_argument("--out", type=Path, default=Path("docs/peakday.png"))
    args = parser.parse_args()
    draw(merged(args.sqlite), merged(args.postgres) if args.postgres else None, args.out)


if __name__ == "__main__":
    main()
