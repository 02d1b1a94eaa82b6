"""Injected faults: errors, rate limiting, timeouts and latency on the API (never on _sim/),
plus the ATS batch cycle. Kept in memory: the simulator is one process, and a reset or a
restart should bring back a well-behaved ERP anyway."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

DEFAULT_BATCH_CYCLE_SECONDS = 60.0
DEFAULT_HANG_SECONDS = 30.0
DEFAULT_SEED = 0

RATE_FIELDS = ("error_rate", "timeout_rate", "rate_limit_rate", "proxy_page_rate")
# A proxy or gateway in front of the API answering with its own HTML page, not Blue Cherry's
# envelope (never 401/403: those mean credentials to any client).
PROXY_PAGE_STATUSES = (400, 404, 502)
PROXY_PAGE = "proxy_page"


@dataclass(frozen=True)
class FaultConfig:
    error_rate: float = 0.0
    timeout_rate: float = 0.0
    rate_limit_rate: float = 0.0
    proxy_page_rate: float = 0.0
    latency_ms: int = 0
    batch_cycle_seconds: float = DEFAULT_BATCH_CYCLE_SECONDS
    hang_seconds: float = DEFAULT_HANG_SECONDS
    endpoints: list[str] = field(default_factory=list)
    seed: int = DEFAULT_SEED

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


_lock = threading.Lock()
_config = FaultConfig()
_random = random.Random(DEFAULT_SEED)


def parse(body: dict[str, Any]) -> tuple[FaultConfig | None, list[dict[str, str]]]:
    """A whole new configuration from a POST body (absent keys take their defaults, so {}
    clears everything); returns (config, []) or (None, validation details)."""
    details: list[dict[str, str]] = []
    known = set(FaultConfig.__dataclass_fields__)
    for key in body:
        if key not in known:
            details.append({"field": key, "message": "unknown fault setting"})
    values: dict[str, Any] = {}
    for name in RATE_FIELDS:
        if name in body:
            rate = _number(body[name])
            if rate is None or not 0 <= rate <= 1:
                details.append({"field": name, "message": "must be a number from 0 to 1"})
            else:
                values[name] = rate
    for name in ("latency_ms", "batch_cycle_seconds", "hang_seconds"):
        if name in body:
            number = _number(body[name])
            if number is None or number < 0:
                details.append({"field": name, "message": "must be a number of at least 0"})
            else:
                values[name] = int(number) if name == "latency_ms" else number
    if "endpoints" in body:
        endpoints = body["endpoints"]
        if not isinstance(endpoints, list) or not all(isinstance(e, str) for e in endpoints):
            details.append({"field": "endpoints", "message": "must be a list of strings"})
        else:
            values["endpoints"] = list(endpoints)
    if "seed" in body:
        if not isinstance(body["seed"], int) or isinstance(body["seed"], bool):
            details.append({"field": "seed", "message": "must be a whole number"})
        else:
            values["seed"] = body["seed"]
    if sum(values.get(name, 0.0) for name in RATE_FIELDS) > 1:
        details.append(
            {
                "field": "error_rate",
                "message": "error_rate + timeout_rate + rate_limit_rate + proxy_page_rate must not exceed 1",
            }
        )
    if details:
        return None, details
    return FaultConfig(**values), []


def configure(config: FaultConfig) -> None:
    global _config, _random
    with _lock:
        _config = config
        _random = random.Random(config.seed)


def reset() -> None:
    configure(FaultConfig())


def current() -> FaultConfig:
    return _config


def batch_cycle_seconds() -> float:
    return _config.batch_cycle_seconds


def inject(path: str) -> tuple[int, str, str, None, dict[str, str]] | None:
    """Apply the configured faults to one API call. Returns the arguments of an error response
    when the call must fail (before it has any effect), or None to let it through."""
    config = _config
    if config.endpoints and not any(part in path for part in config.endpoints):
        return None
    if config.latency_ms:
        time.sleep(config.latency_ms / 1000)
    # One draw per call against stacked intervals, so each rate is the share of calls it hits.
    with _lock:
        draw = _random.random()
    if draw < config.timeout_rate:
        time.sleep(config.hang_seconds)
        return 504, "gateway_timeout", "The backend did not answer in time.", None, {}
    draw -= config.timeout_rate
    if draw < config.rate_limit_rate:
        return (
            429,
            "rate_limited",
            "Rate limit is exceeded. Try again in 1 seconds.",
            None,
            {"Retry-After": "1"},
        )
    draw -= config.rate_limit_rate
    if draw < config.error_rate:
        return 500, "internal_error", "Simulated internal server error.", None, {}
    draw -= config.error_rate
    if draw < config.proxy_page_rate:
        status = PROXY_PAGE_STATUSES[int(draw / config.proxy_page_rate * len(PROXY_PAGE_STATUSES))]
        return status, PROXY_PAGE, "", None, {}
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
