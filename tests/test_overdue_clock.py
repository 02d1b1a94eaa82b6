"""Overdue is measured from the customer's clock (the release in Blue Cherry), wherever the order
is: before Seko, held here, at Seko, or out of the warehouse with its dispatch held. CX can move
the promise instead of a resolve that reopens; the poll looks again at an order whose dispatch
is held; the manual's timing for a lost push is the code's."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone

from exceptions import catalogue
from exceptions import services as queue
from exceptions.models import IntegrationException
from integration.dispatches import flow as dispatches
from integration.dispatches import overdue, overdue_words
from integration.models import Dispatch, Order
from tests.test_dispatch_flow import dispatch_at_seko, push_settings, sent_order  # noqa: F401  (push_settings)
from tests.test_order_flow import world  # noqa: F401  (world is a fixture)

pytestmark = pytest.mark.django_db
MANUAL = Path(__file__).resolve().parent.parent / "docs" / "operations.md"


def order_released_hours_ago(ord_num: str, hours: float, **fields) -> Order:
    now = timezone.now()
    order = Order.objects.create(ord_num=ord_num, bc_status="RELEASED", bc_updated_at=now, location="UK3PL",
                                 ship_via="RMNDAY", **{"status": Order.Status.SENT, **fields})
    Order.objects.filter(pk=order.pk).update(created_at=now - timedelta(hours=hours))
    order.refresh_from_db()
    return order


def open_alert(ord_num: str) -> IntegrationException | None:
    return IntegrationException.objects.filter(kind=catalogue.DISPATCH_OVERDUE.code, status="open",
                                               trace_key=catalogue.order_key(ord_num)).first()


def cx_person(client) -> User:
    user = User.objects.create_user("cxer", password="pw")
    user.groups.add(Group.objects.get_or_create(name="cx")[0])
    client.force_login(user)
    return user


@pytest.fixture
def sla_24h(settings):
    settings.DISPATCH_SLA_HOURS, settings.DISPATCH_SLA_BY_SERVICE = 24, {}
    return settings


def test_the_clock_starts_at_release_so_an_order_sent_late_to_seko_is_overdue(sla_24h):
    order_released_hours_ago("SO-K1", 30, sent_at=timezone.now() - timedelta(hours=2))
    [item] = overdue.overdue_orders()
    assert item.order.ord_num == "SO-K1" and overdue_words.duration_in_words(item.late_by) == "6 h"


def test_orders_stuck_before_seko_are_overdue_with_the_stage_they_are_in(sla_24h, monkeypatch):
    now = timezone.now()
    order_released_hours_ago("SO-K2", 30, status=Order.Status.QUARANTINED)
    order_released_hours_ago("SO-K3", 29, status=Order.Status.RECEIVED, next_attempt_at=now + timedelta(minutes=7),
                             last_error="Seko did not answer")
    order_released_hours_ago("SO-K4", 28, status=Order.Status.RECEIVED)
    asked = []
    monkeypatch.setattr(overdue, "_seko_status", lambda seko, order: asked.append(order.ord_num) or "To Be Picked")
    assert overdue.check_overdue() == 3
    assert asked == []  # none of them is at Seko: Seko is not asked
    stages = {i.order.ord_num: i.stage for i in overdue.overdue_orders()}
    assert stages["SO-K2"].code == overdue_words.HELD and "held here" in stages["SO-K2"].words
    assert stages["SO-K3"].code == overdue_words.BEFORE_SEKO
    assert "tried again on its own" in stages["SO-K3"].words and "Seko did not answer" in stages["SO-K3"].words
    assert "waiting to be checked and sent" in stages["SO-K4"].words
    assert "Not yet at Seko: held here" in open_alert("SO-K2").message


def test_an_order_out_of_the_warehouse_with_its_dispatch_held_says_so(sla_24h):
    order = order_released_hours_ago("SO-K5", 30)
    Dispatch.objects.create(dispatch_id="DSP-K5", order=order, ord_num=order.ord_num,
                            status=Dispatch.Status.QUARANTINED, confirmation={})
    [item] = overdue.overdue_orders()
    assert item.stage.code == overdue_words.LEFT_WAREHOUSE and "held here until ops" in item.stage.words


def test_cancelled_withdrawn_and_being_cancelled_orders_are_not_overdue(sla_24h):
    then = timezone.now() - timedelta(hours=30)
    order_released_hours_ago("SO-K6", 30, sent_at=then, cancel_requested_at=timezone.now())
    order_released_hours_ago("SO-K7", 30, status=Order.Status.WITHDRAWN)
    order_released_hours_ago("SO-K8", 30, sent_at=then, status=Order.Status.CANCEL_REFUSED)
    assert overdue.overdue_orders() == []


def test_a_resolve_that_would_reopen_is_refused_and_a_new_promise_closes_the_alert_until_then(sla_24h, client):
    order = order_released_hours_ago("SO-K9", 30, status=Order.Status.QUARANTINED)
    user = cx_person(client)
    overdue.check_overdue()
    alert = open_alert("SO-K9")
    with pytest.raises(queue.ActionRefused, match=r"would open again.*Promise new time"):
        queue.resolve_with_note(alert, user, "told the customer")
    assert open_alert("SO-K9") is not None

    # Refused on the page: the input is kept and nothing changes.
    page = client.post("/overdue/SO-K9/promise/", {"until": "2020-01-01T10:00", "note": "agreed Friday"})
    assert page.status_code == 409 and "must be in the future" in page.content.decode()
    assert 'value="agreed Friday"' in page.content.decode() and 'value="2020-01-01T10:00"' in page.content.decode()

    later = timezone.now() + timedelta(days=2)
    response = client.post("/overdue/SO-K9/promise/", {"until": f"{later:%Y-%m-%dT%H:%M}", "note": "agreed Friday"})
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.promised_dispatch_by is not None
    assert IntegrationException.objects.get(pk=alert.pk).status == "resolved"
    assert "agreed Friday" in IntegrationException.objects.get(pk=alert.pk).resolution_note
    assert overdue.check_overdue() == 0 and open_alert("SO-K9") is None  # not reopened by the next check
    assert 'data-order="SO-K9"' not in client.get("/overdue/").content.decode()

    # Still not out by the new time: overdue again, late against the promise.
    assert overdue.check_overdue(now=later + timedelta(hours=1)) == 1
    assert "the new time promised to the customer" in open_alert("SO-K9").message


def test_the_poll_fetches_again_an_order_whose_only_dispatch_is_held(world, client):
    bluecherry, seko = world
    order = sent_order(bluecherry, "SO-K10")
    Dispatch.objects.create(dispatch_id="no-id:K10", order=order, ord_num=order.ord_num,
                            status=Dispatch.Status.QUARANTINED, confirmation={"SalesOrderNumber": "SO-K10"})
    seko.control("POST", "_sim/config", {"push_url": "http://127.0.0.1:9/never", "push_interval_seconds": 3600})
    dispatch_at_seko(seko)
    assert dispatches.poll_dispatches()["recovered"] == 1
    assert Dispatch.objects.filter(order=order, source=Dispatch.Source.POLL).exists()


def test_the_manual_gives_the_codes_time_for_a_lost_dispatch_push(settings):
    settings.DISPATCH_POLL_MINUTES, settings.DISPATCH_POLL_GRACE_SECONDS = 15, 900
    section = MANUAL.read_text().split('<a id="dispatch.overdue"></a>')[1].split("\n#### ")[0]
    within = re.search(r"collects it within (\d+ \w+)", section)
    assert within is not None and within.group(1) == overdue_words.duration_in_words(
        overdue_words.poll_collects_within())
