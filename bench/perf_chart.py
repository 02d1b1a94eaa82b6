"""The chart in docs/performance.md: each target figure before and after the batch redesign, on
both databases, against its target line. Reads two ``manage.py bench --json --scale full``
outputs; not part of the benchmark itself (matplotlib is a dev dependency).

    .venv/bin/python -m bench.perf_chart --sqlite sqlite.json --postgres pg.json --out docs/performance.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

# The "before" of the chart: figures of a measured run, stored with its date and commit.
BEFORE_RUN = Path(__file__).resolve().parent / "results" / "2026-11-27-before-batch-redesign.json"


def before_figures(path: Path = BEFORE_RUN) -> dict[str, tuple[float, float]]:
    """Each figure of the stored run as (SQLite, PostgreSQL)."""
    run = json.loads(path.read_text())
    return {key: (run["sqlite"][key], run["postgresql"][key]) for key in run["sqlite"]}


# (key, title, target, True when lower is better)
PANELS = [
    ("cpu_ms_per_order", "order CPU, ms per order", 8, True),
    ("orders_per_s_latency", "orders/s at 150 ms latency", 50, False),
    ("s_100k", "stock cycle at 100k SKUs, s", 20, True),
    ("overview_ms_1m", "overview at 1M orders, ms", 150, True),
    ("webhook_per_s", "webhook pushes/s", 300, False),
    ("webhook_p99_ms", "webhook p99, ms", 100, True),
]


def figures(run: dict[str, Any]) -> dict[str, float]:
    return {
        "cpu_ms_per_order": run["orders"]["cpu_ms_per_order"],
        "orders_per_s_latency": run["orders"]["orders_per_s_latency"],
        "s_100k": run["stock"]["s_100k"],
        "overview_ms_1m": run["dashboard"]["overview"]["ms_1m"],
        "webhook_per_s": run["webhook"]["per_s"],
        "webhook_p99_ms": run["webhook"]["p99_ms"],
    }


def draw(sqlite: dict[str, Any], postgres: dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    before, after = before_figures(), (figures(sqlite), figures(postgres))
    fig, axes = plt.subplots(2, 3, figsize=(11, 6))
    labels = ["SQLite\nbefore", "SQLite\nafter", "PostgreSQL\nbefore", "PostgreSQL\nafter"]
    colours = ["#c9c9c9", "#2b6cb0", "#e0e0e0", "#6b46c1"]
    for ax, (key, title, target, lower_better) in zip(axes.flat, PANELS, strict=True):
        values = [before[key][0], after[0][key], before[key][1], after[1][key]]
        bars = ax.bar(range(4), values, color=colours)
        ax.axhline(target, color="#c53030", linestyle="--", linewidth=1)
        for bar, value in zip(bars, values, strict=True):
            ax.text(bar.get_x() + bar.get_width() / 2, value, f"{value:g}", ha="center", va="bottom", fontsize=8)
        ax.set_title(f"{title}\n(target, dashed: {'≤' if lower_better else '≥'} {target})", fontsize=9)
        ax.set_xticks(range(4), labels, fontsize=8)
        ax.set_ylim(0, max([*values, target]) * 1.18)
        ax.spines[["top", "right"]].set_visible(False)
    fig.suptitle("Issue 9: each target figure before and after (2 cores, --scale full)", fontsize=11)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sqlite", type=Path, required=True)
    parser.add_argument("--postgres", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path("docs/performance.png"))
    args = parser.parse_args()
    draw(json.loads(args.sqlite.read_text()), json.loads(args.postgres.read_text()), args.out)


if __name__ == "__main__":
    main()
