"""Kicked heartbeats coalesce (issue 9): a kick queued behind busy workers does nothing when
another heartbeat started after it was asked for; scheduled and direct heartbeats always run."""

from __future__ import annotations

import time

import pytest

from integration import tasks
from integration.models import SyncCursor
from integration.overview import figures as overview

pytestmark = pytest.mark.django_db


def started_at() -> float:
    return SyncCursor.objects.get(name=tasks.HEARTBEAT_CURSOR).last_run_at.timestamp()


def test_a_kick_asked_for_before_the_last_heartbeat_started_does_nothing(bluecherry, seko):
    asked = time.time()
    first = tasks.sync_orders(enqueued_at=asked)  # nothing has run since it was asked for: it runs
    assert "coalesced" not in first and "released_seen" in first
    beat = started_at()
    assert beat >= asked
    assert tasks.sync_orders(enqueued_at=asked) == {"coalesced": 1}  # queued behind the first
    assert started_at() == beat  # and it did not count as a heartbeat


def test_a_kick_asked_for_after_the_last_heartbeat_started_runs(bluecherry, seko):
    tasks.sync_orders()
    before = started_at()
    time.sleep(0.01)
    assert "released_seen" in tasks.sync_orders(enqueued_at=time.time())
    assert started_at() > before


def test_the_scheduled_heartbeat_and_direct_calls_always_run(bluecherry, seko):
    tasks.sync_orders()
    assert "released_seen" in tasks.sync_orders()
    assert "released_seen" in tasks.sync_orders(enqueued_at=None)


def test_the_heartbeat_row_is_not_shown_as_a_flow(bluecherry, seko):
    tasks.sync_orders()
    rows, _ = overview.flow_health()
    assert tasks.HEARTBEAT_CURSOR not in {row.name for row in rows}
