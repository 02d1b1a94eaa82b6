"""The chaos run: the headless demo's whole system over real HTTP, broken on purpose, then
checked against the simulators themselves.

Phases:
1. Seko's outage (``--outage-seconds``): every call answered 503, then no process at all
   (connection refused), then a proxy's HTML pages in front of it, while the released orders
   want to go; then it answers again and the run measures how long the waiting work takes to go.
2. Orders under faults: both simulators answer 20% of API calls with an error or a timeout
   (Seko also times out *after* committing, and shapes its replies with its quirks) while, at
   random moments, one target is killed: the django-q2 cluster (SIGKILLed with its workers and
   started again), the web server (gunicorn and its workers, started again on the same port),
   either simulator (started again on its port with its database file), and on PostgreSQL +
   Redis the broker's queue (lost, as if Redis restarted empty) or our database connections
   (terminated by the server mid-transaction). With ``--nodes N`` there are N worker clusters
   and N web servers (as on N machines), Seko's pushes spread over the web servers.
3. Plants: cancels in Blue Cherry after release (some after Seko finished picking) and stock
   adjustments at Seko's warehouse.
4. Dispatches under faults: the warehouse dispatches in rounds with short shipments and missing
   tracking numbers; Seko drops 10% and doubles 10% of its push records; Blue Cherry's outage
   while the dispatches want to be posted; the kills go on, the web server's while Seko pushes,
   and by the phase's end every target was hit at least once.
5. Faults cleared: everything is driven to quiescence (the demo's own loops); reconciliation
   differences planted in Blue Cherry.
6. Invariants, read from the simulators' control APIs and compared with our database
   (demo/chaos_invariants.py), and each outage's recovery against one heartbeat.

Every random choice (kill moments and targets, faults, warehouse, plants) comes from the seed, so
a seed tells one story (the timing of a kill against the work in flight still varies from run to
run).
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from django.conf import settings
from django.db import connection
from django_q.tasks import async_task

from demo import dispatch as dispatch_demo
from demo import items as items_demo
from demo import scenario, seed
from demo.chaos_invariants import check
from demo.chaos_outages import (
    REFUSED,
    Outage,
    OutageResult,
    bluecherry_backlog,
    bluecherry_progress,
    late_recoveries,
    seko_backlog,
    seko_progress,
)
from demo.chaos_plants import (
    Planted,
    cancels_settled,
    plant_cancels,
    plant_reconciliation_differences,
    plant_stock_adjustments,
)
from demo.launcher import RunningSimulator
from demo.processes import Supervisor
from demo.reporting import speaker
from demo.waiting import KICK_EVERY_SECONDS, throttled, wait_for_broker
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
    # Long enough that a backlog left to its own backoffs after an outage would take many
    # heartbeats to go: the outages show the release on the system's answer, not short waits.
    "RETRY_MAX_SECONDS": "30",
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


# What a kill can hit. Every profile has the workers, the web server and both simulators; the
# broker and the database only when they are servers of their own (Redis, PostgreSQL): SQLite
# and the ORM broker live in our processes' files and die with them.
WORKERS, WEB, SEKO, BLUECHERRY, REDIS, POSTGRES = "workers", "web", "seko", "bluecherry", "redis", "postgres"
EVERY_PROFILE_TARGETS = (WORKERS, WEB, SEKO, BLUECHERRY)
# A kill the deadline forces waits this long after the one before, so the system is hit while
# it is busy recovering, not twice within the same instant.
FORCED_KILL_GAP_SECONDS = 1.0


def available_targets(*, redis_broker: bool, postgres_database: bool) -> tuple[str, ...]:
    return (*EVERY_PROFILE_TARGETS, *((REDIS,) if redis_broker else ()), *((POSTGRES,) if postgres_database else ()))


def targets_of_this_profile() -> tuple[str, ...]:
    return available_targets(redis_broker=settings.Q_BROKER_URL.startswith("redis://"),
                             postgres_database=connection.vendor == "postgresql")


class Killer:
    """Kills one target at random moments drawn from the seed; which target is drawn from the seed
    too, first among those not hit yet, so every target is hit early."""

    def __init__(self, actions: dict[str, Callable[[], None]], rng: random.Random, *, low: float = 4.0,
                 high: float = 15.0):
        self.actions = actions
        self.rng = rng
        self.low, self.high = low, high
        self.kills_by_target = dict.fromkeys(actions, 0)
        self.last_kill_at = 0.0
        self.next_at = time.monotonic() + rng.uniform(low, high)

    @property
    def kills(self) -> int:
        return sum(self.kills_by_target.values())

    def never_hit(self) -> list[str]:
        return [t for t in self.actions if not self.kills_by_target[t]]

    def choose_target(self) -> str:
        return self.rng.choice(self.never_hit() or list(self.actions))

    def owes(self, min_kills: int, *, every_target: bool) -> bool:
        """Kills still owed: fewer than ``min_kills``, or (when ``every_target``) a target never hit."""
        return self.kills < min_kills or (every_target and bool(self.never_hit()))

    def spread_over(self, seconds: float, *, every_target: bool) -> None:
        """Draw the coming moments so the targets never hit fit in the next ``seconds`` (rather
        than all being forced in a row once the phase's time is up)."""
        owed = len(self.never_hit()) if every_target else 0
        if owed:
            self.high = max(self.low, min(self.high, seconds / (owed + 1)))
            self.next_at = min(self.next_at, time.monotonic() + self.rng.uniform(self.low, self.high))

    def tick(self) -> None:
        if time.monotonic() >= self.next_at:
            self.kill()

    def force(self, min_kills: int, *, every_target: bool) -> None:
        """The phase's time is up: do a kill still owed (one at a time, a moment apart)."""
        if self.owes(min_kills, every_target=every_target) and \
                time.monotonic() - self.last_kill_at >= FORCED_KILL_GAP_SECONDS:
            self.kill()

    def kill(self, target: str | None = None) -> None:
        """Kill ``target``, or one chosen by ``choose_target``."""
        target = target or self.choose_target()
        self.actions[target]()
        self.kills_by_target[target] += 1
        self.last_kill_at = time.monotonic()
        say(f"killed {target} (kill {self.kills})")
        self.next_at = time.monotonic() + self.rng.uniform(self.low, self.high)


@dataclass(frozen=True)
class Node:
    """One machine's share of the integration: a worker cluster and a web server."""

    cluster: str  # the Supervisor's name of its qcluster process
    web: str  # the Supervisor's name of its web server
    web_port: int


def start_nodes(supervisor: Supervisor, count: int) -> list[Node]:
    """The first node's cluster is started with the system; each further node gets its own
    (the same broker and database, as on another machine) and every node a web server."""
    nodes = []
    for number in range(1, count + 1):
        suffix = "" if number == 1 else f"-{number}"
        if number > 1:
            supervisor.process(f"qcluster{suffix}", ["manage.py", "qcluster"])
        port = dispatch_demo.start_web(supervisor, name=f"web{suffix}")
        nodes.append(Node(f"qcluster{suffix}", f"web{suffix}", port))
    return nodes


def kill_actions(supervisor: Supervisor, bluecherry: RunningSimulator, seko: RunningSimulator, nodes: list[Node],
                 faults: FaultsInForce, rng: random.Random) -> dict[str, Callable[[], None]]:
    """How each target of this profile is killed and, where it is a process, started again (with
    several nodes, one node's cluster or web server, drawn from the seed)."""

    def workers() -> None:
        supervisor.restart(rng.choice(nodes).cluster)

    def web() -> None:
        node = rng.choice(nodes)
        supervisor.kill(node.web)
        dispatch_demo.start_web(supervisor, node.web_port, name=node.web)  # the same port: Seko keeps pushing there

    def seko_restart() -> None:
        supervisor.restart_simulator(seko)  # its faults are rows in its database: they survive

    def bluecherry_restart() -> None:
        supervisor.restart_simulator(bluecherry)
        faults.apply_to_bluecherry(bluecherry)  # kept in its memory: lost with the process

    everywhere = {WORKERS: workers, WEB: web, SEKO: seko_restart, BLUECHERRY: bluecherry_restart}
    servers = {REDIS: lose_broker_queue, POSTGRES: terminate_database_connections}
    return {target: everywhere.get(target) or servers[target] for target in targets_of_this_profile()}


def lose_broker_queue() -> None:
    """As if Redis restarted empty: this run's queued tasks and cluster statistics gone, every
    connection to the broker's database dropped. Only this run's keys (its own cluster name) and
    that database's connections: the redis-server daemon is shared and keeps running."""
    client = redis.Redis.from_url(settings.Q_BROKER_URL)
    try:
        keys = list(client.scan_iter(match=f"django_q:{settings.Q_CLUSTER['name']}:*"))
        if keys:
            client.delete(*keys)
        database = client.connection_pool.connection_kwargs.get("db", 0)
        me = client.client_id()
        for other in client.client_list(_type="normal"):
            if int(other["db"]) == database and int(other["id"]) != me:
                with contextlib.suppress(redis.ResponseError):  # it went meanwhile
                    client.client_kill_filter(_id=other["id"])
    finally:
        client.close()


def terminate_database_connections() -> None:
    """Every other connection to our database ended by the server, in whatever transaction it is
    in (what a PostgreSQL restart or failover does to the web server and the workers)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                       " WHERE datname = current_database() AND pid <> pg_backend_pid()")


class FaultsInForce:
    """The simulators' faults now, so a restarted Blue Cherry (which keeps them in memory) gets
    them back."""

    def __init__(self, seed_value: int):
        self.seed_value = seed_value
        self.on = False

    def apply(self, bluecherry: RunningSimulator, seko: RunningSimulator) -> None:
        self.on = True
        seko.control("POST", "_sim/faults", {**SEKO_FAULTS, "seed": self.seed_value})
        self.apply_to_bluecherry(bluecherry)

    def clear(self, bluecherry: RunningSimulator, seko: RunningSimulator) -> None:
        self.on = False
        seko.control("POST", "_sim/faults", {})
        bluecherry.control("POST", "_sim/faults", {})

    def apply_to_bluecherry(self, bluecherry: RunningSimulator) -> None:
        if self.on:
            bluecherry.control("POST", "_sim/faults", {**BLUECHERRY_FAULTS, "seed": self.seed_value})


def run(data_dir: Path, env: dict[str, str], *, orders: int, seed_value: int, timeout_s: float,
        nodes: int = 1, outage_s: float = 0.0) -> dict[str, Any]:
    started = time.monotonic()
    rng = random.Random(seed_value)
    with Supervisor(data_dir, env, say) as supervisor:
        bluecherry, seko = scenario.start_system(supervisor)
        running = start_nodes(supervisor, nodes)  # the webhooks are up from the start
        dispatch_demo.point_pushes_at(seko, *(node.web_port for node in running))
        generated = seed.generate_bluecherry(bluecherry, orders=orders, items=max(40, orders // 2), seed=seed_value)
        seed.seed_seko_stock(seko, bluecherry)
        say(f"Blue Cherry generated {generated['orders']} released orders and {generated['items']} items"
            + (f"; {nodes} nodes" if nodes > 1 else ""))
        faults = FaultsInForce(seed_value)
        faults.apply(bluecherry, seko)
        killer = Killer(kill_actions(supervisor, bluecherry, seko, running, faults, rng), rng)
        say(f"kill targets: {', '.join(killer.actions)}")
        outages: list[OutageResult] = []
        if outage_s:  # Seko down while the released orders want to go
            seko_down = outage_of(seko, supervisor, outage_s, seko_backlog, seko_progress, faults, bluecherry, seko)
            outages.append(outage_said(seko_down.run(throttled(kick_sync_orders), timeout_s=RECOVERY_TIMEOUT_S)))
        # Phase 1: orders under faults and kills, until they settle (or a cap) with two kills done.
        cap = max(30.0, orders * 0.15)
        chaos_loop(killer, lambda: orders_settled(orders), min_kills=2, cap_s=cap, kick=kick_sync_orders,
                   label="orders")
        # Plants, with faults and kills still on: cancels (some after Seko finished picking) and
        # stock adjustments that Seko's push cycle delivers (dropped and doubled like any push).
        planted = Planted(cancels=plant_cancels(bluecherry, seko, seed_value),
                          adjustments=plant_stock_adjustments(seko, seed_value))
        say(f"planted {len(planted.cancels)} cancels, {len(planted.adjustments)} stock adjustments")
        # Before the warehouse dispatches: an order still To Be Picked must not ship before its cancel.
        chaos_loop(killer, lambda: cancels_settled(planted.cancels), min_kills=2, cap_s=cap,
                   kick=kick_sync_orders, label="cancels")
        # Phase 2: the warehouse dispatches what Seko holds, the web server killed while Seko
        # pushes; pushes dropped and doubled; kills go on and every target is hit by its end.
        dispatched = dispatch_killing_web_mid_push(seko, killer, seed_value)
        say(f"Seko dispatched {dispatched} orders")

        def kick_dispatches() -> None:
            kick_sync_orders()
            async_task("integration.tasks.sync_dispatches", task_name="sync_dispatches")
            async_task("integration.tasks.poll_dispatches", task_name="poll_dispatches")

        if outage_s:  # Blue Cherry down while the dispatches want to be posted
            bluecherry_down = outage_of(bluecherry, supervisor, outage_s, bluecherry_backlog, bluecherry_progress,
                                        faults, bluecherry, seko)
            outages.append(outage_said(bluecherry_down.run(throttled(kick_dispatches), timeout_s=RECOVERY_TIMEOUT_S)))

        chaos_loop(killer, lambda: dispatches_settled(seko), min_kills=MIN_KILLS, cap_s=cap,
                   kick=kick_dispatches, label="dispatches", every_target=True)
        # Phase 3: faults cleared; run to quiescence with the demo's loops.
        faults.clear(bluecherry, seko)
        say(f"faults cleared after {killer.kills} kills ({killer.kills_by_target}); running to quiescence")
        remaining = timeout_s - (time.monotonic() - started)
        scenario.drive_to_quiescence(supervisor, expected=orders, timeout_s=remaining)
        late = dispatch_demo.dispatch_everything(seko, WAREHOUSE_FAULTS, seed_value + 1, rounds=1)
        say(f"Seko dispatched {late} more orders (sent after the chaos)")
        settle_dispatches_with_late_tasks(supervisor, seko, deadline=started + timeout_s)
        planted.differences = plant_reconciliation_differences(bluecherry, seed_value,
                                                               avoid={c.ord_num for c in planted.cancels})
        say(f"planted {len(planted.differences)} reconciliation differences")
        report = check(bluecherry, seko, generated, broker_wait_s=float(CHAOS_ENV["Q_RETRY"]) + 30, planted=planted)
        report["kills"] = killer.kills
        report["kills_by_target"] = killer.kills_by_target
        report["nodes"] = nodes
        judge_outages(report, outages)
        report["elapsed_s"] = round(time.monotonic() - started, 1)
    return report


# An outage's recovery is measured against the run's heartbeat: the work is kicked every
# KICK_EVERY_SECONDS, and the first waiting piece must go within one of them (plus the time for
# the task to start and the probe and the first call to return).
RECOVERY_SLACK_S = 3.0
RECOVERY_TIMEOUT_S = 180.0
OUTAGE_HOWS = ("503", REFUSED, "proxy_page")


def outage_of(sim: RunningSimulator, supervisor: Supervisor, seconds: float, backlog: Callable[[], int],
              progress: Callable[[], int], faults: FaultsInForce, bluecherry: RunningSimulator,
              seko: RunningSimulator) -> Outage:
    """``sim`` down for ``seconds``: every call answered 503, then no process at all, then a
    proxy's HTML pages in front of it; the run's faults come back once its recovery is measured."""
    return Outage(sim, sim.name, OUTAGE_HOWS, seconds, backlog, progress, stop=sim.kill,
                  start=lambda: supervisor.restart_simulator(sim),
                  restore_faults=lambda: faults.apply(bluecherry, seko))


def outage_said(result: OutageResult) -> OutageResult:
    say(f"{result.system} was down {result.down_s} s ({result.how}); answered again with {result.backlog_when_back} "
        f"waiting: the first went after {result.first_release_s} s, all after {result.recovery_s} s")
    return result


def judge_outages(report: dict[str, Any], outages: list[OutageResult]) -> None:
    """Each outage in the report, with its own invariant: the backlog started to go within one
    heartbeat of the system answering again, and went."""
    if not outages:
        return
    report["outages"] = [{**outage.as_dict(), "heartbeat_s": KICK_EVERY_SECONDS} for outage in outages]
    late = late_recoveries(outages, KICK_EVERY_SECONDS, RECOVERY_SLACK_S)
    report["invariants"]["outages_recovered_within_a_heartbeat"] = not late
    if late:
        report["failures"]["outages_recovered_within_a_heartbeat"] = late
    report["all_held"] = all(report["invariants"].values())


def settle_dispatches_with_late_tasks(supervisor: Supervisor, seko: RunningSimulator, *, deadline: float,
                                     rounds: int = 3) -> None:
    """Drive the dispatches to quiescence, then let the broker drain: a task leased by a killed
    cluster is handed out again only Q_RETRY later and may wake work once everything was quiet
    (a late poll sends a held dispatch back to be checked). Then drive again, as the schedule
    would, until the broker drains with nothing woken (a few rounds at most)."""
    for _ in range(rounds):
        dispatch_demo.drive_dispatches_to_quiescence(supervisor, seko, say, timeout_s=deadline - time.monotonic())
        wait_for_broker(timeout_s=float(CHAOS_ENV["Q_RETRY"]) + 30)
        if dispatches_settled(seko):
            return
        say("a task handed out late woke dispatch work: driving the dispatches again")


def dispatch_killing_web_mid_push(seko: RunningSimulator, killer: Killer, seed_value: int) -> int:
    """The warehouse's rounds (in a thread: they only talk to Seko's control API) with the web
    server SIGKILLed at a moment drawn from the seed while Seko pushes their dispatches (every
    push interval, right after each round), and started again on its port. Returns how many
    orders were dispatched."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="warehouse") as warehouse:
        rounds = warehouse.submit(dispatch_demo.dispatch_everything, seko, WAREHOUSE_FAULTS, seed_value)
        time.sleep(killer.rng.uniform(0.5, 2.5) * dispatch_demo.PUSH_INTERVAL_SECONDS)
        killer.kill(WEB)
        return rounds.result()


def chaos_loop(killer: Killer, settled: Callable[[], bool], *, min_kills: int, cap_s: float,
               kick: Callable[[], None], label: str, every_target: bool = False) -> None:
    """Kick the work every 2 s and kill at random moments until the work settles and no kill is
    owed (see ``Killer.owes``), or the cap is reached (the kills still owed are done then; the
    rest settles later)."""
    deadline = time.monotonic() + cap_s
    killer.spread_over(cap_s, every_target=every_target)
    kick_when_due = throttled(kick)
    while True:
        killer.tick()
        kick_when_due()
        time.sleep(0.5)
        killing_done = not killer.owes(min_kills, every_target=every_target)
        if killing_done and (settled() or time.monotonic() > deadline):
            break
        if time.monotonic() > deadline:
            killer.force(min_kills, every_target=every_target)
    say(f"{label} phase over: {scenario.order_counts()}; dispatches {dispatch_demo.dispatch_counts()}")


def orders_settled(expected: int) -> bool:
    counts = scenario.order_counts()
    unsettled = counts.get(Status.RECEIVED, 0) + counts.get(Status.SENDING, 0)
    return sum(counts.values()) >= expected and not unsettled and items_demo.settled()


def dispatches_settled(seko: RunningSimulator) -> bool:
    state = seko.control("GET", "_sim/state")
    return not (state["pending_pushes"] or dispatch_demo.pushes_waiting()
                or Dispatch.objects.filter(status__in=[Dispatch.Status.RECEIVED, Dispatch.Status.POSTING]).exists())
