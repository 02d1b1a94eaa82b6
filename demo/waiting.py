"""Driving the workers until the work is done: the demo, the chaos run and the benchmarks enqueue
the flows' tasks themselves, because the scheduler wakes only every 30 s and someone is waiting."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django_q.brokers import get_broker

from demo.processes import Supervisor

# How often the work is kicked while waiting: often enough that nothing waits long for its
# turn, seldom enough that the queue does not fill with kicks the workers have not taken yet.
KICK_EVERY_SECONDS = 2.0


def throttled(action: Callable[[], None], every_s: float = KICK_EVERY_SECONDS) -> Callable[[], None]:
    """``action``, run when called if it has not run in the last ``every_s`` seconds (the first
    call always runs it)."""
    last_run = 0.0

    def run_when_due() -> None:
        nonlocal last_run
        if time.monotonic() - last_run > every_s:
            action()
            last_run = time.monotonic()

    return run_when_due


def drive_until_quiet(supervisor: Supervisor, *, kick: Callable[[], None], quiet: Callable[[], bool],
                      timeout_s: float, what: str, figures: Callable[[], Any], pause_s: float = 1.0,
                      quiet_polls: int = 2) -> None:
    """Kick the work (see ``throttled``) and look again every ``pause_s`` until ``quiet()`` says
    so ``quiet_polls`` times in a row (once could be the moment between two tasks). Raise when a
    worker died, or when ``what`` has not settled within ``timeout_s``, naming its ``figures()``."""
    deadline = time.monotonic() + timeout_s
    kick_when_due = throttled(kick)
    in_a_row = 0
    while in_a_row < quiet_polls:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not settle within {timeout_s:.0f}s: {figures()}")
        supervisor.check_alive()
        kick_when_due()
        time.sleep(pause_s)
        in_a_row = in_a_row + 1 if quiet() else 0


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
