"""Each flow is judged against its own schedule, by one rule that the overview's dots and the
``sync.stalled`` alert share; stock and reconciliation are watched like the order flows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from exceptions import catalogue
from exceptions.models import IntegrationException
from integration.models import SyncCursor
from integration.overview import figures as overview
from integration.shared import flow_schedule, stalled
from tests.helpers import configure

pytestmark = pytest.mark.django_db


def succeeded(name: str, ago: timedelta, error: str = "") -> None:
    at = timezone.now() - ago
    SyncCursor.objects.update_or_create(name=name, defaults={"last_run_at": at, "last_success_at": at,
                                                             "last_error": error})


def overview_states() -> dict[str, str]:
    rows, _ = overview.flow_health()
    return {row.name: row.state for row in rows}


def stalled_keys() -> set[str]:
    return set(IntegrationException.objects.filter(kind=catalogue.SYNC_STALLED.code, status="open")
               .values_list("trace_key", flat=True))


@pytest.fixture
def schedules(settings):
    return configure(settings, SYNC_INTERVAL_MINUTES=1, ITEM_AUDIT_INTERVAL_MINUTES=60, DISPATCH_POLL_MINUTES=15,
                     STOCK_PUSH_INTERVAL_MINUTES=5.0, STOCK_SNAPSHOT_INTERVAL_MINUTES=360,
                     STOCK_AUDIT_INTERVAL_MINUTES=60, RECON_INTERVAL_MINUTES=1440, DIGEST_INTERVAL_MINUTES=60)


def test_a_flow_scheduled_every_six_hours_is_not_late_three_minutes_after_it_succeeded(schedules):
    for name in ("stock.snapshot", "stock.audit", "items.audit", "reconciliation"):
        succeeded(name, timedelta(minutes=3))
    succeeded("digest.ops", timedelta(hours=30))  # nothing new for a day: no digest is owed
    states = overview_states()
    assert states["Stock snapshot from Seko"] == "ok"
    assert states["Stock audit"] == states["Item master audit"] == states["Reconciliation"] == "ok"
    assert states["Email digests"] == "n/a"
    assert "late" not in states.values()
    assert stalled.check_stalled() == 0


def test_the_overview_and_sync_stalled_call_the_same_flows_late(schedules):
    ages = {
        "orders.released": timedelta(minutes=3),  # 1-min schedule: late
        "items": timedelta(seconds=90),  # 1-min schedule: within two runs
        "dispatches.poll": timedelta(minutes=25),  # 15-min schedule: within two runs
        "stock.publish": timedelta(minutes=11),  # 5-min schedule: late
        "stock.snapshot": timedelta(hours=11),  # 6-h schedule: within two runs
        "stock.audit": timedelta(hours=3),  # 1-h schedule: late
        "reconciliation": timedelta(days=2, minutes=1),  # daily: late
    }
    for name, ago in ages.items():
        succeeded(name, ago)
    assert stalled.check_stalled() == 4
    late_on_overview = {row.name for row in overview.flow_health()[0] if row.state == "late"}
    labels = {flow.cursor: flow.label for flow in flow_schedule.WATCHED_FLOWS}
    assert late_on_overview == {labels[key.removeprefix("flow:")] for key in stalled_keys()}
    assert stalled_keys() == {"flow:orders.released", "flow:stock.publish", "flow:stock.audit", "flow:reconciliation"}


def test_stock_and_reconciliation_stalls_raise_sync_stalled_and_their_next_success_closes_it(schedules):
    succeeded("stock.snapshot", timedelta(hours=13), error="Seko did not answer")
    succeeded("reconciliation", timedelta(days=3))
    assert stalled.check_stalled() == 2
    snapshot = IntegrationException.objects.get(trace_key="flow:stock.snapshot", status="open")
    assert "Seko did not answer" in snapshot.message and "every 6 h" in snapshot.message
    assert "every 1 day" in IntegrationException.objects.get(trace_key="flow:reconciliation", status="open").message
    succeeded("stock.snapshot", timedelta(0))
    succeeded("reconciliation", timedelta(0))
    assert stalled.check_stalled() == 0
    assert stalled_keys() == set()


def test_a_flow_that_ran_but_never_succeeded_is_late_only_after_its_allowance():
    now = timezone.now()
    hour = timedelta(hours=1)
    assert flow_schedule.judge(None, None, hour, now) == "never"
    assert flow_schedule.judge(None, now - timedelta(minutes=90), hour, now) == "never"
    assert flow_schedule.judge(None, now - timedelta(minutes=121), hour, now) == "late"
    assert flow_schedule.judge(now - timedelta(minutes=119), now, hour, now) == "ok"
    assert flow_schedule.judge(now - timedelta(minutes=121), now, hour, now) == "late"


def test_a_flow_follows_its_schedule_when_the_setting_changes(schedules):
    succeeded("stock.snapshot", timedelta(hours=3))
    assert overview_states()["Stock snapshot from Seko"] == "ok"
    schedules.STOCK_SNAPSHOT_INTERVAL_MINUTES = 60
    assert overview_states()["Stock snapshot from Seko"] == "late"
    assert stalled.check_stalled() == 1
