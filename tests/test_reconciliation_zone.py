"""Reconciliation without dead ends: Run now says when another run holds the lock (and shows
it) instead of claiming to start; a run reads the dispatches Seko already sent us rather than
asking Seko once per order; days and month-end are the business's, in BUSINESS_TIME_ZONE."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone

from exceptions.models import IntegrationException
from integration.models import MessageLog, Order, SyncCursor
from reconciliation import rules, views
from reconciliation.models import Difference, ReconciliationDay, ReconciliationRun
from reconciliation.run import CURSOR, run_reconciliation
from tests.test_dispatch_flow import dispatch_at_seko, push_outbox, push_settings, sent_order, take_in  # noqa: F401
from tests.test_order_flow import world  # noqa: F401
from tests.test_reconciliation import shipped

pytestmark = pytest.mark.django_db


def finance(client) -> User:
    user = User.objects.create_user("finance-user")
    user.groups.add(Group.objects.get_or_create(name="finance")[0])
    client.force_login(user)
    return user


# --- Run now while another run holds the lock ----------------------------------------------------

def test_run_now_while_another_run_holds_the_lock_says_not_started_shows_the_run_and_keeps_the_days(
        client, monkeypatch):
    finance(client)
    started = timezone.now() - timedelta(minutes=2)
    ReconciliationRun.objects.create(date_from=date(2026, 11, 1), date_to=date(2026, 11, 30), trigger="page",
                                     requested_by="someone", started_at=started)
    SyncCursor.objects.create(name=CURSOR, locked_until=timezone.now() + timedelta(minutes=3))
    queued = []
    monkeypatch.setattr(views, "async_task", lambda *args, **kwargs: queued.append(args))

    response = client.post("/reconciliation/run", {"date_from": "2026-12-01", "date_to": "2026-12-02"}, follow=True)

    assert queued == []
    page = response.content.decode()
    assert "Not started: a reconciliation of 2026-11-01 to 2026-11-30 is running" in page
    assert 'value="2026-12-01"' in page and 'value="2026-12-02"' in page  # the days given are kept
    assert "recon-running" in page and "by someone" in page


def test_run_now_with_the_lock_free_hands_the_run_to_a_worker(client, monkeypatch):
    finance(client)
    SyncCursor.objects.create(name=CURSOR, locked_until=timezone.now() - timedelta(seconds=1))  # lease over
    queued = []
    monkeypatch.setattr(views, "async_task", lambda *args, **kwargs: queued.append(args))
    response = client.post("/reconciliation/run", {"date_from": "2026-12-01"}, follow=True)
    assert queued and queued[0][1:3] == ("2026-12-01", "2026-12-01")
    assert "Reconciliation of 2026-12-01 to 2026-12-01 started" in response.content.decode()


# --- One Seko call per dispatched order, no more -------------------------------------------------

def test_a_run_reads_the_dispatches_seko_already_sent_us_without_asking_seko_per_order(world, client,
                                                                                       push_settings):
    shipped(world, client, "SO-Z1", "SO-Z2", "SO-Z3")
    MessageLog.objects.all().delete()
    today = timezone.now().astimezone(UTC).date()
    run = run_reconciliation(today, today, trigger="test")
    assert run.differences == 0
    assert ReconciliationDay.objects.get(day=today).dispatched_orders == 3
    calls = list(MessageLog.objects.filter(system="seko").values_list("operation", flat=True))
    assert "order_dispatch" not in calls and "order_status" not in calls
    assert calls.count("dispatched_orders") >= 1  # Seko's own list still says what it dispatched


# --- The business's time zone ---------------------------------------------------------------------

def test_an_event_late_in_the_utc_evening_falls_on_the_businesss_next_day():
    late = datetime(2026, 3, 31, 23, 30, tzinfo=UTC)
    assert rules.day_of(late) == date(2026, 3, 31)
    assert rules.day_of(late, ZoneInfo("Europe/Berlin")) == date(2026, 4, 1)
    assert rules.day_of("2026-03-31T23:30:00Z", ZoneInfo("Europe/Berlin")) == date(2026, 4, 1)
    assert rules.day_of("2026-03-31", ZoneInfo("Europe/Berlin")) == date(2026, 3, 31)  # a date is a day
    result = rules.reconcile(sent={"SO-1": {"sent_at": late, "units": 1, "value": "10", "sla_hours": 24,
                                            "seko_status": "Dispatched"}},
                             dispatches={}, shipments=[], invoices=[], prices={}, now=late,
                             zone=ZoneInfo("Europe/Berlin"))
    assert list(result["days"]) == [date(2026, 4, 1)]


def test_a_run_puts_each_order_on_the_businesss_day_and_the_month_closes_at_its_midnight(
        world, settings, client, push_settings):
    settings.BUSINESS_TIME_ZONE = "Europe/Berlin"
    bluecherry, _ = world
    sent_order(bluecherry, "SO-Z9")
    # 23:30 UTC on 31 March is 01:30 on 1 April in Berlin: April's business, not March's.
    Order.objects.filter(ord_num="SO-Z9").update(sent_at=datetime(2026, 3, 31, 23, 30, tzinfo=UTC))
    now = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)
    run_reconciliation(date(2026, 3, 31), date(2026, 4, 1), trigger="test", now=now)
    assert ReconciliationDay.objects.get(day=date(2026, 4, 1)).sent_orders == 1
    assert ReconciliationDay.objects.get(day=date(2026, 3, 31)).sent_orders == 0
    assert views.month_summary(date(2026, 4, 1), date(2026, 4, 30))["sums"]["sent_orders"] == 1
    assert views.month_summary(date(2026, 3, 1), date(2026, 3, 31))["sums"]["sent_orders"] == 0


def test_the_page_names_the_business_time_zone_its_days_are_in(client, settings):
    settings.BUSINESS_TIME_ZONE = "Europe/Berlin"
    finance(client)
    assert "the business's days in Europe/Berlin" in client.get("/reconciliation/").content.decode()


def test_the_month_counts_each_order_with_an_open_difference_once_and_only_that_months():
    """An order with two open differences is one order still open; a resolved one, another
    month's and an open exception no difference names do not count."""
    raised = iter(range(100))

    def exception(status: str) -> IntegrationException:
        return IntegrationException.objects.create(kind="recon", owner="finance", category="data",
                                                   trace_key=f"t{next(raised)}", message="m", status=status)

    now = timezone.now()
    april = [ReconciliationDay.objects.create(day=date(2026, 4, d), reconciled_at=now, differences=1) for d in (3, 9)]
    march = ReconciliationDay.objects.create(day=date(2026, 3, 30), reconciled_at=now, differences=1)
    kind = next(iter(rules.KINDS))
    for day, ord_num, status in [(april[0], "SO-1", "open"), (april[1], "SO-1", "open"),
                                 (april[1], "SO-2", "resolved"), (march, "SO-3", "open")]:
        Difference.objects.create(day=day, kind=kind, ord_num=ord_num, message="m", exception=exception(status))
    Difference.objects.create(day=april[0], kind=kind, ord_num="SO-4", message="m")  # no exception raised
    exception("open")
    summary = views.month_summary(date(2026, 4, 1), date(2026, 4, 30))
    assert summary["orders_open"] == 1
    assert summary["by_kind"] == [(kind, rules.KINDS[kind], 4)]
