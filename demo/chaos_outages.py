"""Outages in a chaos run: one system refuses every call for a while (each call answered 503,
the connection refused because the system is down, or a proxy's HTML page in front of it), the
work goes on meanwhile, then the system answers again and the run measures how long the work
that waited for it takes to go.

``first_release_s``: from the system answering again until it took the first piece of work (an
order accepted, an item acknowledged, a dispatch posted: the heartbeat's probe releases the
backoffs, so at most one heartbeat). ``recovery_s``: until the
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


def seko_progress() -> int:
    """How much work Seko has taken so far: orders it accepted and items it acknowledged. It only
    grows, so it shows work going while new work still arrives (the pull of released orders)."""
    return Order.objects.exclude(sent_at=None).count() + Item.objects.exclude(seko_acknowledged_at=None).count()


def bluecherry_progress() -> int:
    """How much work Blue Cherry has taken so far: dispatches posted and pick tickets recorded."""
    return (Dispatch.objects.filter(status=Dispatch.Status.POSTED).count()
            + Order.objects.exclude(pick_ticket_at=None).count())


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
    """One planned outage of ``simulator``: down for ``seconds`` in all, one way after another
    (``hows``, e.g. 503s, then no process at all, then a proxy's pages). ``stop``/``start`` take
    its process down and up again; ``restore_faults`` puts back the run's usual faults once the
    recovery has been measured (it is measured against a system answering every call)."""

    simulator: RunningSimulator
    system: str
    hows: tuple[str, ...]
    seconds: float
    backlog: Callable[[], int]
    progress: Callable[[], int]
    stop: Callable[[], None]
    start: Callable[[], None]
    restore_faults: Callable[[], None]

    def _go_down(self, how: str) -> None:
        if how == REFUSED:
            self.stop()
        else:
            self.simulator.control("POST", "_sim/faults", FAULTS_WHILE_DOWN[how])

    def _leave(self, how: str) -> None:
        if how == REFUSED:
            self.start()
        self.simulator.control("POST", "_sim/faults", {})  # answering every call again

    def run(self, drive: Callable[[], None], *, timeout_s: float, poll_s: float = 0.25) -> OutageResult:
        """Down while ``drive`` keeps the work going, then up; drive on until the backlog for this
        system is gone or ``timeout_s`` passes."""
        for how in self.hows:
            self._go_down(how)
            down_until = time.monotonic() + self.seconds / len(self.hows)
            while time.monotonic() < down_until:
                drive()
                time.sleep(poll_s)
            self._leave(how)
        back_at = time.monotonic()
        before, taken = self.backlog(), self.progress()
        first_release = recovery = None
        while time.monotonic() - back_at < timeout_s:
            drive()
            left = self.backlog()
            if first_release is None and self.progress() > taken:
                first_release = time.monotonic() - back_at
            if left == 0:
                recovery = time.monotonic() - back_at
                first_release = recovery if first_release is None else first_release
                break
            time.sleep(poll_s)
        self.restore_faults()
        return OutageResult(self.system, "+".join(self.hows), round(self.seconds, 1), before,
                            None if first_release is None else round(first_release, 2),
                            None if recovery is None else round(recovery, 2))


def late_recoveries(results: list[OutageResult], heartbeat_s: float, slack_s: float) -> list[str]:
    """The outages whose backlog did not start to go within one heartbeat of the system answering
    again (plus ``slack_s`` for the task to start and the first call to return), or never went."""
    late = []
    for result in results:
        if result.recovery_s is None:
            late.append(f"{result.system}: {result.backlog_when_back} still waiting when the run gave up")
        elif result.backlog_when_back and (result.first_release_s or 0) > heartbeat_s + slack_s:
            late.append(f"{result.system}: the first waiting work went {result.first_release_s} s after it answered "
                        f"again (one heartbeat is {heartbeat_s} s)")
    return late
