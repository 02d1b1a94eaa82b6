"""The chaos run (issue 8): the headless demo's whole system over real HTTP, broken on purpose,
then checked against the simulators themselves.

Phases:
1. Orders under faults: both simulators answer 20% of API calls with an error or a timeout
   (Seko also times out *after* committing, and shapes its replies with its quirks) while the
   django-q2 cluster is SIGKILLed (with its workers) at random moments and restarted.
2. Dispatches under faults: the warehouse dispatches in rounds with short shipments and missing
   tracking numbers; Seko drops 10% and doubles 10% of its push records; the kills go on.
3. Faults cleared: everything is driven to quiescence (the demo's own loops).
4. Invariants, read from the simulators' control APIs and compared with our database.

Every random choice (kill moments, faults, warehouse) comes from the seed, so a seed tells one
story (the timing of a kill against the work in flight still varies from run to run).
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import Count, QuerySet
from django_q.brokers import get_broker
from django_q.tasks import async_task

from demo import dispatch as dispatch_demo
from demo import items as items_demo
from demo import scenario, seed
from demo.launcher import RunningSimulator
from demo.processes import Supervisor
from demo.reporting import speaker
from demo.waiting import throttled
from exceptions.models import IntegrationException
from integration.models import Dispatch, InboundPush, Item, Order, PushPart
from integration.tasks import kick_sync_orders

Status = Order.Status

# The simulators hang this long on a "timeout"; our read timeout (CHAOS_ENV) is below it, so a
# hang is a timeout on our side, and both are short so a run stays fast.
HANG_SECONDS = 1.5
# Settings of the processes of a chaos run (on top of the demo's compressed time). A lease
# shorter than the default so work claimed by a killed worker comes back within the run, but
# longer than a batch takes even when every call in it times out and is retried.
CHAOS_ENV = {
    "HTTP_READ_TIMEOUT": "1.0",
    "HTTP_CONNECT_TIMEOUT": "1.0",
    "HTTP_BACKOFF_SECONDS": "0.1",
    "ORDER_LEASE_SECONDS": "20",
    "ORDER_BATCH_SIZE": "5",
    "DISPATCH_BATCH_SIZE": "50",
    "ITEM_BATCH_SIZE": "50",
    "ITEM_SYNC_BUDGET_SECONDS": "10",
    "RETRY_BASE_SECONDS": "0.5",
    "RETRY_MAX_SECONDS": "4",
    # A task leased by a killed cluster goes back to the ORM queue after Q_RETRY, which stays
    # above Q_TIMEOUT so a live task is never handed out twice; a task running past Q_TIMEOUT
    # has its worker killed by django-q2: one more crash the design has to survive.
    "Q_TIMEOUT": "40",
    "Q_RETRY": "45",
    "Q_WORKERS": "2",
}
SEKO_FAULTS = {"error_rate": 0.08, "timeout_rate": 0.06, "timeout_after_commit_rate": 0.06, "rate_limit_rate": 0.0,
               "quirks": True, "hang_seconds": HANG_SECONDS,
               "drop_push_rate": 0.10, "duplicate_push_rate": 0.10}
BLUECHERRY_FAULTS = {"error_rate": 0.10, "timeout_rate": 0.10, "hang_seconds": HANG_SECONDS}
WAREHOUSE_FAULTS = {"short_ship_rate": 0.10, "missing_tracking_rate": 0.10, "missing_carrier_rate": 0.03}
# Order faults the generator plants that keep an order from Seko for good (repeated SKUs are
# consolidated by the mapper, so those orders are valid).
INVALID_ORDER_FAULTS = ("bad_ship_via", "bad_location", "sku_not_live", "missing_address")
MIN_KILLS = 3


say = speaker("chaos")


class Killer:
    """SIGKILLs the django-q2 cluster (its whole process group: main, workers, monitor) at
    random moments drawn from the seed, and starts a new one straight away."""

    def __init__(self, supervisor: Supervisor, rng: random.Random, *, low: float = 4.0, high: float = 15.0):
        self.supervisor = supervisor
        self.rng = rng
        self.low, self.high = low, high
        self.kills = 0
        self.next_at = time.monotonic() + rng.uniform(low, high)

    def tick(self) -> None:
        if time.monotonic() >= self.next_at:
            self.kill_and_restart()

    def kill_and_restart(self) -> None:
        for entry in list(self.supervisor.processes):
            name, process = entry
            if name != "qcluster":
                continue
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            self.supervisor.processes.remove(entry)
        self.kills += 1
        self.supervisor.process("qcluster", ["manage.py", "qcluster"])
        say(f"SIGKILLed the django-q2 cluster (kill {self.kills}) and started a new one")
        self.next_at = time.monotonic() + self.rng.uniform(self.low, self.high)


def run(data_dir: Path, env: dict[str, str], *, orders: int, seed_value: int, timeout_s: float) -> dict[str, Any]:
    started = time.monotonic()
    rng = random.Random(seed_value)
    with Supervisor(data_dir, env, say) as supervisor:
        bluecherry, seko = scenario.start_system(supervisor)
        port = dispatch_demo.start_web(supervisor)  # the webhook is up from the start
        dispatch_demo.point_pushes_at(seko, port)
        generated = seed.generate_bluecherry(bluecherry, orders=orders, items=max(40, orders // 2), seed=seed_value)
        seed.seed_seko_stock(seko, bluecherry)
        say(f"Blue Cherry generated {generated['orders']} released orders and {generated['items']} items")
        set_faults(bluecherry, seko, seed_value)
        killer = Killer(supervisor, rng)
        # Phase 1: orders under faults and kills, until they settle (or a cap) with two kills done.
        cap = max(30.0, orders * 0.15)
        chaos_loop(supervisor, killer, lambda: orders_settled(orders), min_kills=2, cap_s=cap,
                   kick=kick_sync_orders,
                   label="orders")
        # Phase 2: the warehouse dispatches what Seko holds; pushes dropped and doubled; kills go on.
        dispatched = dispatch_demo.dispatch_everything(seko, WAREHOUSE_FAULTS, seed_value)
        say(f"Seko dispatched {dispatched} orders")

        def kick_dispatches() -> None:
            kick_sync_orders()
            async_task("integration.tasks.sync_dispatches", task_name="sync_dispatches")
            async_task("integration.tasks.poll_dispatches", task_name="poll_dispatches")

        chaos_loop(supervisor, killer, lambda: dispatches_settled(seko), min_kills=MIN_KILLS, cap_s=cap,
                   kick=kick_dispatches, label="dispatches")
        # Phase 3: faults cleared; run to quiescence with the demo's loops.
        clear_faults(bluecherry, seko)
        say(f"faults cleared after {killer.kills} kills; running to quiescence")
        remaining = timeout_s - (time.monotonic() - started)
        scenario.drive_to_quiescence(supervisor, expected=orders, timeout_s=remaining)
        late = dispatch_demo.dispatch_everything(seko, WAREHOUSE_FAULTS, seed_value + 1, rounds=1)
        say(f"Seko dispatched {late} more orders (sent after the chaos)")
        remaining = timeout_s - (time.monotonic() - started)
        dispatch_demo.drive_dispatches_to_quiescence(supervisor, seko, say, timeout_s=remaining)
        wait_for_broker(timeout_s=float(CHAOS_ENV["Q_RETRY"]) + 30)
        report = check(bluecherry, seko, generated)
        report["kills"] = killer.kills
        report["elapsed_s"] = round(time.monotonic() - started, 1)
    return report


def set_faults(bluecherry: RunningSimulator, seko: RunningSimulator, seed_value: int) -> None:
    seko.control("POST", "_sim/faults", {**SEKO_FAULTS, "seed": seed_value})
    bluecherry.control("POST", "_sim/faults", {**BLUECHERRY_FAULTS, "seed": seed_value})


def clear_faults(bluecherry: RunningSimulator, seko: RunningSimulator) -> None:
    seko.control("POST", "_sim/faults", {})
    bluecherry.control("POST", "_sim/faults", {})


def chaos_loop(supervisor: Supervisor, killer: Killer, settled: Callable[[], bool], *, min_kills: int,
               cap_s: float, kick: Callable[[], None], label: str) -> None:
    """Kick the work every 2 s and kill the cluster at random moments until the work settles
    and at least ``min_kills`` kills are done, or the cap is reached (the rest settles later)."""
    deadline = time.monotonic() + cap_s
    kick_when_due = throttled(kick)
    while True:
        killer.tick()
        kick_when_due()
        time.sleep(0.5)
        if killer.kills >= min_kills and (settled() or time.monotonic() > deadline):
            break
        if time.monotonic() > deadline and killer.kills < min_kills:
            killer.kill_and_restart()  # the cap is reached: the kills owed are done now
    say(f"{label} phase over: {scenario.order_counts()}; dispatches {dispatch_demo.dispatch_counts()}")


def orders_settled(expected: int) -> bool:
    counts = scenario.order_counts()
    unsettled = counts.get(Status.RECEIVED, 0) + counts.get(Status.SENDING, 0)
    return sum(counts.values()) >= expected and not unsettled and items_demo.settled()


def dispatches_settled(seko: RunningSimulator) -> bool:
    state = seko.control("GET", "_sim/state")
    return not (state["pending_pushes"] or dispatch_demo.pushes_waiting()
                or Dispatch.objects.filter(status__in=[Dispatch.Status.RECEIVED, Dispatch.Status.POSTING]).exists())


def broker_backlog() -> dict[str, int]:
    broker = get_broker()
    backlog = {"queued": broker.queue_size() or 0}
    if not settings.Q_BROKER_URL:  # the ORM broker also holds tasks leased by a killed cluster
        backlog["leased"] = broker.lock_size() or 0
    return backlog


def wait_for_broker(timeout_s: float) -> None:
    """No kicks any more: wait until the broker holds no task (a task leased by a killed
    cluster is handed out again after Q_RETRY and runs)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and any(broker_backlog().values()):
        time.sleep(1)


# --- Invariants ---------------------------------------------------------------------------------


@dataclass
class Evidence:
    """What the invariants are judged on, read once the broker has drained: the generator's
    story, both simulators' own records (over their APIs), our open exceptions and the work
    still waiting here."""

    released: set[str]
    invalid: set[str]
    seko_orders: list[dict[str, Any]]
    shipments: list[dict[str, Any]]
    invoices: list[dict[str, Any]]
    pushes: list[dict[str, Any]]
    orders_with_open_exception: set[str]
    stuck: dict[str, int]

    @cached_property
    def valid(self) -> set[str]:
        return self.released - self.invalid

    @cached_property
    def at_seko(self) -> Counter[str]:
        return Counter(o["SalesOrderNumber"] for o in self.seko_orders)

    @cached_property
    def times_submitted(self) -> dict[str, int]:
        return {o["SalesOrderNumber"]: o["times_submitted"] for o in self.seko_orders}

    @cached_property
    def shipments_per_order(self) -> Counter[str]:
        return Counter(s["ord_num"] for s in self.shipments)

    @cached_property
    def dispatched_at_seko(self) -> set[str]:
        return {o["SalesOrderNumber"] for o in self.seko_orders if o["Status"] == "Dispatched"}


def gather_evidence(bluecherry: RunningSimulator, seko: RunningSimulator, generated: dict[str, Any]) -> Evidence:
    seko_orders = seko.control("GET", "_sim/orders")["orders"]
    # A task enqueued a moment ago (a late kick) is not stuck: give the broker its chance to
    # drain again before "nothing stuck" is judged.
    wait_for_broker(timeout_s=float(CHAOS_ENV["Q_RETRY"]) + 30)
    return Evidence(
        released=set(generated["ord_nums"]),
        invalid={o for kind in INVALID_ORDER_FAULTS for o in generated["faults"].get(kind, [])},
        seko_orders=seko_orders,
        shipments=seed.bluecherry_rows(bluecherry, "shipments"),
        invoices=seed.bluecherry_rows(bluecherry, "invoices"),
        pushes=seko.control("GET", "_sim/pushes")["pushes"],
        orders_with_open_exception=set(open_exceptions().filter(order__isnull=False)
                                       .values_list("order__ord_num", flat=True)),
        stuck=stuck_work(),
    )


def open_exceptions() -> QuerySet[IntegrationException]:
    return IntegrationException.objects.filter(status=IntegrationException.Status.OPEN)


# Each invariant returns what breaks it (nothing when it holds).

def valid_orders_at_seko_exactly_once(seen: Evidence) -> list[Any]:
    return [o for o in seen.valid if seen.at_seko.get(o) != 1 or seen.times_submitted.get(o) != 1]


def nothing_at_seko_not_released(seen: Evidence) -> list[Any]:
    return [o for o in seen.at_seko if o not in seen.valid]


def invalid_orders_in_exception_queue(seen: Evidence) -> list[Any]:
    return [o for o in seen.invalid if o not in seen.orders_with_open_exception or o in seen.at_seko]


def dispatches_posted_exactly_once(seen: Evidence) -> list[Any]:
    posted = set(Dispatch.objects.filter(status=Dispatch.Status.POSTED).values_list("ord_num", flat=True))
    ships = seen.shipments_per_order
    return [o for o in posted | set(ships) if ships.get(o) != 1 or o not in posted]


def no_invoice_twice(seen: Evidence) -> list[Any]:
    invoices_per_order = Counter(i["ord_num"] for i in seen.invoices)
    return [o for o, n in invoices_per_order.items() if n > 1 or o not in seen.shipments_per_order]


def every_seko_dispatch_taken(seen: Evidence) -> list[Any]:
    ours = dict(Dispatch.objects.values_list("ord_num", "status"))
    return [o for o in seen.dispatched_at_seko
            if ours.get(o) not in (Dispatch.Status.POSTED, Dispatch.Status.QUARANTINED)]


def incomplete_dispatches_in_exception_queue(seen: Evidence) -> list[Any]:
    quarantined = Dispatch.objects.filter(status=Dispatch.Status.QUARANTINED).values_list("ord_num", flat=True)
    incomplete_posted = [d.ord_num for d in Dispatch.objects.filter(status=Dispatch.Status.POSTED)
                         if not _complete(d)]
    return [*[o for o in quarantined if o not in seen.orders_with_open_exception],
            *[f"posted-incomplete:{o}" for o in incomplete_posted]]


def every_delivered_push_stored(seen: Evidence) -> list[Any]:
    delivered_ids = {str(p["record"].get("InterfaceRecordId")) for p in seen.pushes if p["status"] == "delivered"}
    stored_ids = set(PushPart.objects.values_list("interface_record_id", flat=True))
    return sorted(delivered_ids - stored_ids)


def nothing_stuck(seen: Evidence) -> list[Any]:
    return [f"{k}={v}" for k, v in seen.stuck.items() if v]


INVARIANTS: tuple[Callable[[Evidence], list[Any]], ...] = (
    valid_orders_at_seko_exactly_once, nothing_at_seko_not_released, invalid_orders_in_exception_queue,
    dispatches_posted_exactly_once, no_invoice_twice, every_seko_dispatch_taken,
    incomplete_dispatches_in_exception_queue, every_delivered_push_stored, nothing_stuck,
)


def stuck_work() -> dict[str, int]:
    """Work still waiting anywhere once everything should have settled (each should be 0)."""
    return {
        "orders_unsettled": Order.objects.filter(status__in=[Status.RECEIVED, Status.SENDING]).count(),
        "pick_tickets_owed": Order.objects.filter(status=Status.SENT, pick_ticket_at__isnull=True).count(),
        "items_in_flight": Item.objects.filter(sync_status__in=[Item.SyncStatus.PENDING, Item.SyncStatus.SENDING,
                                                                Item.SyncStatus.SENT]).count(),
        "pushes_untaken": InboundPush.objects.exclude(status=InboundPush.Status.PROCESSED).count(),
        "dispatches_unsettled": Dispatch.objects.filter(status__in=[Dispatch.Status.RECEIVED,
                                                                    Dispatch.Status.POSTING]).count(),
        "orders_awaiting_dispatch": Order.objects.filter(status__in=[Status.SENT, Status.CANCEL_REFUSED],
                                                         dispatches__isnull=True).count(),
        **{f"broker_{k}": v for k, v in broker_backlog().items()},
    }


def judge(seen: Evidence) -> tuple[dict[str, bool], dict[str, list[str]]]:
    """Every invariant's verdict by name, and for each broken one (up to 20 of) what breaks it."""
    invariants: dict[str, bool] = {}
    failures: dict[str, list[str]] = {}
    for invariant in INVARIANTS:
        bad = invariant(seen)
        invariants[invariant.__name__] = not bad
        if bad:
            failures[invariant.__name__] = sorted(str(b) for b in bad)[:20]
    return invariants, failures


def check(bluecherry: RunningSimulator, seko: RunningSimulator, generated: dict[str, Any]) -> dict[str, Any]:
    seen = gather_evidence(bluecherry, seko, generated)
    invariants, failures = judge(seen)
    counts = scenario.order_counts()
    return {
        "invariants": invariants,
        "all_held": all(invariants.values()),
        "failures": failures,
        "orders": {"released": len(seen.released), "valid": len(seen.valid), "invalid": len(seen.invalid),
                   "at_seko": len(seen.at_seko), "by_status": dict(sorted(counts.items())),
                   "seko_submit_attempts": sum(o.get("attempts", 0) for o in seen.seko_orders)},
        "dispatches": {**dispatch_demo.dispatch_report(), "dispatched_at_seko": len(seen.dispatched_at_seko)},
        "bluecherry": {"shipments": len(seen.shipments), "invoices": len(seen.invoices)},
        "seko_pushes": dispatch_demo.seko_push_report(seko),
        "exceptions_open_by_kind": dict(sorted(open_exceptions().values_list("kind").annotate(n=Count("id"))
                                               .order_by())),
        "stuck": seen.stuck,
    }


def _complete(dispatch: Dispatch) -> bool:
    """A posted dispatch carried a tracking number and a carrier (or ops filled them in)."""
    shipment = dispatch.shipment or {}
    return bool(shipment.get("tracking_numbers")) and bool(shipment.get("carrier") or shipment.get("ship_via"))
