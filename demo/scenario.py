"""The demo, run inside a process whose settings already point at a fresh data directory
(the ``demo`` command arranges that). Headless: seed, generate N orders, drive the real
workers over real HTTP until nothing is left to do, and report. Interactive: the same system
plus the web server and a warehouse clock, until Ctrl-C.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from django.core.management import call_command
from django.db.models import Count
from django_q.tasks import async_task

from demo import dispatch as dispatch_demo  # issue 5: pushes, warehouse, dispatch report
from demo import items as items_demo  # issue 4: item-master audit and report
from demo import reconciliation as recon_demo  # issue 7: reconcile once dispatches settled
from demo import seed
from demo import stock as stock_demo
from demo.launcher import RunningSimulator, use_simulators
from demo.processes import Supervisor
from demo.reporting import speaker
from demo.waiting import drive_until_quiet
from exceptions.models import IntegrationException
from integration.models import Order
from integration.schedules import ensure_schedules
from integration.shared import worker_health
from integration.tasks import kick_sync_orders

Status = Order.Status
# Where our side leaves an order Seko never accepted from us. An order Seko refused as a
# duplicate is one it already holds, so it must not end here: its dispatch would come for an
# order we think is not at Seko (counted as ``orders.wrongly_rejected``).
NOT_ACCEPTED_HERE = (Status.RECEIVED, Status.SENDING, Status.QUARANTINED, Status.REJECTED)

# The interactive demo shows Seko's documented shapes without flags (the headless run takes
# them as rates, 0 unless asked for, so its figures stay comparable from run to run).
INTERACTIVE_SHAPES = {"preloaded_product_rate": 0.1, "held_stock_rate": 0.2, "tracking_later_rate": 0.3,
                      "adjustment_rate": 0.05}


say = speaker("demo")


def start_system(supervisor: Supervisor) -> tuple[RunningSimulator, RunningSimulator]:
    call_command("migrate", verbosity=0, interactive=False)
    bluecherry = supervisor.simulator("bluecherry")
    seko = supervisor.simulator("seko")
    # The workers read the simulators' addresses from the environment, like production would.
    supervisor.env.update({"BLUECHERRY_BASE_URL": bluecherry.base_url, "BLUECHERRY_API_KEY": bluecherry.api_key,
                           "SEKO_BASE_URL": seko.base_url, "SEKO_API_KEY": seko.api_key})
    supervisor.env["BLUECHERRY_USER_PAGE_URL"] = f"http://127.0.0.1:{bluecherry.port}/user/"  # the demo's only
    use_simulators(bluecherry, seko)
    dispatch_demo.use_push_credentials(supervisor)  # before the web server and workers start
    seed.seed_mappings()
    seed.seed_seko_reference(seko)
    supervisor.process("qcluster", ["manage.py", "qcluster"])
    say("django-q2 cluster started")
    return bluecherry, seko


def run_headless(data_dir: Path, env: dict[str, str], *, orders: int, seed_value: int,
                 timeout_s: float = 900, faults: dict[str, float] | None = None) -> dict[str, Any]:
    started = time.monotonic()
    with Supervisor(data_dir, env, say) as supervisor:
        bluecherry, seko = start_system(supervisor)
        # The demo users, so a run kept with --keep-data can be looked at and driven through the
        # screens and the API as each role (password <name>-demo), as the interactive demo is.
        seed.seed_users()
        items = max(40, orders // 2)
        generated = seed.generate_bluecherry(bluecherry, orders=orders, items=items, seed=seed_value)
        say(f"Blue Cherry generated {generated['orders']} released orders and {generated['items']} items")
        preloaded = items_demo.preload_products(bluecherry, seko, (faults or {}).get("preloaded_product_rate", 0.0),
                                                seed_value)
        if preloaded:
            say(f"Seko already holds {len(preloaded)} of them as products (loaded before the integration)")
        stocked = seed.seed_seko_stock(seko, bluecherry)
        say(f"Seko seeded with stock for {stocked} SKUs; the item flow creates the products")
        stock_demo.configure(seko)  # Seko's order-to-stock lag, compressed
        held = stock_demo.seed_held_stock(seko, bluecherry, (faults or {}).get("held_stock_rate", 0.0), seed_value)
        if held:
            say(f"{held} SKUs also hold stock at Seko in a location type not for sale")
        drive_to_quiescence(supervisor, expected=orders, timeout_s=timeout_s)
        items_demo.settle(say)  # issue 4: audit both item masters once the items have moved
        # issue 5: the web app takes Seko's pushes; the warehouse dispatches every order it holds.
        port = dispatch_demo.start_web(supervisor)
        dispatch_demo.point_pushes_at(seko, port)
        dispatch_demo.set_push_faults(seko, faults or {}, seed_value)
        dispatched = dispatch_demo.dispatch_everything(seko, faults or {}, seed_value)
        adjusted = stock_demo.adjust_warehouse(seko, bluecherry, (faults or {}).get("adjustment_rate", 0.0),
                                               seed_value)
        if adjusted:
            say(f"Seko adjusted stock: {adjusted} adjustment lines pushed, with some moves between location types")
        say(f"Seko dispatched {dispatched} orders; pushes go to the webhook on port {port}")
        dispatch_demo.drive_dispatches_to_quiescence(supervisor, seko, say, timeout_s=timeout_s)
        stock_demo.settle(bluecherry)  # issue 6: snapshot, publish, follow, audit
        recon_demo.settle(say)  # issue 7: after the dispatches settled, so a clean run balances
        report = build_report(seko, elapsed_s=time.monotonic() - started, bluecherry=bluecherry)
    # The supervisor has stopped the workers: a run kept with --keep-data must not look healthy to
    # /healthz/workers for the minutes its last heartbeat takes to age.
    worker_health.record_stopped()
    return report


def drive_to_quiescence(supervisor: Supervisor, *, expected: int, timeout_s: float) -> None:
    """Enqueue the order flow's heartbeat directly until every released order is settled
    (twice in a row)."""

    def quiet() -> bool:
        counts = order_counts()
        say("orders: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
        unsettled = sum(counts.get(s, 0) for s in (Status.RECEIVED, Status.SENDING))
        owed = Order.objects.filter(status=Status.SENT, pick_ticket_at__isnull=True).count()
        return sum(counts.values()) >= expected and unsettled == 0 and owed == 0 and items_demo.settled()

    drive_until_quiet(supervisor, kick=kick_sync_orders, quiet=quiet, timeout_s=timeout_s, what="orders",
                      figures=order_counts)


def order_counts() -> dict[str, int]:
    return dict(Order.objects.values_list("status").annotate(n=Count("id")).order_by())


def build_report(seko: RunningSimulator, *, elapsed_s: float,
                 bluecherry: RunningSimulator | None = None) -> dict[str, Any]:
    counts = order_counts()
    released = sum(counts.values())
    # "Sent" is accepted at Seko, whatever happened after (dispatched, dispatched short, ...).
    sent = Order.objects.filter(sent_at__isnull=False).count()
    cancelled = counts.get(Status.CANCELLED, 0)
    cancelled_unsent = Order.objects.filter(status=Status.CANCELLED, sent_at__isnull=True).count()
    by_kind: Counter[str] = Counter()
    for problems in Order.objects.filter(sent_at__isnull=True).values_list("problems", flat=True):
        for kind in {p.get("kind") for p in problems or []}:
            by_kind[kind] += 1
    seko_orders = seko.control("GET", "_sim/orders")["orders"]
    open_by_kind = dict(
        IntegrationException.objects.filter(status=IntegrationException.Status.OPEN)
        .values_list("kind").annotate(n=Count("id")).order_by()
    )
    figures = exactly_once_figures(submit_attempts(seko), order_statuses(),
                                   duplicate_posts_refused(bluecherry) if bluecherry is not None else 0)
    return {
        "orders": {
            "released": released,
            "sent": sent,
            "quarantined": released - sent - cancelled_unsent,  # released and not accepted at Seko
            "quarantined_by_kind": dict(sorted(by_kind.items())),
            "cancelled": cancelled,
            "dispatched": counts.get(Status.DISPATCHED, 0),
            "partially_dispatched": counts.get(Status.PARTIALLY_DISPATCHED, 0),
            **figures["orders"],
        },
        "seko": {"orders_received": len(seko_orders), **figures["seko"]},
        "dispatches": dispatch_demo.dispatch_report(),
        **({"bluecherry": {**dispatch_demo.bluecherry_report(bluecherry), **figures["bluecherry"]},
            "seko_pushes": dispatch_demo.seko_push_report(seko)} if bluecherry is not None else {}),
        "exceptions": {"open_by_kind": dict(sorted(open_by_kind.items()))},
        "stock": stock_demo.report(seko, bluecherry),
        "items": items_demo.report(bluecherry, seko) if bluecherry is not None else {},
        "reconciliation": recon_demo.report(),  # issue 7
        "elapsed_s": round(elapsed_s, 1),
    }


def submit_attempts(seko: RunningSimulator) -> dict[str, dict[str, int]]:
    """Every submit Seko read, per sales order number (held or not), by outcome: ``count``,
    ``accepted``, ``duplicate`` (refused as one it already holds), ``refused``."""
    return seko.control("GET", "_sim/submit-attempts")["by_order"]


def duplicate_posts_refused(bluecherry: RunningSimulator) -> int:
    """How often Blue Cherry refused a dispatch we had already posted (no second shipment)."""
    return bluecherry.control("GET", "_sim/state")["duplicate_posts_refused"]


def order_statuses() -> dict[str, str]:
    return dict(Order.objects.values_list("ord_num", "status"))


def wrongly_rejected(attempts: Mapping[str, Mapping[str, int]], order_status: Mapping[str, str]) -> list[str]:
    """Orders Seko refused as duplicates (so it holds them) that our side does not hold as
    accepted by Seko."""
    return sorted(o for o, outcome in attempts.items()
                  if outcome["duplicate"] and order_status.get(o, Status.RECEIVED) in NOT_ACCEPTED_HERE)


def exactly_once_figures(attempts: Mapping[str, Mapping[str, int]], order_status: Mapping[str, str],
                         posts_refused: int) -> dict[str, dict[str, int]]:
    """The figures that show an order reaching Seko, or a dispatch Blue Cherry, more than once,
    by the report section each belongs in. Resends after a lost reply are expected (Seko refuses
    them as duplicates); a duplicate refusal taken as a rejection is not."""
    return {
        "seko": {"max_submit_attempts": max((a["count"] for a in attempts.values()), default=0),
                 "duplicate_refusals": sum(a["duplicate"] for a in attempts.values())},
        "orders": {"wrongly_rejected": len(wrongly_rejected(attempts, order_status))},
        "bluecherry": {"duplicate_posts_refused": posts_refused},
    }


def run_interactive(data_dir: Path, env: dict[str, str], *, port: int, seed_value: int) -> None:
    with Supervisor(data_dir, env, say) as supervisor:
        bluecherry, seko = start_system(supervisor)
        credentials = seed.seed_users()
        ensure_schedules()
        generated = seed.generate_bluecherry(bluecherry, orders=40, items=60, seed=seed_value)
        # Seko as its pages document it, for whoever watches: some products already at Seko,
        # some stock held in location types not for sale (the Stock page shows both).
        items_demo.preload_products(bluecherry, seko, INTERACTIVE_SHAPES["preloaded_product_rate"], seed_value)
        seed.seed_seko_stock(seko, bluecherry)
        stock_demo.seed_held_stock(seko, bluecherry, INTERACTIVE_SHAPES["held_stock_rate"], seed_value)
        say(f"Blue Cherry generated {generated['orders']} released orders")
        dispatch_demo.start_web(supervisor, port)  # served as in production (gunicorn)
        dispatch_demo.point_pushes_at(seko, port)  # Seko's pushes reach the webhook
        say(f"web server up: http://127.0.0.1:{port}/  (admin: http://127.0.0.1:{port}/admin/)")
        say("demo users (username / password): " + ", ".join(f"{u} / {p}" for u, p in credentials.items()))
        # A person plays the Blue Cherry user on the simulator's own page: the product links there
        # (and only in the demo) because BLUECHERRY_USER_PAGE_URL names it (set in start_system).
        say(f"play the Blue Cherry user: {supervisor.env['BLUECHERRY_USER_PAGE_URL']}  (key: {bluecherry.api_key})")
        say("Ctrl-C stops everything")
        warehouse_clock(supervisor, bluecherry, seko, seed_value)


def warehouse_clock(supervisor: Supervisor, bluecherry: RunningSimulator, seko: RunningSimulator, seed_value: int,
                    tick_s: float = 5.0) -> None:
    """Keep orders flowing while someone watches: new orders arrive in Blue Cherry, the
    integration syncs, and the warehouse dispatches some of what it holds."""
    tick = 0
    while True:
        supervisor.check_alive()
        kick_sync_orders()
        if tick % 6 == 5:
            # Clean orders: the planted problems of the first batch are enough to look at.
            seed.generate_bluecherry(bluecherry, orders=5, items=0, seed=seed_value + tick, mix={})
        if tick % 4 == 3:
            seko.control("POST", "_sim/warehouse/advance", {
                "orders": 3, "seed": seed_value + tick,
                "tracking_later_rate": INTERACTIVE_SHAPES["tracking_later_rate"]})
        if tick % 24 == 13:  # now and then the warehouse counts, finds and damages stock
            stock_demo.adjust_warehouse(seko, bluecherry, INTERACTIVE_SHAPES["adjustment_rate"], seed_value + tick)
        # The other flows run on their schedules (minutes apart); in a demo someone is watching.
        if tick % 6 == 2:
            async_task("integration.tasks.sync_stock", task_name="sync_stock")
        if tick % 12 == 11:
            async_task("integration.tasks.reconcile", trigger="demo", task_name="reconcile")
        tick += 1
        time.sleep(tick_s)
