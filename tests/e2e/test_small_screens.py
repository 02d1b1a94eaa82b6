"""CX leads check on their phones: at 390 px the navigation opens from a menu button, and the
overview, the exception queue, the overdue page and an order page are never wider than the
screen. At laptop width an admin sees every link, Help and Admin included, beside the user label.

Screenshots at 390 px: overview-390.png, queue-390.png, overdue-390.png (see the ``screenshot``
fixture for where they go).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from playwright.sync_api import Page, expect

from exceptions import catalogue
from exceptions import services as queue
from integration.models import CarrierMapping, Order, OrderEvent, SyncCursor

pytestmark = pytest.mark.django_db(transaction=True)
PHONE = {"width": 390, "height": 844}


def a_working_day() -> None:
    """Overdue orders, open exceptions with long messages and order numbers, flows that ran."""
    now = timezone.now()
    CarrierMapping.objects.create(bc_ship_via="RMNDAY", seko_courier_name="Royal Mail", seko_courier_service="TPN24",
                                  seko_service_description="Next Day", service_level="NEXTDAY")
    for n, hours in enumerate((30, 27.5, 50)):
        order = Order.objects.create(ord_num=f"SO-LATE-{n}", status=Order.Status.SENT, bc_status="PICKING",
                                     bc_updated_at=now, location="UK3PL", ship_via="RMNDAY", customer=f"C10{n}",
                                     sent_at=now - timedelta(hours=hours), seko_dc_code="DCCL01")
        Order.objects.filter(pk=order.pk).update(created_at=order.sent_at)  # the overdue clock: from release
        OrderEvent.objects.create(order=order, from_status="sending", to_status="sent", note="Accepted by Seko")
        queue.raise_exception(
            catalogue.DISPATCH_OVERDUE, catalogue.order_key(order.ord_num),
            f"Order {order.ord_num} was promised to leave the warehouse yesterday and is late. At Seko: To Be "
            "Picked: waiting in the warehouse queue, not picked yet.", order=order,
            problems=[{"kind": catalogue.DISPATCH_OVERDUE.code, "message": "late", "value": "To Be Picked"}])
    held = Order.objects.create(ord_num="SO-HELD-000123456", status=Order.Status.QUARANTINED, bc_status="RELEASED",
                                bc_updated_at=now, location="UK3PL", ship_via="DPDNXT", customer="C2001")
    queue.raise_exception(catalogue.MAPPING_CARRIER_UNKNOWN, "order:SO-HELD-000123456",
                          "Blue Cherry ship-via 'DPDNXT' has no active carrier mapping: add one under Mappings → "
                          "Carriers and the order is sent by itself.", order=held)
    queue.raise_exception(catalogue.TRANSPORT_BLUECHERRY_UNAVAILABLE, "system:bluecherry",
                          "Blue Cherry did not take pick tickets (last: 503 Service Unavailable). They are retried.")
    for name in ("items", "orders.released", "orders.cancelled", "dispatches.sync", "stock.snapshot"):
        SyncCursor.objects.create(name=name, last_run_at=now, last_success_at=now)


def page_width(page: Page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def open_menu_and_go(page: Page, link: str) -> None:
    nav = page.locator("nav.mainnav")
    expect(nav).to_be_hidden()  # folded away on a phone
    page.get_by_text("Menu", exact=True).click()
    expect(nav).to_be_visible()
    nav.get_by_role("link", name=link).click()


def test_cx_on_a_phone_opens_the_menu_and_every_page_fits_the_screen(login_as, screenshot, settings):
    settings.DISPATCH_SLA_HOURS, settings.DISPATCH_SLA_BY_SERVICE = 24, {}
    a_working_day()
    cx = login_as("cx")
    cx.set_viewport_size(PHONE)
    cx.reload()
    expect(cx.locator(".counters")).to_be_visible()
    assert page_width(cx) <= PHONE["width"]
    screenshot(cx, "overview-390", full_page=True)

    open_menu_and_go(cx, "Overdue")
    cx.wait_for_url("**/overdue/")
    row = cx.locator("tr[data-order='SO-LATE-0']")
    expect(row).to_contain_text("waiting in the warehouse queue, not picked yet")
    expect(row.locator(".carrier")).to_contain_text("Royal Mail Next Day")
    assert page_width(cx) <= PHONE["width"]
    screenshot(cx, "overdue-390", full_page=True)

    open_menu_and_go(cx, "Exceptions")
    cx.wait_for_url("**/exceptions/**")
    expect(cx.get_by_text("SO-HELD-000123456")).to_be_visible()
    assert page_width(cx) <= PHONE["width"]
    screenshot(cx, "queue-390", full_page=True)

    cx.goto("/orders/SO-LATE-0/")
    expect(cx.get_by_text("Accepted by Seko")).to_be_visible()
    assert page_width(cx) <= PHONE["width"]


@pytest.mark.parametrize("width", [1280, 1366, 1440])
def test_an_admin_at_laptop_width_sees_help_and_admin_beside_the_user_label(login_as, width):
    admin = login_as("integration-admin")
    User.objects.filter(username="integration-admin-user").update(is_staff=True)
    admin.set_viewport_size({"width": width, "height": 900})
    admin.reload()
    who = admin.locator(".who").bounding_box()
    for name in ("Help", "Admin"):
        link = admin.locator("nav.mainnav").get_by_role("link", name=name, exact=True)
        expect(link).to_be_visible()
        box = link.bounding_box()
        assert box["x"] + box["width"] <= who["x"], f"{name} is hidden behind the user label at {width} px"
        assert box["x"] + box["width"] <= width
    assert page_width(admin) <= width
