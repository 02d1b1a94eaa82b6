"""Dashboard at volume (``manage.py bench --only dashboard``): the pages ops and finance open all
day, served by the web app as in production, timed by the load generator in its own process
(median of several requests, one at a time), first on the smaller history, then on the larger
(full scale: 10,000 then 1,000,000 orders).

The data have production's shape (bench/dashboard_seed.py): each order with its lines, its
timeline and its messages (~6 with ~2 KB bodies a dispatched order), exceptions with their
history, the item master and its stock positions, a reconciliation row per day. The pages are
requested as the people who use them: an ``ops`` user, and a ``finance`` user for the
reconciliation, made by the demo's own role setup, never a superuser (who skips the group
check). The query count of each page is taken by rendering it in this process through Django's
test client (the same views, middleware and templates) inside CaptureQueriesContext.

Targets per page: a median of at most 100 ms on the larger history, at most 1.5 times its time on
the smaller one, and the same number of queries at both sizes.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from bench import dashboard_seed as seed
from bench.perf_common import figure, run_loadgen, say
from demo.dispatch import start_web
from demo.processes import Supervisor
from demo.seed import seed_users
from integration.shared.roles import FINANCE, OPS
from integration.status_counters import COUNTERS

# (orders, exceptions) at the smaller and the larger size
SCALES = {"small": ((2_000, 400), (20_000, 4_000)), "full": ((10_000, 2_000), (1_000_000, 200_000))}
SKUS_PER_ORDER = 0.1  # 100,000 SKUs beside a million orders
REPEAT = 7
DETAIL_NUMBER = 100  # the order the bench opens: among the newest, present at every size
_LAST_MONTH_START = (seed.END.replace(day=1) - timedelta(days=1)).replace(day=1)
RECON_MONTH = _LAST_MONTH_START.strftime("%Y-%m")  # the last whole month
# Reconciliation runs every day whatever the volume, so even the small history has the whole
# month the page is asked for: the page's cost follows days in the month, not orders.
RECON_DAYS_AT_LEAST = (seed.END.date() - _LAST_MONTH_START.date()).days
MEDIAN_MS_TARGET = 100
RATIO_TARGET = 1.5


@dataclass(frozen=True)
class Page:
    path: str
    role: str  # the group of the user who requests it


def pages() -> dict[str, Page]:
    kind = seed.exception_kinds()[0]
    return {
        "overview": Page("/", OPS),
        "exceptions": Page("/exceptions/", OPS),
        "exceptions_filtered": Page(f"/exceptions/?owner={kind.owner}&kind={kind.code}", OPS),
        "orders": Page("/orders/", OPS),
        "orders_filtered": Page("/orders/?status=quarantined", OPS),
        "order_detail": Page(f"/orders/{seed.ord_num(DETAIL_NUMBER)}/", OPS),
        "overdue": Page("/overdue/", OPS),
        "stock": Page("/stock/", OPS),
        "items": Page("/items/", OPS),
        "reconciliation_month": Page(f"/reconciliation/month/{RECON_MONTH}/", FINANCE),
    }


def bench_users() -> dict[str, User]:
    """The people who open the pages, made by the demo's role setup (groups as in production);
    a superuser would skip the group checks the pages make."""
    seed_users()
    users = {role: User.objects.get(username=role) for role in (OPS, FINANCE)}
    for role, user in users.items():
        if user.is_superuser or not user.groups.filter(name=role).exists():
            raise RuntimeError(f"the {role} user must be an ordinary member of {role}")
    return users


def signed_in(users: dict[str, User]) -> dict[str, Client]:
    clients = {}
    for role, user in users.items():
        clients[role] = Client()
        clients[role].force_login(user)
    return clients


def query_counts(clients: dict[str, Client]) -> dict[str, int]:
    counts = {}
    for name, page in pages().items():
        with CaptureQueriesContext(connection) as queries:
            response = clients[page.role].get(page.path)
        assert response.status_code == 200, f"{page.path} answered {response.status_code}"
        counts[name] = len(queries)
        if os.environ.get("BENCH_VERBOSE"):  # which statements a page's time goes to
            for query in sorted(queries.captured_queries, key=lambda q: -float(q["time"]))[:3]:
                say(f"  {name}: {query['time']}s {query['sql'][:300]}")
    return counts


def measure(port: int, clients: dict[str, Client], data_dir: Path) -> dict[str, dict[str, Any]]:
    timed: dict[str, dict[str, Any]] = {}
    for role, client in clients.items():
        urls = {name: f"http://127.0.0.1:{port}{page.path}" for name, page in pages().items() if page.role == role}
        got = run_loadgen({"mode": "get", "urls": list(urls.values()), "repeat": REPEAT,
                           "cookies": {"sessionid": client.cookies["sessionid"].value}}, data_dir)
        timed |= {name: got[url] for name, url in urls.items()}
    counts = query_counts(clients)
    return {name: {"ms": timed[name]["median_ms"], "queries": counts[name], "statuses": timed[name]["statuses"]}
            for name in pages()}


def compact_status_counts() -> None:
    """Fold the status counters' deltas, as the every-minute schedule has done in production by
    the time anyone looks (on SQLite the seeding's triggers wrote one delta row per order and item)."""
    started = time.perf_counter()
    folded = sum(counter.compact(connection) for counter in COUNTERS)
    say(f"compacted {folded} status deltas in {time.perf_counter() - started:.2f}s")


def reconciliation_days(orders_seeded: int, orders_total: int) -> int:
    """The reconciliation days a history of ``orders_seeded`` orders has: one a day since its first
    order, and at least back to the start of the month the page is asked for."""
    if not orders_seeded:
        return 0
    return max(-(-orders_seeded * 365 // orders_total), RECON_DAYS_AT_LEAST)


def grow(counts: seed.Counts, orders: tuple[int, int], exceptions: tuple[int, int], *, totals: tuple[int, int],
         rng: random.Random) -> None:
    """Seed orders ``orders[0]`` .. ``orders[1]`` and exceptions likewise, with the SKUs and the
    reconciliation days a history of that length has."""
    orders_total, exceptions_total = totals
    skus_from, skus_to = (int(n * SKUS_PER_ORDER) for n in orders)
    days_from, days_to = (reconciliation_days(n, orders_total) for n in orders)
    counts.add(seed.seed_catalogue(skus_from, skus_to - skus_from))
    counts.add(seed.seed_orders(orders[0], orders[1] - orders[0], total=orders_total, skus=skus_to, rng=rng))
    counts.add(seed.seed_exceptions(exceptions[0], exceptions[1] - exceptions[0], orders_total=orders_total,
                                    exceptions_total=exceptions_total, rng=rng))
    counts.add(seed.seed_reconciliation(days_to, orders_total=orders_total, skip=days_from))
    compact_status_counts()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # what autovacuum would have done by the time anyone looks


def sizes(counts: seed.Counts) -> dict[str, int]:
    return {"orders": counts.orders, "lines": counts.lines, "order_events": counts.order_events,
            "message_rows": counts.messages, "exceptions": counts.exceptions,
            "exception_events": counts.exception_events, "stock_positions": counts.stock_positions,
            "items": counts.items, "reconciliation_days": counts.reconciliation_days}


def served(data_dir: Path, clients: dict[str, Client]) -> dict[str, dict[str, Any]]:
    with Supervisor(data_dir, dict(os.environ), say) as supervisor:  # a fresh server: no warm caches
        return measure(start_web(supervisor), clients, data_dir)


def page_figures(big: dict[str, Any], small: dict[str, Any]) -> dict[str, Any]:
    ratio = round(big["ms"] / small["ms"], 2) if small["ms"] else None
    return {"ms_1m": big["ms"], "ms_10k": small["ms"], "queries_1m": big["queries"], "queries_10k": small["queries"],
            "median_ms_1m": figure(big["ms"], MEDIAN_MS_TARGET),
            "ratio_1m_to_10k": figure(ratio, RATIO_TARGET),
            "same_queries": figure(big["queries"] - small["queries"], 0)}


def run(data_dir: Path, *, scale: str) -> dict[str, Any]:
    (small_orders, small_exc), (big_orders, big_exc) = SCALES[scale]
    rng = random.Random(9)
    clients = signed_in(bench_users())
    counts = seed.Counts()
    totals = (big_orders, big_exc)
    started = time.perf_counter()
    grow(counts, (0, small_orders), (0, small_exc), totals=totals, rng=rng)
    seed.detail_order_exception(DETAIL_NUMBER, big_orders)
    say(f"seeded {sizes(counts)} in {time.perf_counter() - started:.1f}s")
    small_sizes = sizes(counts)
    small = served(data_dir, clients)
    say(f"at {small_orders} orders: {small}")
    started = time.perf_counter()
    grow(counts, (small_orders, big_orders), (small_exc, big_exc), totals=totals, rng=rng)
    seed_s = time.perf_counter() - started
    say(f"seeded up to {sizes(counts)} in {seed_s:.1f}s")
    big = served(data_dir, clients)
    say(f"at {big_orders} orders: {big}")
    result: dict[str, Any] = {name: page_figures(big[name], small[name]) for name in pages()}
    result["all_met"] = all(f["met"] for name in pages() for f in result[name].values() if isinstance(f, dict))
    result["sizes"] = {"10k": small_sizes, "1m": sizes(counts)}
    result["seed_1m_s"] = round(seed_s, 1)
    result["requested_as"] = {name: page.role for name, page in pages().items()}
    return result
