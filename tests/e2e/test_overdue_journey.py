"""A CX lead finds an order overdue at the warehouse on the overdue page and opens its timeline."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from integration.models import Order, OrderEvent


def test_cx_finds_an_overdue_order_on_the_overdue_page_and_opens_its_timeline(login_as, settings):
    settings.DISPATCH_SLA_HOURS, settings.DISPATCH_SLA_BY_SERVICE = 24, {}
    now = timezone.now()
    late = Order.objects.create(ord_num="SO-LATE-1", status=Order.Status.SENT, bc_status="PICKING", bc_updated_at=now,
                                location="UK3PL", ship_via="RMNDAY", customer="C1001",
                                sent_at=now - timedelta(hours=30))
    OrderEvent.objects.create(order=late, from_status="sending", to_status="sent", note="Accepted by Seko; GUID g-1")
    Order.objects.create(ord_num="SO-ONTIME-1", status=Order.Status.SENT, bc_status="PICKING", bc_updated_at=now,
                         location="UK3PL", ship_via="RMNDAY", sent_at=now - timedelta(hours=1))

    cx = login_as("cx")
    cx.get_by_role("link", name="Overdue").click()
    cx.wait_for_url("**/overdue/")
    row = cx.locator("tr[data-order='SO-LATE-1']")
    assert "30.0" in row.inner_text()
    assert cx.locator("tr[data-order='SO-ONTIME-1']").count() == 0
    row.get_by_role("link", name="SO-LATE-1").click()
    cx.wait_for_url("**/SO-LATE-1**")
    assert "Accepted by Seko; GUID g-1" in cx.content()
