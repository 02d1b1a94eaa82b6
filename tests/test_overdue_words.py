"""What CX reads about an overdue order: durations in words, the promised dispatch time, how late,
Seko's status in plain words, carrier and tracking when known; the exception says the same."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.template import Context, Template
from django.utils import timezone

from exceptions import catalogue
from exceptions.models import IntegrationException
from integration.dispatches import overdue, overdue_words
from integration.models import Dispatch, Order
from tests.factories import CarrierMappingFactory


@pytest.mark.parametrize(("span", "words"), [
    (timedelta(seconds=45), "45 s"),
    (timedelta(minutes=12, seconds=59), "12 min"),
    (timedelta(hours=3, minutes=20), "3 h 20 min"),
    (timedelta(hours=3), "3 h"),
    (timedelta(days=1, hours=4, minutes=10), "1 day 4 h"),
    (timedelta(days=2), "2 days"),
    (timedelta(days=5, hours=7), "5 days"),
    (timedelta(seconds=-5), "0 s"),
])
def test_the_duration_filter_reads_as_a_person_says_it(span, words):
    assert Template("{% load dashboard %}{{ span|duration }}").render(Context({"span": span})) == words


def test_an_sla_in_hours_reads_in_the_same_words():
    rendered = Template("{% load dashboard %}{{ a|hours }}/{{ b|hours }}/{{ c|hours }}").render(
        Context({"a": 0.1, "b": 24, "c": 36}))
    assert rendered == "6 min/1 day/1 day 12 h"


@pytest.mark.parametrize(("status", "words"), [
    ("To Be Picked", "To Be Picked: waiting in the warehouse queue, not picked yet"),
    ("Being Picked", "Being Picked: being picked in the warehouse now"),
    ("Pick Complete", "Pick Complete: picked, waiting to be packed"),
    ("To Dispatch", "To Dispatch: packed, waiting for the carrier to collect it"),
    ("", "not checked with Seko yet"),
    ("Something New", "Something New"),
])
def test_seko_statuses_are_told_in_plain_words(status, words):
    assert overdue_words.seko_status_in_words(status) == words


def late_order(ord_num: str, hours_ago: float, via: str = "RMNDAY") -> Order:
    now = timezone.now()
    order = Order.objects.create(ord_num=ord_num, status=Order.Status.SENT, bc_status="PICKING", bc_updated_at=now,
                                 location="UK3PL", ship_via=via, customer="C1001",
                                 sent_at=now - timedelta(hours=hours_ago))
    # The overdue clock runs from the release (when the order was first seen released).
    Order.objects.filter(pk=order.pk).update(created_at=order.sent_at)
    order.refresh_from_db()
    return order


@pytest.mark.django_db
def test_the_overdue_row_says_when_it_was_promised_how_late_where_seko_has_it_and_the_carrier(client, settings):
    settings.DISPATCH_SLA_HOURS, settings.DISPATCH_SLA_BY_SERVICE = 24, {}
    CarrierMappingFactory(bc_ship_via="RMNDAY", seko_courier_name="Royal Mail", seko_courier_service="RMNDAY",
                          seko_service_description="Next Day")
    order = late_order("SO-W1", 27.34)
    item = overdue.overdue_orders()[0]
    assert abs(item.promised_by - (order.created_at + timedelta(hours=24))) < timedelta(seconds=1)
    overdue._raise_overdue(item, "To Be Picked")
    alert = IntegrationException.objects.get(kind=catalogue.DISPATCH_OVERDUE.code, status="open")
    assert "is 3 h 20 min late" in alert.message
    assert "At Seko: To Be Picked: waiting in the warehouse queue, not picked yet" in alert.message
    assert "Carrier: Royal Mail Next Day; tracking: none yet" in alert.message
    assert "0 h" not in alert.message and "RMNDAY allows 1 day" in alert.message

    cx = User.objects.create_user("cxer", password="pw")
    cx.groups.add(Group.objects.get_or_create(name="cx")[0])
    client.force_login(cx)
    page = client.get("/overdue/").content.decode()
    assert "3 h 20 min" in page and "waiting in the warehouse queue, not picked yet" in page
    assert "Royal Mail Next Day" in page and "none yet" in page
    assert f"{item.promised_by:%H:%M}" in page


@pytest.mark.django_db
def test_a_dispatch_waiting_to_be_posted_gives_the_carrier_and_tracking_seko_sent(settings):
    CarrierMappingFactory(bc_ship_via="RMNDAY", seko_courier_name="Royal Mail", seko_courier_service="RMNDAY")
    order = late_order("SO-W2", 30)
    Dispatch.objects.create(dispatch_id="DSP-W2", order=order, ord_num=order.ord_num,
                            status=Dispatch.Status.QUARANTINED,
                            confirmation={"CourierName": "DPD", "CourierService": "Next Day"},
                            overrides={"TrackingNumber": "TRK-123"})
    expected = overdue_words.Shipping(carrier="DPD Next Day", tracking="TRK-123")
    assert overdue_words.shipping_of([order])["SO-W2"] == expected


@pytest.mark.django_db
def test_the_overdue_exception_is_raised_by_the_monitor_with_the_same_words(settings):
    settings.DISPATCH_SLA_HOURS, settings.DISPATCH_SLA_BY_SERVICE = 0.1, {}
    late_order("SO-W3", 0.2)
    queue_open = IntegrationException.objects.filter(kind=catalogue.DISPATCH_OVERDUE.code, status="open")
    overdue._raise_overdue(overdue.overdue_orders()[0], "Being Picked")
    message = queue_open.get().message
    assert "6 min late" in message and "RMNDAY allows 6 min" in message
    assert "being picked in the warehouse now" in message
