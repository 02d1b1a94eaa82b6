"""How often Seko accepted a product (a submit or an update it took) per product code, since
the simulator started or was reset: the evidence a benchmark reads that every product was sent
once. Kept in memory: the simulator is one process, and the count is about this run only."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

_lock = threading.Lock()
_accepted: Counter[str] = Counter()


def product_accepted(code: str) -> None:
    with _lock:
        _accepted[code] += 1


def reset() -> None:
    with _lock:
        _accepted.clear()


def counts() -> dict[str, Any]:
    with _lock:
        repeated = sorted(code for code, n in _accepted.items() if n > 1)
        return {"products_accepted": sum(_accepted.values()), "products_accepted_more_than_once": len(repeated),
                "products_accepted_more_than_once_sample": repeated[:20]}
