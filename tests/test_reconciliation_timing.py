"""A reconciliation difference is raised only once the flow that would settle it has had its
chance, and its hint matches its cause: a dispatch still on its way to Blue Cherry is not a
missing shipment, an order within its SLA is not late, an order only late at the warehouse is
customer service's overdue alert (not a second exception for finance), and nothing merely late
is ever hinted as "keyed in by hand"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from exceptions import catalogue
from exceptions import services as queue
from exceptions.models import IntegrationException
from integration.models import Order
from reconciliation import rules
from reconciliation.models import Difference
from reconciliation.run import dispatch_settle_window, run_reconciliation
from tests.test_dispatch_flow import dispatch_at_seko, push_outbox, push_settings, sent_order, take_in  # noqa: F401
from tests.test_order_flow import world  # noqa: F401
from tests.test_reconciliation_rules import dispatch, run, sent

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def reconcile_rules(**kwargs) -> list[dict]:
    defaults = {"sent": sent(), "dispatches": {"SO-1": dispatch()}, "shipments": [], "invoices": [],
                "prices": {}, "now": NOW}
    return rules.reconcile(**{**defaults, **kwargs})["differences"]


# --- pure: the rules ------------------------------------------------------------------------------

def test_a_dispatch_younger_than_the_time_its_flow_needs_is_not_yet_a_missing_shipment():
    just_dispatched = {"SO-1": dispatch(DispatchDate="2026-11-28T11:45:00Z")}  # 15 minutes before NOW
    assert reconcile_rules(dispatches=just_dispatched, dispatch_settle=timedelta(minutes=34)) == []
    [line] = reconcile_rules(dispatches=just_dispatched, dispatch_settle=timedelta(minutes=10))
    assert line["kind"] == rules.DISPATCHED_NOT_SHIPPED


def test_a_dispatch_dated_without_a_time_waits_as_if_dispatched_at_the_end_of_its_day():
    today = {"SO-1": dispatch(DispatchDate="2026-11-28")}
    assert reconcile_rules(dispatches=today, dispatch_settle=timedelta(minutes=34)) == []
    yesterday = {"SO-1": dispatch(DispatchDate="2026-11-27")}
    assert [d["kind"] for d in reconcile_rules(dispatches=yesterday, dispatch_settle=timedelta(minutes=34))] == [
        rules.DISPATCHED_NOT_SHIPPED]


def test_an_order_within_its_sla_and_the_monitors_interval_is_not_late():
    sent_at = NOW - timedelta(hours=24, minutes=3)  # 3 minutes past a 24 h SLA
    rows = sent(sent_at=sent_at)
    assert reconcile_rules(sent=rows, dispatches={}, late_grace=timedelta(minutes=5)) == []
    [line] = reconcile_rules(sent=rows, dispatches={}, late_grace=timedelta(minutes=1))
    assert line["kind"] == rules.NOT_DISPATCHED_PAST_SLA


def test_a_late_order_reads_in_durations_a_person_reads_and_its_hint_is_the_warehouse_not_a_booking():
    [line] = reconcile_rules(sent=sent(sent_at=NOW - timedelta(hours=27, minutes=20), seko_status="To Be Picked"),
                             dispatches={})
    assert "sent to Seko 27 h 20 min ago, 3 h 20 min past its dispatch SLA of 24 h" in line["message"]
    assert "Late at the warehouse" in line["message"] and "by hand" not in line["message"]
    assert "0 h" not in line["message"]


def test_every_difference_carries_the_hint_of_its_own_kind():
    for result in (run(), run(dispatches={}), run(sent_rows={}, dispatches={}, invoices=[
            {"invoice_num": "IN-9", "ord_num": "SO-1", "invoice_date": "2026-11-27", "amount": "5"}])):
        for line in result["differences"]:
            assert line["message"].endswith(rules.HINTS[line["kind"]])
    assert set(rules.HINTS) == set(rules.KINDS)


@pytest.mark.parametrize(("span", "words"), [
    (timedelta(seconds=40), "40 s"), (timedelta(minutes=3), "3 min"), (timedelta(hours=3, minutes=20), "3 h 20 min"),
    (timedelta(hours=24), "24 h"), (timedelta(days=2), "2 days"), (timedelta(days=3, hours=4), "3 days 4 h"),
])
def test_durations_are_written_as_a_person_reads_them(span, words):
    assert rules.duration(span) == words


# --- over the simulators: the run ---------------------------------------------------------------

def today():
    return timezone.now().astimezone(UTC).date()


def test_the_settle_window_is_the_poll_or_the_tracking_wait_plus_the_retries_before_anyone_is_told(settings):
    settings.DISPATCH_POLL_MINUTES, settings.DISPATCH_POLL_GRACE_SECONDS = 15, 900
    settings.DISPATCH_TRACKING_WAIT_SECONDS = 1800
    settings.RETRY_BASE_SECONDS, settings.RETRY_MAX_SECONDS, settings.TRANSIENT_ALERT_AFTER = 30, 1800, 3
    assert dispatch_settle_window() == timedelta(seconds=1800 + 30 + 60 + 120)


@pytest.mark.django_db
def test_a_dispatch_just_made_at_seko_is_no_difference_until_its_flow_has_had_its_chance(world, client):
    bluecherry, seko = world
    sent_order(bluecherry, "SO-T1")
    outbox = dispatch_at_seko(seko)  # dispatched a moment ago; the push is on its way
    run_reconciliation(today(), today(), trigger="test")
    assert not Difference.objects.exists()
    assert not IntegrationException.objects.filter(kind=catalogue.RECON_DISCREPANCY.code).exists()
    push_outbox(client, outbox)  # and it arrives: there never was anything to raise
    take_in()
    run_reconciliation(today(), today(), trigger="test", now=timezone.now() + timedelta(hours=2))
    assert not Difference.objects.exists()


@pytest.mark.django_db
def test_an_order_only_late_at_the_warehouse_is_the_overdue_alerts_and_not_a_second_exception(world):
    bluecherry, _ = world
    order = sent_order(bluecherry, "SO-T2")
    later = timezone.now() + timedelta(hours=30)
    # No overdue alert open (the monitor has not flagged it): the reconciliation raises it.
    run_reconciliation(today(), today(), trigger="test", now=later)
    discrepancy = IntegrationException.objects.get(kind=catalogue.RECON_DISCREPANCY.code, status="open")
    assert "by hand" not in discrepancy.message
    # The monitor flags it: the reconciliation's own exception closes, saying why, and the day's
    # line now leads to the overdue alert.
    overdue = queue.raise_exception(catalogue.DISPATCH_OVERDUE, catalogue.order_key("SO-T2"), "late", order=order)
    run_reconciliation(today(), today(), trigger="test", now=later)
    discrepancy.refresh_from_db()
    assert discrepancy.status == "resolved" and "late at the warehouse" in discrepancy.resolution_note
    line = Difference.objects.get()
    assert (line.kind, line.exception_id) == (rules.NOT_DISPATCHED_PAST_SLA, overdue.pk)
    assert not IntegrationException.objects.filter(kind=catalogue.RECON_DISCREPANCY.code, status="open").exists()
    assert Order.objects.get(ord_num="SO-T2").status == Order.Status.SENT
