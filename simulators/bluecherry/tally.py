"""How often each item was set LIVE since the simulator started or was reset: the evidence a
benchmark reads that the integration told Blue Cherry once per item. Kept in memory, like the
faults: the simulator is one process, and the count is about this run only."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

_lock = threading.Lock()
_set_live: Counter[str] = Counter()


def set_live(sku: str) -> None:
    with _lock:
        _set_live[sku] += 1


def reset() -> None:
    with _lock:
        _set_live.clear()


def counts() -> dict[str, Any]:
    with _lock:
        repeated = sorted(sku for sku, n in _set_live.items() if n > 1)
        return {"items_set_live": sum(_set_live.values()), "items_set_live_more_than_once": len(repeated),
                "items_set_live_more_than_once_sample": repeated[:20]}
