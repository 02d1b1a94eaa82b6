"""Order injection (``manage.py bench --only orders``): released orders from the Blue Cherry
simulator through validation to the Seko simulator and the pick ticket back to Blue Cherry,
end to end with the real django-q2 cluster, over real loopback HTTP.

The items are made and settled first (not timed: the item flow must acknowledge a SKU before
its orders are sellable). Then two timed phases on the same database, each a burst of clean
released orders: (1) no added latency, everything on this machine; (2) both simulators adding
``LATENCY_MS`` to every API call, as remote services do. A phase starts once Blue Cherry holds
the burst and ends when every order of it has been accepted by Seko and its pick ticket posted.
This process only enqueues the order flow's heartbeat every second (what the scheduler does,
faster); the CPU counted is the cluster's process group (its workers, monitor, pusher), read
from /proc before and after, and the simulators' for their share.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Count, Max, Min
from django.utils import timezone

from bench.perf_common import group_cpu_seconds, say, servers_cpu_seconds
from demo import items as items_demo
from demo import scenario, seed
from demo.processes import Supervisor
from integration.models import Order, OrderLine
from integration.tasks import kick_sync_orders

LATENCY_MS = 150
SCALES = {"small": {"items": 60, "orders": 60, "latency_orders": 30},
          "full": {"items": 300, "orders": 1000, "latency_orders": 500}}
STALL_SECONDS = 180  # no order finished for this long: the phase has failed, say so


def kick() -> None:
    kick_sync_orders()


def settle_items(supervisor: Supervisor, expected: int) -> None:
    from integration.models import Item

    deadline = time.monotonic() + 600
    while not (Item.objects.count() >= expected and items_demo.settled()):
        if time.monotonic() > deadline:
            raise RuntimeError("items did not settle within 600 s")
        supervisor.check_alive()
        kick()
        time.sleep(2)


def finished() -> int:
    return Order.objects.filter(sent_at__isnull=False, pick_ticket_at__isnull=False).count()


def phase(supervisor: Supervisor, bluecherry: Any, seko: Any, cluster_pid: int, *, orders: int, latency_ms: int,
          seed_value: int) -> dict[str, Any]:
    for sim in (bluecherry, seko):
        sim.control("POST", "_sim/faults", {"latency_ms": latency_ms})
    target = finished() + orders
    seed.generate_bluecherry(bluecherry, orders=orders, items=0, seed=seed_value, mix={})
    sims_cpu0 = sum(group_cpu_seconds(s.process.pid) for s in (bluecherry, seko))
    servers0 = servers_cpu_seconds()
    cpu0 = group_cpu_seconds(cluster_pid)
    started_at = timezone.now()
    started = last_progress = time.monotonic()
    done = finished()
    last_kick = 0.0
    while done < target:
        supervisor.check_alive()
        if time.monotonic() - last_kick >= 1:  # the heartbeat once a second, as before
            kick()
            last_kick = time.monotonic()
        time.sleep(0.1)  # but look often: the end is measured to a tenth, not to the next kick
        now_done = finished()
        if now_done > done:
            last_progress = time.monotonic()
        done = now_done
        if time.monotonic() - last_progress > STALL_SECONDS:
            counts = dict(Order.objects.values_list("status").annotate(n=Count("id")).order_by())
            raise RuntimeError(f"orders stalled at {done}/{target}: {counts}")
    elapsed = time.monotonic() - started
    cpu = group_cpu_seconds(cluster_pid) - cpu0
    servers = {role: seconds - servers0[role] for role, seconds in servers_cpu_seconds().items()}
    sims_cpu = sum(group_cpu_seconds(s.process.pid) for s in (bluecherry, seko)) - sims_cpu0
    say(f"{orders} orders with {latency_ms} ms latency: {elapsed:.1f}s, {orders / elapsed:.1f}/s, "
        f"integration CPU {cpu:.1f}s, simulators CPU {sims_cpu:.1f}s")
    return {"orders": orders, "elapsed_s": round(elapsed, 1), "orders_per_s": round(orders / elapsed, 1),
            "cpu_s": round(cpu, 2), "sim_cpu_s": round(sims_cpu, 2), "timeline_s": timeline(started_at),
            **{f"{role}_cpu_s": round(seconds, 2) for role, seconds in our_servers(servers).items()},
            **({"tasks": tasks_since(started_at), "calls_ms": calls_since(started_at)}
               if os.environ.get("BENCH_DEBUG") else {})}


def our_servers(servers: dict[str, float]) -> dict[str, float]:
    """The servers this run uses: PostgreSQL when the database is, Redis when the broker is (on
    SQLite and the ORM broker both live in our own processes, already counted)."""
    used = {"database": connection.vendor == "postgresql", "broker": settings.Q_BROKER_URL.startswith("redis://")}
    return {role: seconds for role, seconds in servers.items() if used[role]}


def per_order_with_servers(phase_figures: dict[str, Any]) -> dict[str, float]:
    """CPU per order counting the servers the run used beside ours, so the profiles compare."""
    orders = phase_figures["orders"]
    servers = {key: value for key, value in phase_figures.items() if key in ("database_cpu_s", "broker_cpu_s")}
    total = phase_figures["cpu_s"] + sum(servers.values())
    return {"cpu_ms_per_order_with_servers": round(total * 1000 / orders, 1),
            **{key.replace("_cpu_s", "_cpu_ms_per_order"): round(value * 1000 / orders, 1)
               for key, value in servers.items()}}


def calls_since(started_at: datetime) -> dict[str, list[int]]:
    """Per operation: p50, p90 and max of the calls' durations as the clients measured them."""
    from integration.models import MessageLog

    durations: dict[str, list[int]] = {}
    for operation, ms in MessageLog.objects.filter(created_at__gte=started_at).values_list("operation", "duration_ms"):
        durations.setdefault(operation, []).append(ms or 0)
    return {op: [sorted(v)[len(v) // 2], sorted(v)[len(v) * 9 // 10], max(v), len(v)] for op, v in durations.items()}


def tasks_since(started_at: datetime) -> list[tuple[str, float, float]]:
    from django_q.models import Task

    return [(t.name or t.func, round((t.started - started_at).total_seconds(), 2),
             round((t.stopped - started_at).total_seconds(), 2))
            for t in Task.objects.filter(stopped__gte=started_at).order_by("started")]


def timeline(started_at: datetime) -> dict[str, float | None]:
    """Seconds from the phase's start to each step's first and last order: where the time went."""
    steps = Order.objects.filter(created_at__gte=started_at).aggregate(
        first_pulled=Min("created_at"), last_pulled=Max("created_at"), first_sent=Min("sent_at"),
        last_sent=Max("sent_at"), last_pick_ticket=Max("pick_ticket_at"))
    return {name: round((at - started_at).total_seconds(), 2) if at else None for name, at in steps.items()}


def run(data_dir: Path, *, scale: str) -> dict[str, Any]:
    size = SCALES[scale]
    with Supervisor(data_dir, dict(os.environ), say) as supervisor:
        bluecherry, seko = scenario.start_system(supervisor)
        cluster_pid = supervisor.processes[-1][1].pid  # start_system's last process is the cluster
        seed.generate_bluecherry(bluecherry, orders=0, items=size["items"], seed=5, mix={})
        seed.seed_seko_stock(seko, bluecherry)
        settle_items(supervisor, size["items"])
        say(f"{size['items']} items settled (not timed)")
        fast = phase(supervisor, bluecherry, seko, cluster_pid, orders=size["orders"], latency_ms=0, seed_value=7)
        slow = phase(supervisor, bluecherry, seko, cluster_pid, orders=size["latency_orders"],
                     latency_ms=LATENCY_MS, seed_value=8)
        held = Counter(o["SalesOrderNumber"] for o in seko.control("GET", "_sim/orders")["orders"])
        attempts = scenario.submit_attempts(seko)
        posts_refused = scenario.duplicate_posts_refused(bluecherry)
    total = size["orders"] + size["latency_orders"]
    figures = scenario.exactly_once_figures(attempts, scenario.order_statuses(), posts_refused)
    lines = OrderLine.objects.count()
    return {
        "cpu_ms_per_order": round(fast["cpu_s"] * 1000 / fast["orders"], 1),
        **per_order_with_servers(fast),
        "orders_per_s": fast["orders_per_s"],
        "sim_cpu_share": round(fast["sim_cpu_s"] / (fast["sim_cpu_s"] + fast["cpu_s"]), 2),
        "orders_per_s_latency": slow["orders_per_s"],
        "cpu_ms_per_order_latency": round(slow["cpu_s"] * 1000 / slow["orders"], 1),
        "latency_ms": LATENCY_MS,
        "exactly_once": exactly_once(held, attempts, expected=total) and not figures["orders"]["wrongly_rejected"],
        "seko_orders": len(held),
        **figures["seko"], **figures["orders"], **figures["bluecherry"],
        "lines_per_order": round(lines / max(1, Order.objects.count()), 2),
        "phases": {"no_latency": fast, "latency": slow},
        "workers": settings.Q_CLUSTER["workers"],
        "send_concurrency": settings.ORDER_SEND_CONCURRENCY,
        "batch_size": settings.ORDER_BATCH_SIZE,
    }


def exactly_once(held: Counter[str], attempts: dict[str, dict[str, int]], *, expected: int) -> bool:
    """Seko holds every order of both bursts once and accepted each once (a resend after a lost
    reply is refused as a duplicate, not accepted again)."""
    return (len(held) == expected and all(n == 1 for n in held.values())
            and all(a["accepted"] == 1 for a in attempts.values()) and held.keys() <= attempts.keys())
