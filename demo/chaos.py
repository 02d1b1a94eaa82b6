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
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django_q.tasks import async_task

from demo import dispatch as dispatch_demo
from demo import items as items_demo
from demo import scenario, seed
from demo.chaos_invariants import check
from demo.launcher import RunningSimulator
from demo.processes import Supervisor
from demo.reporting import speaker
from demo.waiting import throttled, wait_for_broker
from integration.models import Dispatch, Order
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
        report = check(bluecherry, seko, generated, broker_wait_s=float(CHAOS_ENV["Q_RETRY"]) + 30)
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
