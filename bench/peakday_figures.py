"""The peak day's arithmetic, pure (no Django, no I/O), so each figure can be tested by planting
what the run gathered: the release plan (the flash sale's shape), the latencies from the
simulators' own timestamps, the per-minute timeline and the figures against their targets.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bench.perf_common import figure

DASHBOARD_P99_TARGET_MS = 300


@dataclass(frozen=True)
class Shape:
    """A peak day: ``orders`` released over ``minutes``, ``burst_share`` of them within the first
    ``burst_fraction`` of the run (the flash sale), in releases ``tick_s`` apart."""

    orders: int
    minutes: float
    burst_share: float
    burst_fraction: float = 0.2
    tick_s: float = 5.0

    @property
    def seconds(self) -> float:
        return self.minutes * 60

    @property
    def burst_seconds(self) -> float:
        return self.seconds * self.burst_fraction


def release_plan(shape: Shape) -> list[tuple[float, int]]:
    """``(seconds from the start, orders)`` per release: the burst's share spread evenly over the
    burst's ticks, the rest over the remaining ticks; the counts add up to ``shape.orders``."""
    ticks = max(1, math.floor(shape.seconds / shape.tick_s))
    # Every tick that falls inside the burst's window is the burst's (none of the rest may).
    burst_ticks = min(ticks, max(1, math.ceil(shape.burst_seconds / shape.tick_s - 1e-9)))
    burst_orders = round(shape.orders * shape.burst_share) if burst_ticks < ticks else shape.orders
    plan = _spread(burst_orders, [n * shape.tick_s for n in range(burst_ticks)])
    plan += _spread(shape.orders - burst_orders, [n * shape.tick_s for n in range(burst_ticks, ticks)])
    return [(at, count) for at, count in plan if count]


def _spread(total: int, moments: list[float]) -> list[tuple[float, int]]:
    """``total`` over ``moments`` as evenly as whole numbers allow (the earlier ones take the rest)."""
    if not moments:
        return []
    each, rest = divmod(total, len(moments))
    return [(at, each + (1 if index < rest else 0)) for index, at in enumerate(moments)]


def parse_time(text: str | None) -> float | None:
    """An ISO 8601 timestamp as a Unix time (None stays None)."""
    return datetime.fromisoformat(text).timestamp() if text else None


def percentile_or_none(values: Iterable[float | None], share: float) -> float | None:
    """Nearest-rank percentile where None is a piece of work that never finished (an unbounded
    latency): when the rank falls on one, the figure cannot be measured and is None."""
    ordered = sorted(values, key=lambda v: math.inf if v is None else v)
    if not ordered:
        return None
    value = ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]
    return None if value is None else round(value, 2)


def latencies(starts: Mapping[str, float], ends: Mapping[str, float | None]) -> list[float | None]:
    """Per key of ``starts``: seconds until its end, or None when it never ended."""
    return [None if ends.get(key) is None else ends[key] - at for key, at in starts.items()]  # type: ignore[operator]


def per_minute(moments: Iterable[float | None], start: float) -> dict[int, int]:
    counts: dict[int, int] = {}
    for moment in moments:
        if moment is not None:
            minute = int((moment - start) // 60)
            counts[minute] = counts.get(minute, 0) + 1
    return counts


def timeline(start: float, *, released: Iterable[float], accepted: Iterable[float | None],
             dispatched: Iterable[float | None], posted: Iterable[float | None],
             requests: list[list[Any]]) -> list[dict[str, Any]]:
    """One row per minute from the start to the last thing that happened: orders released in
    Blue Cherry, accepted at Seko, dispatched at Seko, posted to Blue Cherry as shipments, and the
    dashboard's requests and p99 in that minute (``requests``: ``[unix start, page, ms, status]``)."""
    columns = {"released": per_minute(released, start), "accepted": per_minute(accepted, start),
               "dispatched": per_minute(dispatched, start), "posted": per_minute(posted, start)}
    page_ms: dict[int, list[float]] = {}
    for at, _page, ms, _status in requests:
        page_ms.setdefault(int((at - start) // 60), []).append(ms)
    last = max([*(max(c, default=0) for c in columns.values()), max(page_ms, default=0)])
    rows = []
    for minute in range(0, last + 1):
        row: dict[str, Any] = {"minute": minute, **{name: counts.get(minute, 0) for name, counts in columns.items()}}
        row["dashboard_requests"] = len(page_ms.get(minute, []))
        row["dashboard_p99_ms"] = percentile_or_none(page_ms.get(minute, []), 0.99)
        rows.append(row)
    return rows


def dashboard_figures(requests: list[list[Any]], start: float, burst_seconds: float) -> dict[str, Any]:
    """The dashboard's p99 during the flash sale and over the whole run, against the target. A
    request that failed (no answer, or not 200) counts as unbounded."""
    def ms(rows: list[list[Any]]) -> list[float | None]:
        return [row[2] if row[3] == 200 else None for row in rows]

    during = [row for row in requests if row[0] - start < burst_seconds]
    statuses: dict[str, int] = {}
    for row in requests:
        statuses[str(row[3])] = statuses.get(str(row[3]), 0) + 1
    by_page: dict[str, list[float | None]] = {}
    for row in requests:
        by_page.setdefault(row[1], []).append(row[2] if row[3] == 200 else None)
    return {
        "dashboard_p99_ms_bursts": figure(percentile_or_none(ms(during), 0.99), DASHBOARD_P99_TARGET_MS),
        "dashboard_p99_ms_overall": figure(percentile_or_none(ms(requests), 0.99), DASHBOARD_P99_TARGET_MS),
        "dashboard_p50_ms_overall": percentile_or_none(ms(requests), 0.5),
        "dashboard_requests": len(requests), "dashboard_requests_bursts": len(during),
        "dashboard_statuses": statuses,
        "dashboard_p99_ms_by_page": {page: percentile_or_none(values, 0.99)
                                     for page, values in sorted(by_page.items())},
    }


def exactly_once_figures(*, released: int, seko_accepted: Mapping[str, int], seko_dispatched: int,
                         shipments: Mapping[str, int], duplicate_posts_refused: int, wrongly_rejected: int,
                         max_submit_attempts: int) -> dict[str, Any]:
    """Every released order at Seko exactly once, every dispatch posted to Blue Cherry exactly once,
    from the simulators' counters (``seko_accepted``: per order, how often Seko accepted it;
    ``shipments``: per order dispatched at Seko, how many shipments Blue Cherry holds)."""
    once = sum(1 for n in seko_accepted.values() if n == 1)
    posted_once = sum(1 for n in shipments.values() if n == 1)
    return {
        "orders_at_seko_once": figure(once, released, at_most=False),
        "orders_accepted_more_than_once": figure(sum(1 for n in seko_accepted.values() if n > 1), 0),
        "dispatches_posted_once": figure(posted_once, seko_dispatched, at_most=False),
        "dispatches_posted_more_than_once": figure(sum(1 for n in shipments.values() if n > 1), 0),
        "duplicate_posts_refused": figure(duplicate_posts_refused, 0),
        "wrongly_rejected": figure(wrongly_rejected, 0),
        "max_submit_attempts": max_submit_attempts,
    }


# The process groups that are the integration itself; the simulators, the users' load generator
# and the bench stand in for the outside world.
INTEGRATION_GROUPS = ("qcluster", "web")
SERVER_GROUPS = ("database", "broker")  # PostgreSQL's and Redis's processes: nothing on SQLite


def cpu_figures(used_s: Mapping[str, float], orders: int) -> dict[str, Any]:
    """CPU seconds each watched group used over the day, and per order: the integration's own
    processes, then with the database and broker servers added, so SQLite (whose work is inside
    the integration's processes) and PostgreSQL + Redis (whose work is in their servers) compare."""
    integration = sum(used_s.get(name, 0.0) for name in INTEGRATION_GROUPS)
    servers = sum(used_s.get(name, 0.0) for name in SERVER_GROUPS)

    def per_order(seconds: float) -> float | None:
        return round(seconds * 1000 / orders, 2) if orders else None

    return {
        "cpu_s": {name: round(seconds, 1) for name, seconds in sorted(used_s.items())},
        "cpu_ms_per_order": {"integration": per_order(integration), "database_and_broker": per_order(servers),
                             "integration_with_servers": per_order(integration + servers)},
    }
