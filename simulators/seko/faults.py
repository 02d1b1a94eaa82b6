"""Injected faults and quirks, configured through ``POST _sim/faults``. The config is a database
row (every waitress thread and the push thread see the same one). Every decision comes from a
``random.Random`` seeded with the configured seed and the ordinal of the call (or the push
record id), so the same scenario gives the same faults on every run."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from .models import Counter
from .state import get_setting, next_value, put_setting

RATE_KEYS = ("error_rate", "timeout_rate", "timeout_after_commit_rate", "rate_limit_rate",
             "drop_push_rate", "duplicate_push_rate", "proxy_page_rate")
# A proxy or gateway in front of iHub answering with its own HTML page, not iHub's envelope
# (never 401/403: those mean credentials to any client).
PROXY_PAGE_STATUSES = (400, 404, 502)
DEFAULT_HANG_SECONDS = 30.0


def get_faults() -> dict[str, Any]:
    return get_setting("faults") or {}


def set_faults(config: dict[str, Any]) -> dict[str, Any]:
    """Replace the whole config (``{}`` clears). Raises ValueError on a malformed value."""
    known = {*RATE_KEYS, "latency_ms", "quirks", "endpoints", "seed", "hang_seconds"}
    unknown = set(config) - known
    if unknown:
        raise ValueError(f"unknown fault keys: {sorted(unknown)}")
    clean: dict[str, Any] = {}
    for key in RATE_KEYS:
        if key in config:
            rate = float(config[key])
            if not 0 <= rate <= 1:
                raise ValueError(f"{key} must be between 0 and 1")
            clean[key] = rate
    if "latency_ms" in config:
        clean["latency_ms"] = max(0, int(config["latency_ms"]))
    if "hang_seconds" in config:
        clean["hang_seconds"] = max(0.0, float(config["hang_seconds"]))
    if "quirks" in config:
        clean["quirks"] = bool(config["quirks"])
    if "endpoints" in config:
        endpoints = config["endpoints"] or []
        if not isinstance(endpoints, list) or not all(isinstance(e, str) for e in endpoints):
            raise ValueError("endpoints must be a list of strings")
        clean["endpoints"] = endpoints
    if "seed" in config:
        clean["seed"] = config["seed"]
    put_setting("faults", clean)
    # The draws start again from the first call, so a scenario configured twice plays the same.
    Counter.objects.filter(name="fault_calls").delete()
    return clean


@dataclass
class Decision:
    latency_ms: int = 0
    status: int | None = None  # 500/503/429 answered at once, with no effect
    hang_before_seconds: float = 0.0  # then 504, with no effect
    hang_after_seconds: float = 0.0  # the work is committed, then the reply is held back
    proxy_page_status: int | None = None  # a proxy's HTML page with this status, with no effect
    quirks: bool = False


def applies(config: dict[str, Any], path: str) -> bool:
    endpoints = config.get("endpoints") or []
    return not endpoints or any(fragment in path for fragment in endpoints)


def decide(path: str) -> Decision:
    """What to do to this API call (never called for ``_sim/``)."""
    config = get_faults()
    if not config or not applies(config, path):
        return Decision()
    decision = Decision(latency_ms=config.get("latency_ms", 0), quirks=config.get("quirks", False))
    if not any(config.get(key) for key in (*RATE_KEYS[:4], "proxy_page_rate")):
        return decision  # no draw needed: do not spend a write on every call
    rng = random.Random(f"{config.get('seed', 0)}:call:{next_value('fault_calls')}")
    hang = config.get("hang_seconds", DEFAULT_HANG_SECONDS)
    # Draw every number every time, so one rate does not shift the others' sequence.
    error, limited, timeout, after_commit = (rng.random() for _ in range(4))
    if error < config.get("error_rate", 0):
        decision.status = rng.choice([500, 503])
    elif limited < config.get("rate_limit_rate", 0):
        decision.status = 429
    elif timeout < config.get("timeout_rate", 0):
        decision.hang_before_seconds = hang
    elif after_commit < config.get("timeout_after_commit_rate", 0):
        decision.hang_after_seconds = hang
    elif (proxy := rng.random()) < config.get("proxy_page_rate", 0):  # drawn last: the others' draws stay
        decision.proxy_page_status = PROXY_PAGE_STATUSES[int(proxy / config["proxy_page_rate"]
                                                             * len(PROXY_PAGE_STATUSES))]
    return decision


def push_fate(record_id: int) -> str | None:
    """"drop", "duplicate" or None for one outbox record; fixed per record for a given seed."""
    config = get_faults()
    if not config.get("drop_push_rate") and not config.get("duplicate_push_rate"):
        return None
    rng = random.Random(f"{config.get('seed', 0)}:push:{record_id}")
    drop, duplicate = rng.random(), rng.random()
    if drop < config.get("drop_push_rate", 0):
        return "drop"
    if duplicate < config.get("duplicate_push_rate", 0):
        return "duplicate"
    return None


def quirks_on() -> bool:
    return bool(get_faults().get("quirks"))
