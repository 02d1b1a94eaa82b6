"""The catch-up after an outage: once a system answers again, all the work waiting out a
backoff for it becomes due at once, instead of each piece coming back at the end of its own
doubling pause (up to RETRY_MAX_SECONDS after the system is back).

A system is marked down on its ``SyncCursor`` row ``outage.<system>`` when a failure that may
pass (a Transient) put work into a backoff: ``position`` is when the outage started (None while
the system answers), ``last_run_at`` the last such failure, ``last_error`` what it was, and
``last_success_at`` when it last came back. No model of its own: the row is a cursor like the
heartbeat's.

Each heartbeat, and each flow after a call the system took, asks ``catch_up``: for a system
marked down, one cheap read-only call through its client (the probe); if it answers and no new
failure was noted meanwhile, the mark is cleared with a compare-and-swap and every backoff
waiting for that system is released. Releasing only makes waiting rows due (``next_attempt_at``
cleared on rows still waiting, by compare-and-swap on their status): a claimed row is never
touched, so nothing is sent twice; the usual claims send them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django_q.tasks import async_task

from integration.clients.errors import ClientError, Rejected
from integration.models import Dispatch, Item, Order, SyncCursor
from integration.shared.systems import bluecherry_client, seko_client

log = logging.getLogger(__name__)

SEKO, BLUECHERRY = "seko", "bluecherry"
SYSTEMS = (SEKO, BLUECHERRY)


def outage_cursor(system: str) -> str:
    return f"outage.{system}"


OUTAGE_CURSORS = frozenset(outage_cursor(system) for system in SYSTEMS)


@dataclass(frozen=True)
class Mark:
    """A system marked down: since when, and its last failure (the compare-and-swap's witness)."""

    started_at: datetime
    last_failure_at: datetime | None


@dataclass
class Released:
    """How many waiting rows a catch-up made due, by kind."""

    orders: int = 0
    items: int = 0
    dispatches: int = 0

    @property
    def total(self) -> int:
        return self.orders + self.items + self.dispatches


# --- Pure decisions -------------------------------------------------------------------------

def reached(error: ClientError | None) -> bool:
    """Did the probe reach the system? A refusal (a 4xx in the system's own words) is an answer
    from a system that is up; a Transient, an Unauthorized or an unreadable reply is not."""
    return error is None or isinstance(error, Rejected)


# --- The mark ---------------------------------------------------------------------------------

def note_outage(system: str, reason: str) -> None:
    """A Transient from ``system`` put work into a backoff: mark it down (the start kept from
    the first failure of this outage). One UPDATE in the usual case."""
    now = timezone.now()
    fields = {"position": Coalesce("position", now), "last_run_at": now, "last_error": reason[:2000]}
    if not SyncCursor.objects.filter(name=outage_cursor(system)).update(**fields):
        SyncCursor.objects.get_or_create(name=outage_cursor(system))
        SyncCursor.objects.filter(name=outage_cursor(system)).update(**fields)


def mark_of(system: str) -> Mark | None:
    """The system's outage mark, or None when it is not marked down."""
    row = (SyncCursor.objects.filter(name=outage_cursor(system), position__isnull=False)
           .values_list("position", "last_run_at").first())
    return Mark(*row) if row else None


def _clear(system: str, seen: Mark) -> bool:
    """Clear the mark unless another failure was noted since ``seen`` (compare-and-swap): one
    noted while the probe was out means the system still fails some calls, and the backoffs
    stay. Of two workers catching up at once, one clears and releases."""
    return bool(SyncCursor.objects.filter(name=outage_cursor(system), position=seen.started_at,
                                          last_run_at=seen.last_failure_at)
                .update(position=None, last_success_at=timezone.now(), last_error=""))


# --- The probe ----------------------------------------------------------------------------------

def probe(system: str) -> ClientError | None:
    """One cheap read-only call to ``system`` through its client: Seko's list of DCs, one row of
    Blue Cherry's items. Returns what it failed with, or None when it answered."""
    try:
        if system == SEKO:
            with seko_client() as seko:
                seko.reference_dcs()
        else:
            with bluecherry_client() as bluecherry:
                next(iter(bluecherry.iter_items(page_size=1)), None)
    except ClientError as error:
        return error
    return None


# --- The release ------------------------------------------------------------------------------

def release_backoffs(system: str) -> Released:
    """Make every row waiting out a backoff for ``system`` due now. Each UPDATE names the
    waiting status, so a row a worker claimed meanwhile is left to that worker."""
    now = timezone.now()
    if system == SEKO:
        return Released(
            orders=Order.objects.filter(status=Order.Status.RECEIVED, next_attempt_at__gt=now)
            .update(next_attempt_at=None),
            items=Item.objects.filter(sync_status=Item.SyncStatus.PENDING, next_attempt_at__gt=now)
            .update(next_attempt_at=None),
        )
    # Dispatches backed off after a failed post (attempts > 0). Not those waiting for their
    # order to reach Seko first, nor a wait for a tracking number: neither waits for Blue Cherry.
    # Pick tickets and item statuses owed to Blue Cherry have no backoff: every run sends them.
    return Released(dispatches=Dispatch.objects.filter(
        Q(order__isnull=True) | Q(order__sent_at__isnull=False),
        status=Dispatch.Status.RECEIVED, next_attempt_at__gt=now, attempts__gt=0,
    ).update(next_attempt_at=None))


def catch_up(system: str) -> Released:
    """If ``system`` is marked down, probe it; if it answers, clear the mark and release its
    backoffs. Released dispatches are handed to a ``sync_dispatches`` task at once (the
    heartbeat itself sends the orders and items it released)."""
    seen = mark_of(system)
    if seen is None:
        return Released()
    failure = probe(system)
    if not reached(failure):
        log.info("%s is still down (probe: %s); backoffs stay", system, failure)
        return Released()
    if not _clear(system, seen):
        return Released()
    released = release_backoffs(system)
    log.warning("%s answers again after an outage since %s: released %s", system,
                f"{seen.started_at:%Y-%m-%d %H:%M:%S}", released)
    if released.dispatches:
        async_task("integration.tasks.sync_dispatches", task_name="sync_dispatches")
    return released


def catch_up_all() -> dict[str, int]:
    """The heartbeat's step: every system marked down probed; how many rows became due."""
    released = {system: catch_up(system) for system in SYSTEMS}
    return {"released_orders": released[SEKO].orders, "released_items": released[SEKO].items,
            "released_dispatches": released[BLUECHERRY].dispatches}


def system_answered(system: str) -> None:
    """A flow's call to ``system`` succeeded: if it was marked down, catch up now rather than at
    the next heartbeat. After the caller's transaction, so the probe never holds it open."""
    transaction.on_commit(lambda: _catch_up_quietly(system), robust=True)


def _catch_up_quietly(system: str) -> None:
    try:
        catch_up(system)
    except Exception:  # the flow's own work is done; the next heartbeat catches up instead
        log.exception("catch-up of %s after a successful call failed", system)
