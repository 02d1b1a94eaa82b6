"""A CX lead finds an order overdue at the warehouse, reads what to tell the customer (when it
was promised to leave, how late it is, where Seko has it in plain words, the carrier), opens its
timeline, and sees it clear by itself when Seko's dispatch arrives."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from playwright.sync_api import expect

from exceptions import catalogue
from exceptions.models import IntegrationException
from integration.dispatches import overdue
from integration.models import Order
from tests.factories import BlueCherryOrderFactory
from tests.test_dispatch_flow import push, push_settings, take_in  # noqa: F401  (push_settings: autouse fixture)
from tests.test_order_flow import release, run_flow, world  # noqa: F401  (world is a fixture)

pytestmark = pytest.mark.django_db(transaction=True)


def sent_hours_ago(ord_num: str, hours: float) -> None:
    """Released (first seen) and sent that long ago: the overdue clock runs from the release."""
    then = timezone.now() - timedelta(hours=hours)
    Order.objects.filter(ord_num=ord_num).update(sent_at=then, created_at=then)


def test_cx_reads_what_to_tell_the_customer_about_an_overdue_order_and_sees_it_clear_on_dispatch(
        world, login_as, settings):
    bluecherry, seko = world
    settings.DISPATCH_SLA_HOURS, settings.DISPATCH_SLA_BY_SERVICE = 24, {}
    release(bluecherry, BlueCherryOrderFactory(ord_num="SO-LATE-1", customer="C1001"),
            BlueCherryOrderFactory(ord_num="SO-ONTIME-1"))
    run_flow()
    sent_hours_ago("SO-LATE-1", 30)
    sent_hours_ago("SO-ONTIME-1", 1)
    assert overdue.check_overdue() == 1  # the monitor asks Seko where the order is

    cx = login_as("cx")
    cx.locator("nav.mainnav").get_by_role("link", name="Overdue", exact=True).click()
    cx.wait_for_url("**/overdue/")
    row = cx.locator("tr[data-order='SO-LATE-1']")
    expect(row.locator(".late-by")).to_have_text("6 h")
    expect(row.locator(".stage")).to_have_text("At Seko: To Be Picked: waiting in the warehouse queue, not picked yet")
    expect(row.locator(".carrier")).to_have_text("RoyalMail TPN24")
    expect(row.locator(".tracking")).to_have_text("none yet")
    promised = Order.objects.get(ord_num="SO-LATE-1").created_at + timedelta(hours=24)
    expect(row.locator(".promised")).to_contain_text(f"{promised:%H:%M}")
    expect(row).not_to_contain_text("0 h")
    assert cx.locator("tr[data-order='SO-ONTIME-1']").count() == 0

    row.get_by_role("link", name="SO-LATE-1").click()
    cx.wait_for_url("**/SO-LATE-1/")
    expect(cx.locator(".card.attention")).to_contain_text(
        "At Seko: To Be Picked: waiting in the warehouse queue, not picked yet")
    expect(cx.locator(".card.attention")).to_contain_text("is 6 h late")
    expect(cx.locator(".bc-status")).to_have_text("Blue Cherry: PICKING")

    # The warehouse ships it: Seko pushes the dispatch, the integration takes it in.
    seko.control("POST", "_sim/warehouse/advance", {"orders": "all"})
    push(Client(), *[(p["kind"], p["record"]) for p in seko.control("GET", "_sim/pushes")["pushes"]])
    take_in()

    cx.goto("/overdue/")
    expect(cx.locator("tr[data-order='SO-LATE-1']")).to_have_count(0)
    expect(cx.get_by_text("Nothing is overdue")).to_be_visible()
    cx.goto("/orders/SO-LATE-1/")
    expect(cx.locator(".pill.st-dispatched")).to_be_visible()
    expect(cx.locator(".card.attention")).to_have_count(0)  # the overdue exception closed itself
    assert IntegrationException.objects.get(kind=catalogue.DISPATCH_OVERDUE.code).status == "resolved"
