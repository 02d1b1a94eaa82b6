"""The stalled-flow monitor: ``sync.stalled`` for each flow late against its own schedule,
closed on the flow's next success. Every flow's cursor is watched the same way, so it lives
with what the flows share."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from exceptions import catalogue
from exceptions import services as queue
from integration.models import SyncCursor
from integration.shared import flow_schedule


def check_stalled(now: datetime | None = None) -> int:
    """Raise ``sync.stalled`` for each flow the shared rule (integration/shared/flow_schedule.py, which
    the overview also uses) finds late against its own schedule, and close it for each that has
    succeeded since; returns how many are stalled."""
    now = now or timezone.now()
    intervals = flow_schedule.flow_intervals()
    stalled = 0
    for cursor in SyncCursor.objects.filter(name__in=intervals):
        interval = intervals[cursor.name]
        key = catalogue.flow_key(cursor.name)
        state = flow_schedule.judge(cursor.last_success_at, cursor.last_run_at, interval, now)
        if state == flow_schedule.FlowState.OK:
            queue.auto_resolve(key, [catalogue.SYNC_STALLED], f"'{cursor.name}' succeeded again")
            continue
        if state == flow_schedule.FlowState.NEVER:
            continue  # not run yet, or running and not yet late
        stalled += 1
        since = (f"last succeeded {cursor.last_success_at:%Y-%m-%d %H:%M} UTC" if cursor.last_success_at
                 else "has never succeeded")
        error = f" Last error: {cursor.last_error}" if cursor.last_error else ""
        every = flow_schedule.in_words(interval.total_seconds() / 60)
        queue.raise_exception(
            catalogue.SYNC_STALLED, key,
            f"Flow '{flow_schedule.LABELS[cursor.name]}' ({cursor.name}) {since}; it is scheduled every {every} "
            f"and counts as stalled after {flow_schedule.INTERVALS_ALLOWED} runs without success.{error}",
        )
    return stalled
