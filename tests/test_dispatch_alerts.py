"""Monitoring: overdue orders (raised with their age and Seko's status, cleared by the dispatch),
stalled flows (raised and cleared), the CX overdue page, and the email digest per role."""

# The order-flow tests' `world` fixture is imported and then taken as a test argument by name.

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.core import mail
from django.utils import timezone

from exceptions import catalogue, digest
from exceptions import services as queue
from exceptions.models import IntegrationException
from integration.dispatches import flow as dispatches
from integration.dispatches import overdue
from integration.models import Order, SyncCursor
from integration.shared import stalled
from tests.factories import BlueCherryOrderFactory, CarrierMappingFactory
from tests.test_dispatch_flow import push, push_settings, take_in  # noqa: F401  (push_settings is a fixture)
from tests.test_order_flow import release, run_flow, world  # noqa: F401  (world is a fixture)

pytestmark = pytest.mark.django_db


def overdue_alert(ord_num: str) -> IntegrationException | None:
    return IntegrationException.objects.filter(kind=catalogue.DISPATCH_OVERDUE.code, trace_key=f"order:{ord_num}",
                                               status="open").first()


def sent_hours_ago(ord_num: str, hours: float) -> None:
    """Released (first seen) and sent that long ago: the overdue clock runs from the release."""
    then = timezone.now() - timedelta(hours=hours)
    Order.objects.filter(ord_num=ord_num).update(sent_at=then, created_at=then)


def user_in(role: str, name: str, email: str = "") -> User:
    user = User.objects.create_user(name, email=email, password="pw")
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


def test_an_order_past_its_sla_raises_overdue_for_cx_with_its_age_and_seko_status_and_the_dispatch_clears_it(
        world, client, settings):
    bluecherry, seko = world
    settings.DISPATCH_SLA_HOURS, settings.DISPATCH_SLA_BY_SERVICE = 24, {}
    release(bluecherry, BlueCherryOrderFactory(ord_num="SO-O1"), BlueCherryOrderFactory(ord_num="SO-O2"))
    run_flow()
    sent_hours_ago("SO-O1", 30)
    sent_hours_ago("SO-O2", 2)
    assert overdue.check_overdue() == 1
    alert = overdue_alert("SO-O1")
    assert alert.owner == "cx" and "is 6 h late" in alert.message and "1 day 6 h ago" in alert.message
    assert "To Be Picked: waiting in the warehouse queue, not picked yet" in alert.message
    assert overdue_alert("SO-O2") is None

    seko.control("POST", "_sim/warehouse/advance", {"orders": "all"})
    records = [(p["kind"], p["record"]) for p in seko.control("GET", "_sim/pushes")["pushes"]]
    push(client, *records)
    take_in()
    assert overdue_alert("SO-O1") is None  # closed by the dispatch itself
    assert IntegrationException.objects.get(kind=catalogue.DISPATCH_OVERDUE.code).status == "resolved"
    assert overdue.check_overdue() == 0


def test_a_next_day_service_is_overdue_sooner_than_a_standard_one(db, settings):
    settings.DISPATCH_SLA_HOURS, settings.DISPATCH_SLA_BY_SERVICE = 24, {"NEXTDAY": 12}
    CarrierMappingFactory(bc_ship_via="RMNDAY", service_level="NEXTDAY")
    CarrierMappingFactory(bc_ship_via="RM48", seko_courier_service="TPS48", service_level="STANDARD")
    now = timezone.now()
    for ord_num, via in (("SO-N1", "RMNDAY"), ("SO-N2", "RM48")):
        Order.objects.create(ord_num=ord_num, status=Order.Status.SENT, bc_status="PICKING", bc_updated_at=now,
                             location="UK3PL", ship_via=via, sent_at=now - timedelta(hours=13))
        sent_hours_ago(ord_num, 13)
    assert [o.order.ord_num for o in overdue.overdue_orders()] == ["SO-N1"]


def test_the_overdue_page_lists_overdue_orders_oldest_first_for_cx_only(db, client, settings):
    settings.DISPATCH_SLA_HOURS, settings.DISPATCH_SLA_BY_SERVICE = 24, {}
    now = timezone.now()
    for ord_num, hours in (("SO-P1", 30), ("SO-P2", 50), ("SO-P3", 1)):
        Order.objects.create(ord_num=ord_num, status=Order.Status.SENT, bc_status="PICKING", bc_updated_at=now,
                             location="UK3PL", ship_via="RMNDAY", sent_at=now - timedelta(hours=hours))
        sent_hours_ago(ord_num, hours)
    assert client.get("/overdue/").status_code == 302  # anonymous: to the login page
    client.force_login(user_in("finance", "fin"))
    assert client.get("/overdue/").status_code == 403
    client.force_login(user_in("cx", "cxer"))
    page = client.get("/overdue/").content.decode()
    assert page.index("SO-P2") < page.index("SO-P1") and "SO-P3" not in page


def test_a_flow_without_success_for_twice_its_interval_raises_stalled_and_its_next_success_clears_it(db, settings):
    settings.SYNC_INTERVAL_MINUTES = 1
    now = timezone.now()
    SyncCursor.objects.create(name="orders.released", last_run_at=now, last_success_at=now - timedelta(minutes=3),
                              last_error="Blue Cherry did not answer")
    SyncCursor.objects.create(name="items", last_run_at=now, last_success_at=now - timedelta(seconds=90))
    assert stalled.check_stalled() == 1
    alert = IntegrationException.objects.get(kind=catalogue.SYNC_STALLED.code, status="open")
    assert alert.trace_key == "flow:orders.released" and alert.owner == "integration-admin"
    assert "Blue Cherry did not answer" in alert.message
    SyncCursor.objects.filter(name="orders.released").update(last_success_at=timezone.now())
    assert stalled.check_stalled() == 0
    assert not IntegrationException.objects.filter(kind=catalogue.SYNC_STALLED.code, status="open").exists()


def test_the_dispatch_sync_counts_as_a_flow_for_the_stalled_alert(db, settings):
    settings.SYNC_INTERVAL_MINUTES = 1
    dispatches.mark_sync_success()
    assert stalled.check_stalled() == 0
    SyncCursor.objects.filter(name="dispatches.sync").update(last_success_at=timezone.now() - timedelta(minutes=5))
    assert stalled.check_stalled() == 1


def test_each_role_gets_at_most_one_digest_of_its_new_exceptions_per_interval(db, settings):
    settings.DIGEST_INTERVAL_MINUTES = 60
    user_in("ops", "o1", "o1@example.com")
    user_in("cx", "c1", "c1@example.com")
    user_in("ops", "o2")  # no address: not mailed
    queue.raise_exception(catalogue.DISPATCH_INCOMPLETE, "dispatch:DSP-1", "Dispatch DSP-1 has no tracking number")
    now = timezone.now()
    assert digest.send_digests(now) == 1
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["o1@example.com"]
    assert "DSP-1" in mail.outbox[0].body and "ops" in mail.outbox[0].subject

    queue.raise_exception(catalogue.DISPATCH_LINE_MISMATCH, "dispatch:DSP-2", "Dispatch DSP-2 ships too much")
    assert digest.send_digests(now + timedelta(minutes=30)) == 0  # within the interval: nothing
    assert digest.send_digests(now + timedelta(minutes=61)) == 1
    assert "DSP-2" in mail.outbox[1].body and "DSP-1" not in mail.outbox[1].body
    assert digest.send_digests(now + timedelta(minutes=200)) == 0  # nothing new: no empty digest
