"""Smaller things a new user tripped over: the Stock page says committed units are taken off; the
timeline shows received -> sending; the order header says what Blue Cherry holds now; one
"held" filter covers every held status; a 403 is one log line, not a traceback."""

from __future__ import annotations

import logging

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone

from integration.models import Dispatch, Order, OrderEvent
from integration.orders import flow as order_flow

pytestmark = pytest.mark.django_db


def signed_in(client, group: str) -> User:
    user = User.objects.create_user(f"{group}-person", password="pw")
    user.groups.add(Group.objects.get_or_create(name=group)[0])
    client.force_login(user)
    return user


def order(ord_num: str, status: str, **fields) -> Order:
    return Order.objects.create(ord_num=ord_num, status=status, bc_status="RELEASED", bc_updated_at=timezone.now(),
                                location="UK3PL", ship_via="RMNDAY", **fields)


def test_the_held_filter_lists_quarantined_and_rejected_orders_and_the_overview_links_to_it(client):
    signed_in(client, "ops")
    order("SO-H1", Order.Status.QUARANTINED)
    order("SO-H2", Order.Status.REJECTED)
    order("SO-H3", Order.Status.SENT, sent_at=timezone.now())
    page = client.get("/orders/?status=held").content.decode()
    assert "SO-H1" in page and "SO-H2" in page and "SO-H3" not in page
    overview = client.get("/").content.decode()
    assert "/orders/?status=held" in overview and "?status=quarantined\"><span class=\"n\">" not in overview


def test_claiming_an_order_puts_received_to_sending_on_its_timeline(client):
    waiting = order("SO-T1", Order.Status.RECEIVED)
    assert [o.ord_num for o in order_flow.claim_due_orders(10)] == ["SO-T1"]
    step = OrderEvent.objects.get(order=waiting)
    assert (step.from_status, step.to_status) == ("received", "sending")
    signed_in(client, "ops")
    assert "received → sending" in client.get("/orders/SO-T1/").content.decode()


def test_the_order_header_says_what_blue_cherry_holds_after_the_pick_ticket_and_the_shipment(client):
    signed_in(client, "cx")
    now = timezone.now()
    sent = order("SO-B1", Order.Status.SENT, sent_at=now, pick_ticket_at=now)
    header = client.get("/orders/SO-B1/").content.decode()
    assert "Blue Cherry: PICKING" in header and "Blue Cherry: RELEASED" not in header
    Dispatch.objects.create(dispatch_id="DSP-B1", order=sent, ord_num=sent.ord_num, status=Dispatch.Status.POSTED,
                            confirmation={}, bc_ship_num="SH-9", posted_at=now)
    Order.objects.filter(pk=sent.pk).update(status=Order.Status.DISPATCHED, dispatched_at=now)
    header = client.get("/orders/SO-B1/").content.decode()
    assert "Blue Cherry: INVOICED" in header and "shipment SH-9 posted" in header
    order("SO-B2", Order.Status.QUARANTINED)
    assert "Blue Cherry: RELEASED" in client.get("/orders/SO-B2/").content.decode()


def test_the_stock_page_says_committed_units_are_taken_off_as_well_as_the_buffer(client):
    signed_in(client, "ops")
    page = client.get("/stock/").content.decode()
    minus = "\N{MINUS SIGN}"  # as the page writes it
    assert f"max(0, free {minus} committed {minus} buffer)" in page and f"max(0, free {minus} buffer)" not in page


def test_a_refused_request_is_logged_as_one_line_without_a_traceback(client, caplog):
    signed_in(client, "finance")
    with caplog.at_level(logging.WARNING, logger="django.request"):
        assert client.get("/overdue/").status_code == 403
    [record] = [r for r in caplog.records if r.name == "django.request"]
    assert record.exc_info is None and record.exc_text is None
    line = record.getMessage()
    assert "/overdue/" in line and "finance-person" in line and "may not view overdue" in line
    # Other loggers (django-axes notes every sign-in) may write their own lines meanwhile: the
    # 403's own log entry is the one that must be a single line.
    assert "\n" not in caplog.handler.format(record).strip()
