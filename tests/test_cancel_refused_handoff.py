"""A cancel Seko refused hands over cleanly: the order is marked "cancel refused: will ship", it
raises no overdue alert, and when it ships its shipment is posted against the order cancelled
in Blue Cherry (the contract's ``cancel_refused`` flag) and invoiced, so a return can follow,
instead of a refusal for ops."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from exceptions import catalogue
from exceptions.models import IntegrationException
from integration.dispatches import overdue
from integration.models import Dispatch, Order
from tests.test_dispatch_flow import bc_order, dispatch_at_seko, push, push_settings, sent_order, take_in  # noqa: F401
from tests.test_order_flow import run_flow, world  # noqa: F401  (world is a fixture)

pytestmark = pytest.mark.django_db


def open_kinds(ord_num: str) -> set[str]:
    return set(IntegrationException.objects.filter(order__ord_num=ord_num, status="open").values_list("kind",
                                                                                                       flat=True))


def test_a_refused_cancel_ships_is_posted_against_the_cancelled_order_and_raises_nothing_more(world, settings):
    bluecherry, seko = world
    settings.DISPATCH_SLA_HOURS, settings.DISPATCH_SLA_BY_SERVICE = 24, {}
    order = sent_order(bluecherry, "SO-H1")
    Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(hours=30))
    overdue.check_overdue()
    assert catalogue.DISPATCH_OVERDUE.code in open_kinds("SO-H1")

    seko.control("POST", "_sim/orders/SO-H1/status", {"Status": "Pick Complete"})
    bluecherry.control("POST", "_sim/orders/SO-H1/cancel")
    run_flow()
    order.refresh_from_db()
    assert order.status == Order.Status.CANCEL_REFUSED
    assert order.get_status_display() == "Cancel refused: will ship"
    assert open_kinds("SO-H1") == {catalogue.ORDER_CANCEL_REFUSED.code}  # the overdue alert closed
    assert "It will ship" in IntegrationException.objects.get(kind=catalogue.ORDER_CANCEL_REFUSED.code).message
    assert overdue.check_overdue() == 0 and catalogue.DISPATCH_OVERDUE.code not in open_kinds("SO-H1")

    seko.control("POST", "_sim/orders/SO-H1/status", {"Status": "To Dispatch"})
    push(Client(), *[(p["kind"], p["record"]) for p in dispatch_at_seko(seko)])
    take_in()
    dispatch = Dispatch.objects.get(order=order)
    assert dispatch.status == Dispatch.Status.POSTED and dispatch.shipment["cancel_refused"] is True
    assert dispatch.bc_invoice_num
    in_bc = bc_order(bluecherry, "SO-H1")
    assert in_bc["status"] == "INVOICED" and len(in_bc["shipments"]) == 1 and len(in_bc["invoices"]) == 1
    order.refresh_from_db()
    assert order.status == Order.Status.DISPATCHED
    assert catalogue.DISPATCH_REJECTED.code not in open_kinds("SO-H1")
    assert "a return can be raised" in order.events.last().note


def test_blue_cherry_still_refuses_a_shipment_against_a_cancelled_order_without_the_flag(bluecherry):
    from integration.clients.errors import Rejected
    from integration.shared.systems import bluecherry_client
    from tests.factories import BlueCherryOrderFactory, LineFactory

    bluecherry.control("POST", "_sim/orders", [BlueCherryOrderFactory(ord_num="SO-H2", lines=[
        LineFactory(line_no=1, sku="10023-NAVY-M", qty_ordered=2)])])
    bluecherry.control("POST", "_sim/orders/SO-H2/cancel")
    body = {"ord_num": "SO-H2", "wms_dispatch_id": "DSP-H2", "ship_date": "2026-11-27T16:40:00Z",
            "carrier": "RoyalMail", "lines": [{"line_no": 1, "sku": "10023-NAVY-M", "qty_shipped": 2}],
            "cancel_remainder": True}
    with bluecherry_client() as bc:
        with pytest.raises(Rejected) as refused:
            bc.create_shipment(body)
        assert "cancel_refused" in refused.value.remote_message
        with pytest.raises(Rejected):
            bc.create_shipment({**body, "cancel_refused": "yes"})
        assert bc.create_shipment({**body, "cancel_refused": True})["order_status"] == "INVOICED"

