"""Are the workers running? Read by ``/healthz/workers`` (for the company's monitor) and the overview.

The evidence is a row a worker writes: ``workers_heartbeat`` is scheduled every minute, so a
recent beat proves the scheduler enqueued it, the broker delivered it and a worker ran it.
django-q2's own cluster stats are not used: on the ORM broker they are kept in Django's cache,
which is per process unless a shared cache is configured, so the web server never sees them; and
they prove only that the cluster's sentinel is alive, not that tasks run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from integration.models import SyncCursor

WORKERS_CURSOR = "workers.heartbeat"
STOPPED = "stopped"  # the cursor's last_error once whoever stopped the workers said so


def record_beat(now: datetime | None = None) -> None:
    now = now or timezone.now()
    SyncCursor.objects.update_or_create(name=WORKERS_CURSOR,
                                        defaults={"last_run_at": now, "last_success_at": now, "last_error": ""})


def record_stopped(now: datetime | None = None) -> None:
    """The workers were stopped on purpose (the demo's end): unhealthy at once, not only once the
    last beat has aged past the limit. The next beat clears it."""
    now = now or timezone.now()
    SyncCursor.objects.update_or_create(name=WORKERS_CURSOR, defaults={"last_run_at": now, "last_error": STOPPED})


@dataclass(frozen=True)
class WorkersState:
    last_beat: datetime | None
    age: timedelta | None
    healthy_within: timedelta
    stopped: bool = False

    @property
    def healthy(self) -> bool:
        return not self.stopped and self.age is not None and self.age <= self.healthy_within

    @property
    def summary(self) -> str:
        """One sentence for the monitor's alert and the overview."""
        limit = _seconds_in_words(self.healthy_within)
        if self.age is None:
            return (f"No worker has ever run the heartbeat task: the workers (manage.py qcluster) have not run "
                    f"since the schedules were set up, or the schedules are missing (healthy within {limit}).")
        ago = _seconds_in_words(self.age)
        if self.stopped:
            return f"Workers stopped (last heartbeat {ago} ago): nothing scheduled runs until they are started."
        if self.healthy:
            return f"Workers running: last heartbeat {ago} ago (healthy within {limit})."
        return (f"Workers not running: last heartbeat {ago} ago, more than {limit}. Nothing scheduled runs "
                f"(orders, dispatches, stock, alerts, digests) until they are restarted.")


def judge(last_beat: datetime | None, now: datetime, healthy_within: timedelta, stopped: bool = False) -> WorkersState:
    age = max(now - last_beat, timedelta(0)) if last_beat else None
    return WorkersState(last_beat, age, healthy_within, stopped)


def workers_state(now: datetime | None = None) -> WorkersState:
    beat, note = SyncCursor.objects.filter(name=WORKERS_CURSOR).values_list(
        "last_success_at", "last_error").first() or (None, "")
    return judge(beat, now or timezone.now(), timedelta(seconds=settings.WORKERS_HEALTHY_WITHIN_SECONDS),
                 stopped=note == STOPPED)


def _seconds_in_words(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} days"
