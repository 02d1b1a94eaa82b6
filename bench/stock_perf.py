"""Stock at scale (``manage.py bench --only stock``): the 100,000-SKU snapshot, buffer
computation and delta push of bench/stock_100k.py, timed at two sizes, each in its own child
process on its own fresh database (the runner arranges that), with the process's peak resident
memory. The flow runs in this process, as it runs inside a worker in production; the
simulators are separate processes, so their memory is not counted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench import stock_100k
from bench.perf_common import self_peak_rss_mb

# (small size, large size) per scale: full is the 10k and 100k.
SIZES = {"small": (1_000, 10_000), "full": (10_000, 100_000)}


def run(data_dir: Path, *, skus: int) -> dict[str, Any]:
    result = stock_100k.run(data_dir, skus=skus)
    # Snapshot + first full publish: every SKU read, its figure computed and pushed.
    return {"skus": skus, "s": result["snapshot_and_push_s"], "peak_rss_mb": self_peak_rss_mb(), "detail": result}


def merge(scale: str, small: dict[str, Any], large: dict[str, Any]) -> dict[str, Any]:
    ratio = round(large["s"] / small["s"], 1) if small["s"] else None
    return {"s_10k": small["s"], "s_100k": large["s"], "ratio_100k_to_10k": ratio,
            "peak_rss_mb": large["peak_rss_mb"], "peak_rss_mb_10k": small["peak_rss_mb"],
            "skus": {"s_10k": small["skus"], "s_100k": large["skus"]},
            "detail_10k": small["detail"], "detail_100k": large["detail"]}
