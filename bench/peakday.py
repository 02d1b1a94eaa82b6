"""The peak day (``manage.py bench --only peakday``): every flow at once through a flash sale,
as in production, both simulators answering every API call after ``latency_ms``.

- Blue Cherry releases ``orders`` over ``minutes``, ``burst_share`` of them (half by default)
  within the first fifth of the run, in releases 5 s apart (bench/peakday_figures.release_plan).
- The integration runs as in production: the django-q2 cluster with its schedules (registered by
  its post_spawn hook; "sync orders" every SYNC_INTERVAL_MINUTES is the heartbeat, never kicked
  from here once the run starts) and the web server (demo.dispatch.start_web) taking Seko's pushes
  (the webhook enqueues the dispatch work itself) and the dashboard.
- The warehouse (Seko's simulator) dispatches what it holds at a steady capacity (all of it by
  about 90% of the run), adjusts stock and moves stock between location types throughout, and
  pushes on Seko's cadence: a push cycle every ``push_interval_s`` (Seko's 15 minutes compressed
  to the heartbeat's minute by default), up to 500 records a POST.
- ``users`` signed-in dashboard users (ops, a few cx and finance, made through the roles' groups,
  never superusers) click through their pages with a random think time, from a process of their
  own (bench/peakday_users.py).

After the run, the warehouse dispatches whatever is left and the run waits (``drain``) until Seko
holds every order dispatched and Blue Cherry holds their shipments. Every timestamp comes from the
simulators' own records (Blue Cherry's release and shipment times, Seko's accepted and dispatch
times: their ``_sim/order-times``); the dashboard's from the users' process. The items are made and
settled first, not timed (as bench/orders.py does). Resident memory of every process group is
sampled every two seconds throughout.

The shape is read from the environment, the scale giving the defaults: PEAKDAY_ORDERS,
PEAKDAY_MINUTES, PEAKDAY_BURST_SHARE, PEAKDAY_BURST_FRACTION, PEAKDAY_USERS, PEAKDAY_LATENCY_MS,
PEAKDAY_PUSH_INTERVAL_S, PEAKDAY_THINK_S ("2-5"), PEAKDAY_ITEMS, PEAKDAY_DRAIN_S, PEAKDAY_SEED.
"""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import requests
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from django.db.models import Max
from django.test import Client

from bench import orders as orders_bench
from bench.peakday_figures import (
    Shape,
    cpu_figures,
    dashboard_figures,
    exactly_once_figures,
    latencies,
    parse_time,
    percentile_or_none,
    release_plan,
    timeline,
)
from bench.peakday_users import PATHS, ROUTES
from bench.perf_common import figure, group_cpu_seconds, group_pids, say, self_peak_rss_mb, servers_cpu_seconds
from demo import dispatch as dispatch_demo
from demo import scenario, seed
from demo.launcher import ROOT, RunningSimulator
from demo.processes import Supervisor, web_server_shape
from integration.models import InboundPush

# Full: 20,000 orders over 15 minutes, 10,000 of them in the first 3 (55 a second, about what
# bench/orders.py measured the sends to take at 150 ms a call, so the flash sale is a real
# peak), the rest at 14 a second; long enough for a dozen heartbeats and push cycles after the
# burst, short enough to run before a report. Small: the same shape in a few minutes (CI).
SCALES: dict[str, dict[str, Any]] = {
    "full": {"orders": 20_000, "minutes": 15.0, "items": 300, "drain_s": 900},
    "small": {"orders": 400, "minutes": 2.5, "items": 60, "drain_s": 420},
}
DEFAULTS: dict[str, Any] = {"burst_share": 0.5, "burst_fraction": 0.2, "users": 20, "latency_ms": 150,
                            "push_interval_s": 60.0, "think_s": "2-5", "seed": 11}
RELEASE_TICK_S = 5.0
WAREHOUSE_TICK_S = 5.0
WAREHOUSE_DONE_BY = 0.9  # the warehouse's capacity dispatches every order by this share of the run
ADJUST_EVERY_S = 20.0
MOVE_EVERY_S = 30.0
SAMPLE_EVERY_S = 2.0
WARM_ROUNDS = 12  # requests per page before the day, spread by gunicorn over its processes and threads
UNITS_PER_ORDER = 5  # 1-4 lines of 1-3 units (Blue Cherry's generator): about 5 on average


@dataclass(frozen=True)
class Params:
    orders: int
    minutes: float
    burst_share: float
    burst_fraction: float
    users: int
    latency_ms: int
    push_interval_s: float
    think_s: tuple[float, float]
    items: int
    drain_s: float
    seed: int

    @property
    def shape(self) -> Shape:
        return Shape(self.orders, self.minutes, self.burst_share, self.burst_fraction, RELEASE_TICK_S)


def params(scale: str, env: dict[str, str] | None = None) -> Params:
    """The scale's defaults, each overridable by its PEAKDAY_* variable."""
    env = os.environ if env is None else env
    base = {**DEFAULTS, **SCALES[scale]}

    def get(name: str, cast: Any) -> Any:
        return cast(env.get(f"PEAKDAY_{name.upper()}", base[name]))

    low, _, high = str(get("think_s", str)).partition("-")
    return Params(orders=get("orders", int), minutes=get("minutes", float), burst_share=get("burst_share", float),
                  burst_fraction=get("burst_fraction", float), users=get("users", int),
                  latency_ms=get("latency_ms", int), push_interval_s=get("push_interval_s", float),
                  think_s=(float(low), float(high or low)), items=get("items", int), drain_s=get("drain_s", float),
                  seed=get("seed", int))


def user_roles(count: int) -> dict[str, int]:
    """Mostly ops, one in ten cx and one in ten finance (from ten users on)."""
    others = count // 10
    return {"ops": count - 2 * others, "cx": others, "finance": others}


# --- memory ----------------------------------------------------------------------------------


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


class MemorySampler:
    """Peak resident memory per process group (each process we start has its own session): every
    process's own peak (the group's leader, e.g. the cluster's sentinel or gunicorn's master,
    apart; a worker recycled mid-run is a process of its own), the largest and the group's total."""

    def __init__(self) -> None:
        self.groups: dict[str, int] = {}
        self.by_pid: dict[str, dict[int, int]] = {}
        self.totals: dict[str, int] = {}

    def watch(self, name: str, pgid: int) -> None:
        self.groups[name] = pgid

    def sample(self) -> None:
        for name, pgid in self.groups.items():
            sizes = {pid: rss_kb(pid) for pid in group_pids(pgid)}
            seen = self.by_pid.setdefault(name, {})
            for pid, size in sizes.items():
                seen[pid] = max(seen.get(pid, 0), size)
            self.totals[name] = max(self.totals.get(name, 0), sum(sizes.values()))

    @property
    def peaks(self) -> dict[str, dict[str, Any]]:
        report = {}
        for name, seen in self.by_pid.items():
            leader = self.groups[name]
            others = sorted((round(kb / 1024, 1) for pid, kb in seen.items() if pid != leader), reverse=True)
            report[name] = {"peak_process_mb": round(max(seen.values(), default=0) / 1024, 1),
                            "peak_total_mb": round(self.totals.get(name, 0) / 1024, 1),
                            "leader_mb": round(seen.get(leader, 0) / 1024, 1), "others_mb": others}
        return report


class CpuMeter:
    """CPU used from now on by each watched process group (its live processes and what they
    reaped) and by the database and broker servers on this machine."""

    def __init__(self, groups: dict[str, int], servers: set[str]) -> None:
        self.groups, self.servers = dict(groups), servers
        self.start = self.read()

    def read(self) -> dict[str, float]:
        servers = {role: seconds for role, seconds in servers_cpu_seconds().items() if role in self.servers}
        return {**{name: group_cpu_seconds(pgid) for name, pgid in self.groups.items()}, **servers}

    def used(self) -> dict[str, float]:
        now = self.read()
        return {name: now[name] - self.start[name] for name in now}


def servers_in_use() -> set[str]:
    """The servers this run's integration works: PostgreSQL and Redis when it uses them (an idle
    Redis beside a SQLite run is not the run's cost)."""
    used = {"database"} if connection.vendor == "postgresql" else set()
    return used | ({"broker"} if "redis" in settings.Q_CLUSTER else set())


# --- the warehouse and Blue Cherry's releases ------------------------------------------------


def seed_stock(seko: RunningSimulator, skus: list[str], orders: int) -> None:
    """Enough Available Stock that no order of the day is refused for stock (three times the
    average need per SKU)."""
    per_sku = max(500, math.ceil(orders * UNITS_PER_ORDER * 3 / max(1, len(skus))))
    seko.control("POST", "_sim/stock", [{"ProductCode": sku, "DCCode": seed.WAREHOUSES[0][1], "Quantity": per_sku}
                                        for sku in skus], timeout=120)


def release(bluecherry: RunningSimulator, count: int, seed_value: int) -> tuple[list[str], float]:
    """Blue Cherry releases ``count`` clean orders in one go; returns them and the release time on
    Blue Cherry's clock (one transaction: every order of it carries the same ``updated_at``)."""
    made = seed.generate_bluecherry(bluecherry, orders=count, items=0, seed=seed_value, mix={})
    numbers = made["ord_nums"]
    [row] = bluecherry.control("GET", f"_sim/order-times?from={numbers[0]}&to={numbers[0]}")["orders"]
    return numbers, parse_time(row[2]) or time.time()


def adjust_stock(seko: RunningSimulator, skus: list[str], rng: random.Random) -> int:
    """Small counts found and damaged on Available Stock, and some put into Quarantine."""
    dc = seed.WAREHOUSES[0][1]
    items = [{"ProductCode": sku, "DCCode": dc, "LocationType": "Available Stock",
              "Quantity": rng.choice([-2, -1, 1, 2, 3])} for sku in rng.sample(skus, min(2, len(skus)))]
    items.append({"ProductCode": rng.choice(skus), "DCCode": dc, "LocationType": "Quarantine",
                  "Quantity": rng.randint(1, 3)})
    return len(seko.control("POST", "_sim/warehouse/adjust", items)["adjustments"])


def move_stock(seko: RunningSimulator, skus: list[str], rng: random.Random) -> int:
    """A unit or two of a SKU moved from Available Stock to Quarantine (a status movement)."""
    moves = [{"ProductCode": rng.choice(skus), "DCCode": seed.WAREHOUSES[0][1], "FromLocationType": "Available Stock",
              "ToLocationType": "Quarantine", "Quantity": rng.randint(1, 2)}]
    return len(seko.control("POST", "_sim/warehouse/move", moves)["movements"])


def warehouse_capacity(p: Params) -> int:
    """Orders dispatched per warehouse tick: every order by WAREHOUSE_DONE_BY of the run."""
    ticks = max(1.0, p.minutes * 60 * WAREHOUSE_DONE_BY / WAREHOUSE_TICK_S)
    return max(1, math.ceil(p.orders / ticks))


# --- the users --------------------------------------------------------------------------------


def start_users(data_dir: Path, base: str, p: Params) -> tuple[subprocess.Popen[bytes], Path]:
    """Sign the users in (sessions, as the login page would make) and start their process."""
    client = Client()
    users = []
    for username, role in seed.seed_role_users(user_roles(p.users), prefix="peakday"):
        client.force_login(User.objects.get(username=username))
        users.append({"name": username, "role": role, "cookie": client.cookies["sessionid"].value})
        client.cookies.clear()
    # Each role's pages by one of its users (another role's page would answer 403).
    for role, cookie in {u["role"]: u["cookie"] for u in users}.items():
        warm_pages(base, cookie, role)
    spec = {"base": base, "users": users, "seconds": p.minutes * 60, "think_s": list(p.think_s), "seed": p.seed}
    spec_path, out_path = data_dir / "peakday-users.json", data_dir / "peakday-users.out"
    spec_path.write_text(json.dumps(spec))
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    with open(out_path, "wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "bench.peakday_users", str(spec_path)], cwd=ROOT, env=env,
                                   stdout=out, stderr=subprocess.DEVNULL, start_new_session=True)
    return process, out_path


def warm_pages(base: str, cookie: str, role: str) -> None:
    """Every page a few times before the day starts (not timed): each web process has compiled its
    templates and opened its database connection, as a server that has been up since the morning
    has."""
    session = requests.Session()
    session.cookies.update({"sessionid": cookie})
    for _ in range(WARM_ROUNDS):
        for page in ROUTES[role]:
            if page in PATHS:  # "order" is one found on the list: warmed by the list's own
                session.get(base + PATHS[page], timeout=60).raise_for_status()
    session.close()


# --- the run ----------------------------------------------------------------------------------


@dataclass
class Gathered:
    start: float
    released_at: dict[str, float]
    adjustments: int = 0
    movements: int = 0
    drained: bool = False
    drain_s: float | None = None


def drained(bluecherry: RunningSimulator, seko: RunningSimulator, released: int) -> bool:
    """Seko holds every released order dispatched, has nothing left to push, and Blue Cherry
    holds a shipment for each."""
    state = seko.control("GET", "_sim/state")
    if state["orders"].get("Dispatched", 0) < released or state["pending_pushes"]:
        return False
    return bluecherry.control("GET", "_sim/state")["shipments"] >= released


def drive(supervisor: Supervisor, bluecherry: RunningSimulator, seko: RunningSimulator, p: Params,
          skus: list[str], memory: MemorySampler) -> Gathered:
    plan = release_plan(p.shape)
    rng = random.Random(p.seed)
    capacity = warehouse_capacity(p)
    gathered = Gathered(start=time.time(), released_at={})
    due = dict.fromkeys(("warehouse", "adjust", "move", "sample", "drained"), 0.0)
    next_release = 0
    end = p.minutes * 60
    while True:
        now = time.time() - gathered.start
        supervisor.check_alive()
        while next_release < len(plan) and plan[next_release][0] <= now:
            numbers, at = release(bluecherry, plan[next_release][1], p.seed * 1000 + next_release)
            gathered.released_at.update(dict.fromkeys(numbers, at))
            next_release += 1
        if now >= due["warehouse"]:
            advance = {"orders": capacity if now < end else "all", "seed": p.seed + int(now)}
            seko.control("POST", "_sim/warehouse/advance", advance, timeout=120)
            due["warehouse"] = now + WAREHOUSE_TICK_S
        if now < end and now >= due["adjust"]:
            gathered.adjustments += adjust_stock(seko, skus, rng)
            due["adjust"] = now + ADJUST_EVERY_S
        if now < end and now >= due["move"]:
            gathered.movements += move_stock(seko, skus, rng)
            due["move"] = now + MOVE_EVERY_S
        if now >= due["sample"]:
            memory.sample()
            due["sample"] = now + SAMPLE_EVERY_S
        if now >= end and next_release == len(plan) and now >= due["drained"]:
            due["drained"] = now + WAREHOUSE_TICK_S
            if drained(bluecherry, seko, len(gathered.released_at)):
                gathered.drained, gathered.drain_s = True, round(now - end, 1)
                break
            if now > end + p.drain_s:
                say(f"peakday: not drained {p.drain_s:.0f} s after the run; reporting what happened")
                break
        time.sleep(0.25)
    return gathered


def wait_for_heartbeat_schedule(timeout: float = 60) -> int:
    """The cluster's post_spawn hook registers the schedules: wait for "sync orders" and return its
    interval in seconds (what the targets are measured against)."""
    from django_q.models import Schedule

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = Schedule.objects.filter(name="sync orders").first()
        if row is not None:
            return int(row.minutes) * 60
        time.sleep(1)
    raise RuntimeError("the cluster registered no 'sync orders' schedule")


def run(data_dir: Path, *, scale: str) -> dict[str, Any]:
    p = params(scale)
    say(f"peakday: {p}")
    memory = MemorySampler()
    with Supervisor(data_dir, dict(os.environ), say) as supervisor:
        bluecherry, seko = scenario.start_system(supervisor)
        heartbeat_s = wait_for_heartbeat_schedule()
        port = dispatch_demo.start_web(supervisor)
        dispatch_demo.point_pushes_at(seko, port)
        seko.control("POST", "_sim/config", {"push_interval_seconds": p.push_interval_s})
        made = seed.generate_bluecherry(bluecherry, orders=0, items=p.items, seed=p.seed, mix={})
        seed_stock(seko, made["skus"], p.orders)
        orders_bench.settle_items(supervisor, p.items)  # kicks the heartbeat: set-up, not timed
        say(f"peakday: {p.items} items settled (not timed); heartbeat every {heartbeat_s} s by the schedule")
        for sim in (bluecherry, seko):
            sim.control("POST", "_sim/faults", {"latency_ms": p.latency_ms})
        for name, process in supervisor.processes:
            memory.watch(name, process.pid)
        for sim in (bluecherry, seko):
            memory.watch(f"{sim.name}_simulator", sim.process.pid)
        users, users_out = start_users(data_dir, f"http://127.0.0.1:{port}", p)
        memory.watch("users_loadgen", users.pid)
        # The users' generator ends with its minutes, before the drain: it is left out of the CPU.
        cpu = CpuMeter({name: pgid for name, pgid in memory.groups.items() if name != "users_loadgen"},
                       servers_in_use())
        load = [os.getloadavg()[0]]
        try:
            gathered = drive(supervisor, bluecherry, seko, p, made["skus"], memory)
        except BaseException:
            users.terminate()  # the run failed before the users' time was up
            raise
        cpu_used = cpu.used()  # the day and its drain; not the users' last minutes of clicking
        users.wait(timeout=120)
        load.append(os.getloadavg()[0])
        say(f"peakday: run over; drained {gathered.drained} after {gathered.drain_s} s")
        report = gather(bluecherry, seko, gathered, p, heartbeat_s=heartbeat_s,
                        requests=json.loads(users_out.read_text())["samples"], memory=memory)
        report["thinks_s"] = think_summary(json.loads(users_out.read_text())["thinks_s"])
        report.update(cpu_figures(cpu_used, len(gathered.released_at)))
    report.update({"load_average_1m": [round(v, 2) for v in load], "cpu_count": os.cpu_count(),
                   "web": web_server_shape(), "workers": settings.Q_CLUSTER["workers"]})
    return report


def think_summary(thinks: list[float]) -> dict[str, Any]:
    return {"low": min(thinks, default=None), "high": max(thinks, default=None),
            "mean": round(sum(thinks) / len(thinks), 2) if thinks else None, "count": len(thinks)}


def gather(bluecherry: RunningSimulator, seko: RunningSimulator, gathered: Gathered, p: Params, *,
           heartbeat_s: int, requests: list[list[Any]], memory: MemorySampler) -> dict[str, Any]:
    """Every figure, from the simulators' records read once now."""
    at_seko = {row[0]: row for row in seko.control("GET", "_sim/order-times", timeout=120)["orders"]}
    at_bc = {row[0]: row for row in bluecherry.control("GET", "_sim/order-times", timeout=120)["orders"]}
    accepted = {so: parse_time(row[2]) for so, row in at_seko.items()}
    dispatched = {so: parse_time(row[3]) for so, row in at_seko.items() if row[3]}
    posted = {so: parse_time(row[3]) for so, row in at_bc.items() if row[3]}
    to_accept = latencies(gathered.released_at, accepted)
    to_post = latencies(dispatched, posted)  # type: ignore[arg-type]
    attempts = scenario.submit_attempts(seko)
    dispatch_interval_s = p.push_interval_s
    report: dict[str, Any] = {
        "shape": {**asdict(p), "release_tick_s": RELEASE_TICK_S, "warehouse_tick_s": WAREHOUSE_TICK_S,
                  "warehouse_capacity_per_tick": warehouse_capacity(p)},
        "heartbeat_interval_s": heartbeat_s,
        "dispatch_interval_s": dispatch_interval_s,
        "dispatch_interval_governed_by": "seko_push_interval (the webhook enqueues the dispatch work on each push; "
                                         "the heartbeat's 'sync dispatches' is only the safety net)",
        "release_to_accepted_p50_s": figure(percentile_or_none(to_accept, 0.5), 2 * heartbeat_s),
        "release_to_accepted_p99_s": figure(percentile_or_none(to_accept, 0.99), 2 * heartbeat_s),
        "release_to_accepted_max_s": percentile_or_none(to_accept, 1.0),
        "dispatch_to_shipment_p50_s": percentile_or_none(to_post, 0.5),
        "dispatch_to_shipment_p99_s": figure(percentile_or_none(to_post, 0.99), 2 * dispatch_interval_s),
        "dispatch_to_shipment_max_s": percentile_or_none(to_post, 1.0),
        **dashboard_figures(requests, gathered.start, p.shape.burst_seconds),
        **exactly_once_figures(
            released=len(gathered.released_at),
            seko_accepted={so: attempts.get(so, {}).get("accepted", 0) for so in gathered.released_at},
            seko_dispatched=len(dispatched), shipments={so: at_bc.get(so, [0] * 5)[4] for so in dispatched},
            duplicate_posts_refused=scenario.duplicate_posts_refused(bluecherry),
            wrongly_rejected=len(scenario.wrongly_rejected(attempts, scenario.order_statuses())),
            max_submit_attempts=max((a["count"] for a in attempts.values()), default=0)),
        "released": len(gathered.released_at), "at_seko": len(accepted), "dispatched_at_seko": len(dispatched),
        "shipments_in_bluecherry": len(posted), "stock_adjustment_messages": gathered.adjustments,
        "stock_status_movements": gathered.movements, **push_counts(seko),
        "drained": gathered.drained, "drain_after_run_s": gathered.drain_s,
        "peak_rss_mb": {**memory.peaks, "bench": {"peak_process_mb": self_peak_rss_mb()}},
        "timeline": timeline(gathered.start, released=gathered.released_at.values(), accepted=accepted.values(),
                             dispatched=dispatched.values(), posted=posted.values(), requests=requests),
    }
    say("peakday: " + ", ".join(f"{k} {v['value']} (target {v['target']})" for k, v in report.items()
                                if isinstance(v, dict) and "met" in v))
    return report


def push_counts(seko: RunningSimulator) -> dict[str, int]:
    """Seko's push records delivered and dropped (Seko posts up to 500 a batch), and the POSTs our
    webhook stored."""
    state = seko.control("GET", "_sim/state")
    stored = InboundPush.objects.aggregate(most=Max("records"))
    return {"seko_push_records_delivered": state["delivered_pushes"],
            "seko_push_records_dropped": state["dropped_pushes"],
            "webhook_posts_stored": InboundPush.objects.count(), "webhook_most_records_in_a_post": stored["most"]}
