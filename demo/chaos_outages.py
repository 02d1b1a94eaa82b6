"""Outages in a chaos run: one system refuses every call for a while (each call answered 503,
the connection refused because the system is down, or a proxy's HTML page in front of it), the
work goes on meanwhile, then the system answers again and the run measures how long the work
that waited for it takes to go.

``first_release_s``: from the system answering again until the first waiting piece of work went
(the heartbeat's probe releases the backoffs: at most one heartbeat). ``recovery_s``: until the
whole backlog for that system has gone (one heartbeat plus the time to send it).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from demo.launcher import RunningSimulator
from integration.models import Dispatch, Item, Order

Status = Order.Status

# How a system is down: its simulator's fault settings for the while, or no process at all.
FAULTS_WHILE_DOWN = {"503": {"error_rate": 1.0}, "proxy_page": {"proxy_page_rate": 1.0}}
REFUSED = "refused"
HOW = (*FAULTS_WHILE_DOWN, REFUSED)


@dataclass
class OutageResult:
    system: str
    how: str
    down_s: float
    backlog_when_back: int
    first_release_s: float | None
    recovery_s: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def seko_backlog() -> int:
    """Work waiting for Seko: orders to send (held ones excluded: they wait for a person) and
    items to send or acknowledge."""
    orders = Order.objects.filter(status__in=[Status.RECEIVED, Status.SENDING]).count()
    items = Item.objects.filter(sync_status__in=[Item.SyncStatus.PENDING, Item.SyncStatus.SENDING]).count()
    return orders + items


def bluecherry_backlog() -> int:
    """Work waiting for Blue Cherry: dispatches to post and pick tickets owed."""
    dispatches = Dispatch.objects.filter(status__in=[Dispatch.Status.RECEIVED, Dispatch.Status.POSTING]).count()
    owed = Order.objects.filter(status=Status.SENT, pick_ticket_at__isnull=True).count()
    return dispatches + owed


@dataclass
class Outage:
    """One planned outage of ``simulator``; ``stop``/``start`` take its process down and up
    again (for ``refused``), ``restore_faults`` puts back the run's usual faults afterwards."""

    simulator: RunningSimulator
    system: str
    how: str
    seconds: float
    backlog: Callable[[], int]
    stop: Callable[[], None]
    start: Callable[[], None]
    restore_faults: Callable[[], None]

    def go_down(self) -> None:
        if self.how == REFUSED:
            self.stop()
        else:
            self.simulator.control("POST", "_sim/faults", FAULTS_WHILE_DOWN[self.how])

    def come_back(self) -> None:
        if self.how == REFUSED:
            self.start()
        self.restore_faults()

    def run(self, drive: Callable[[], None], *, timeout_s: float, poll_s: float = 0.25) -> OutageResult:
        """Down for ``seconds`` while ``drive`` keeps the work going (kicks, kills), then up;
        drive on until the backlog for this system is gone or ``timeout_s`` passes."""
        self.go_down()
        down_until = time.monotonic() + self.seconds
        while time.monotonic() < down_until:
            drive()
            time.sleep(poll_s)
        self.come_back()
        back_at = time.monotonic()
        before = self.backlog()
        first_release = recovery = None
        while time.monotonic() - back_at < timeout_s:
            drive()
            left = self.backlog()
            if first_release is None and left < before:
                first_release = time.monotonic() - back_at
            if left == 0:
                recovery = time.monotonic() - back_at
                first_release = recovery if first_release is None else first_release
                break
            time.sleep(poll_s)
        return OutageResult(self.system, self.how, round(self.seconds, 1), before,
                            None if first_release is None else round(first_release, 2),
                            None if recovery is None else round(recovery, 2))
