"""The chaos run's kills (demo/chaos.py), piece by piece without a whole run: which target each
kill hits, which targets a profile has, and that what is killed comes back as it was."""

from __future__ import annotations

import random
import sys
import uuid
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.db import connection

from demo import chaos
from demo.chaos import BLUECHERRY, EVERY_PROFILE_TARGETS, POSTGRES, REDIS, SEKO, WEB, WORKERS, Killer, available_targets
from demo.launcher import start_simulator
from demo.processes import Supervisor

SLEEPER = ["-c", "import time\ntime.sleep(60)"]


def killer_of(targets: tuple[str, ...], seed: int, hits: list[str] | None = None) -> Killer:
    hits = [] if hits is None else hits
    return Killer({t: (lambda t=t: hits.append(t)) for t in targets}, random.Random(seed))


@pytest.mark.parametrize("seed", range(20))
def test_the_first_kills_hit_every_available_target_once(seed):
    targets = available_targets(redis_broker=True, postgres_database=True)
    hits: list[str] = []
    killer = killer_of(targets, seed, hits)
    for _ in targets:
        assert killer.owes(0, every_target=True)
        killer.kill()
    assert sorted(hits) == sorted(targets)
    assert killer.kills_by_target == dict.fromkeys(targets, 1) and killer.kills == len(targets)
    assert not killer.owes(len(targets), every_target=True)


def test_the_same_seed_kills_the_same_targets_in_the_same_order():
    targets = available_targets(redis_broker=True, postgres_database=True)
    runs = []
    for _ in range(2):
        hits: list[str] = []
        killer = killer_of(targets, 8, hits)
        for _ in range(12):
            killer.kill()
        runs.append(hits)
    assert runs[0] == runs[1]


def test_a_kill_aimed_at_a_target_hits_it_even_when_already_hit():
    hits: list[str] = []
    killer = killer_of(EVERY_PROFILE_TARGETS, 3, hits)
    for _ in EVERY_PROFILE_TARGETS:
        killer.kill()
    killer.kill(WEB)
    assert hits[-1] == WEB and killer.kills_by_target[WEB] == 2
    assert not killer.owes(0, every_target=True)


def test_the_targets_never_hit_are_spread_over_the_phase_not_left_for_its_end(monkeypatch):
    monkeypatch.setattr(chaos.time, "monotonic", lambda: 1000.0)
    targets = available_targets(redis_broker=True, postgres_database=True)
    killer = killer_of(targets, 9)
    killer.kill(WORKERS)
    killer.spread_over(30.0, every_target=True)  # five never hit: a kill every 5 s at most
    assert killer.high == pytest.approx(5.0) and killer.next_at <= 1005.0
    relaxed = killer_of(targets, 9)
    relaxed.spread_over(30.0, every_target=False)
    assert relaxed.high == 15.0


def test_a_phase_that_does_not_need_every_target_owes_only_its_minimum():
    killer = killer_of(EVERY_PROFILE_TARGETS, 1)
    killer.kill()
    killer.kill()
    assert not killer.owes(2, every_target=False)
    assert killer.owes(2, every_target=True)


def test_forced_kills_come_a_moment_apart_and_stop_once_nothing_is_owed(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(chaos.time, "monotonic", lambda: now[0])
    killer = killer_of((WORKERS, WEB), 5)
    killer.force(0, every_target=True)
    killer.force(0, every_target=True)  # the same instant: waits for the gap
    assert killer.kills == 1
    now[0] += chaos.FORCED_KILL_GAP_SECONDS
    killer.force(0, every_target=True)
    killer.force(0, every_target=True)
    now[0] += chaos.FORCED_KILL_GAP_SECONDS
    killer.force(0, every_target=True)  # nothing owed any more
    assert killer.kills_by_target == {WORKERS: 1, WEB: 1}


def test_the_broker_and_the_database_are_targets_only_when_they_are_servers():
    assert available_targets(redis_broker=False, postgres_database=False) == (WORKERS, WEB, SEKO, BLUECHERRY)
    assert available_targets(redis_broker=True, postgres_database=True) == (WORKERS, WEB, SEKO, BLUECHERRY,
                                                                            REDIS, POSTGRES)
    assert REDIS in available_targets(redis_broker=True, postgres_database=False)
    assert POSTGRES not in available_targets(redis_broker=True, postgres_database=False)


def test_this_profile_offers_what_its_settings_run_on(settings):
    settings.Q_BROKER_URL = ""
    expected = (*EVERY_PROFILE_TARGETS, *((POSTGRES,) if connection.vendor == "postgresql" else ()))
    assert chaos.targets_of_this_profile() == expected
    settings.Q_BROKER_URL = "redis://127.0.0.1:6379/0"
    assert REDIS in chaos.targets_of_this_profile()


def test_a_restarted_simulator_answers_again_on_the_same_port_with_its_data(tmp_path: Path):
    with open(tmp_path / "seko.log", "ab") as log:
        sim = start_simulator("seko", tmp_path / "seko.sqlite3", log_file=log)
        try:
            push_url = f"http://127.0.0.1:1/{uuid.uuid4().hex}/"
            sim.control("POST", "_sim/config", {"push_url": push_url})
            port, pid = sim.port, sim.process.pid
            sim.kill()
            with pytest.raises(requests.ConnectionError):  # what our clients meet meanwhile
                sim.control("GET", "_sim/state", timeout=2)
            sim.restart(log_file=log)
            assert sim.port == port and sim.process.pid != pid
            assert sim.control("GET", "_sim/config")["push_url"] == push_url
        finally:
            sim.stop()


def test_the_supervisor_restarts_a_process_killed_with_its_group_with_the_same_arguments(tmp_path: Path):
    with Supervisor(tmp_path, {}, lambda line: None) as supervisor:
        first = supervisor.process("worker", SLEEPER)
        supervisor.kill("worker")
        assert first.poll() is not None and supervisor.processes == []
        second = supervisor.restart("worker")
        assert second.pid != first.pid and second.poll() is None
        assert supervisor.processes == [("worker", second)] and second.args == [sys.executable, *SLEEPER]


def test_the_supervisor_restarts_a_simulator_it_started_and_still_stops_it(tmp_path: Path):
    with Supervisor(tmp_path, {}, lambda line: None) as supervisor:
        sim = supervisor.simulator("bluecherry")
        first = sim.process
        supervisor.restart_simulator(sim)
        assert first.poll() is not None and sim.control("GET", "_sim/state") is not None
    assert sim.process.poll() is not None


def redis_or_skip():
    redis = pytest.importorskip("redis")
    client = redis.Redis(host="127.0.0.1", port=6379, db=15, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    return client


def test_losing_the_broker_queue_empties_this_runs_keys_only_and_drops_the_connections(settings):
    client = redis_or_skip()
    cluster = f"chaos-test-{uuid.uuid4().hex[:8]}"
    settings.Q_BROKER_URL = "redis://127.0.0.1:6379/15"
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "name": cluster}
    ours, theirs = f"django_q:{cluster}:q", f"django_q:other-{cluster}:q"
    try:
        client.rpush(ours, "task")
        client.rpush(theirs, "task")
        before = client.client_id()
        chaos.lose_broker_queue()
        assert client.exists(ours) == 0 and client.exists(theirs) == 1
        assert client.client_id() != before  # its connection was dropped; the client reconnected
    finally:
        client.delete(ours, theirs)
        client.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
                    reason="the database is a server of its own only on PostgreSQL")
def test_terminating_the_database_connections_spares_ours_and_ends_the_others():
    import psycopg

    params = connection.get_connection_params()
    other = psycopg.connect(**{k: v for k, v in params.items() if k != "cursor_factory"})
    try:
        chaos.terminate_database_connections()
        with pytest.raises(psycopg.OperationalError):
            other.execute("SELECT 1")
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        other.close()


def test_several_nodes_are_refused_without_a_shared_database_and_broker(monkeypatch):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("Q_BROKER_URL", raising=False)
    with pytest.raises(CommandError, match="needs a database and a broker they share"):
        call_command("chaos", nodes=2, orders=1)


def test_a_negative_outage_is_refused_with_what_to_give():
    from django.core.management import call_command
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--outage-seconds must be 0"):
        call_command("chaos", outage_seconds=-5, orders=1)
