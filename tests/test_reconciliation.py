"""The daily reconciliation end to end, over real HTTP to both simulators (flow 6 in DESIGN.md):
a clean day balances, and each difference planted through the simulators' control APIs is found,
named, raised as a recon.discrepancy on the order, and closes itself once corrected."""

# The order- and dispatch-flow tests' fixtures are imported and then taken as arguments by name.

from __future__ import annotations

from datetime import UTC, timedelta

import pytest
from django.utils import timezone

from exceptions import catalogue
from exceptions.models import IntegrationException
from integration.models import Order, OrderEvent
from reconciliation import rules
from reconciliation.models import Difference, ReconciliationDay
from reconciliation.run import run_reconciliation
from tests.factories import LineFactory
from tests.test_dispatch_flow import dispatch_at_seko, push_outbox, push_settings, sent_order, take_in  # noqa: F401
from tests.test_order_flow import world  # noqa: F401

pytestmark = pytest.mark.django_db


def today():
    return timezone.now().astimezone(UTC).date()


def reconcile(**kwargs):
    return run_reconciliation(today(), today(), trigger="test", **kwargs)


def found() -> set[tuple[str, str]]:
    return set(Difference.objects.values_list("kind", "ord_num"))


def open_discrepancy(ord_num: str) -> IntegrationException | None:
    return IntegrationException.objects.filter(kind=catalogue.RECON_DISCREPANCY.code, trace_key=f"order:{ord_num}",
                                               status="open").first()


def shipped(world, client, *ord_nums: str) -> None:
    """Orders sent, dispatched at Seko and posted to Blue Cherry as shipment and invoice."""
    bluecherry, seko = world
    for ord_num in ord_nums:
        sent_order(bluecherry, ord_num, [LineFactory(line_no=1, sku="10023-NAVY-M", qty_ordered=2),
                                         LineFactory(line_no=2, sku="10023-NAVY-S", qty_ordered=1)])
    push_outbox(client, dispatch_at_seko(seko))
    take_in()


def ship_num(bluecherry, ord_num: str) -> str:
    return bluecherry.control("GET", f"_sim/orders/{ord_num}")["shipments"][0]["ship_num"]


def test_a_clean_day_balances_with_equal_orders_units_and_value_in_every_column(world, client):
    shipped(world, client, "SO-R1", "SO-R2")
    run = reconcile()
    day = ReconciliationDay.objects.get(day=today())
    assert run.differences == 0 and day.balanced
    assert (day.sent_orders, day.dispatched_orders, day.shipped_orders, day.invoiced_orders) == (2, 2, 2, 2)
    assert day.sent_units == day.dispatched_units == day.shipped_units == day.invoiced_units == 6
    assert day.sent_value == day.dispatched_value == day.shipped_value == day.invoiced_value == 180
    assert not IntegrationException.objects.filter(kind=catalogue.RECON_DISCREPANCY.code).exists()


def test_an_invoice_raised_by_hand_is_found_as_invoiced_twice_on_the_order(world, client):
    bluecherry, _ = world
    shipped(world, client, "SO-R3")
    bluecherry.control("POST", "_sim/invoices", {"ord_num": "SO-R3"})
    reconcile()
    assert found() == {(rules.INVOICED_TWICE, "SO-R3")}
    exception = open_discrepancy("SO-R3")
    assert exception is not None and exception.owner == "finance"
    assert exception.order == Order.objects.get(ord_num="SO-R3")
    assert "invoiced 2 times" in exception.message
    assert OrderEvent.objects.filter(order__ord_num="SO-R3", note__contains="invoiced 2 times").exists()
    assert not ReconciliationDay.objects.get(day=today()).balanced


def test_a_dispatch_blue_cherry_never_got_is_found_and_closes_itself_once_posted(world, client):
    bluecherry, seko = world
    sent_order(bluecherry, "SO-R4")
    outbox = dispatch_at_seko(seko)  # the warehouse dispatched it; the push has not reached us
    reconcile(now=timezone.now() + timedelta(hours=1))  # past the time the push and the poll had to bring it
    line = Difference.objects.get()
    assert (line.kind, line.ord_num) == (rules.DISPATCHED_NOT_SHIPPED, "SO-R4")
    assert "never reached us" in line.message and line.exception == open_discrepancy("SO-R4")
    push_outbox(client, outbox)
    take_in()
    reconcile()
    assert not Difference.objects.exists() and open_discrepancy("SO-R4") is None
    assert ReconciliationDay.objects.get(day=today()).balanced


def test_a_shipped_quantity_edited_in_blue_cherry_is_a_quantity_mismatch(world, client):
    bluecherry, _ = world
    shipped(world, client, "SO-R5")
    bluecherry.control("PATCH", f"_sim/shipments/{ship_num(bluecherry, 'SO-R5')}",
                       {"lines": [{"line_no": 1, "qty_shipped": 1}]})
    reconcile()
    line = Difference.objects.get()
    assert (line.kind, line.seko_units, line.bc_units) == (rules.QUANTITY_MISMATCH, 3, 2)
    assert "10023-NAVY-M Seko 2, Blue Cherry 1" in line.message


def test_an_invoice_amount_changed_is_a_value_mismatch_that_closes_when_put_back(world, client):
    bluecherry, _ = world
    shipped(world, client, "SO-R6")
    invoice = bluecherry.control("GET", "_sim/orders/SO-R6")["invoices"][0]
    bluecherry.control("PATCH", f"_sim/invoices/{invoice['invoice_num']}", {"amount": "99.00"})
    reconcile()
    line = Difference.objects.get()
    assert (line.kind, line.seko_value, line.bc_value) == (rules.VALUE_MISMATCH, 90, 99)
    bluecherry.control("PATCH", f"_sim/invoices/{invoice['invoice_num']}", {"amount": invoice["amount"]})
    reconcile()
    assert not Difference.objects.exists() and open_discrepancy("SO-R6") is None


def test_a_shipment_keyed_in_blue_cherry_without_a_seko_dispatch_is_found(world):
    bluecherry, _ = world
    sent_order(bluecherry, "SO-R7")
    with_key = {"ord_num": "SO-R7", "wms_dispatch_id": "BY-HAND-1", "ship_date": timezone.now().isoformat(),
                "carrier": "RoyalMail", "lines": [{"line_no": 1, "qty_shipped": 2}]}
    from integration.shared.systems import bluecherry_client  # a Blue Cherry user's own shipment, not our flow
    with bluecherry_client() as bc:
        bc.create_shipment(with_key)
    reconcile()
    line = Difference.objects.get()
    assert (line.kind, line.ord_num) == (rules.SHIPPED_NOT_DISPATCHED, "SO-R7")
    assert "never posted this shipment" in line.message


def test_an_order_sent_and_neither_dispatched_nor_cancelled_past_its_sla_is_found(world):
    bluecherry, _ = world
    sent_order(bluecherry, "SO-R8")
    reconcile()
    assert not Difference.objects.exists()  # within its SLA: still on its way
    reconcile(now=timezone.now() + timedelta(hours=30))
    line = Difference.objects.get()
    assert (line.kind, line.ord_num) == (rules.NOT_DISPATCHED_PAST_SLA, "SO-R8")
    assert "To Be Picked" in line.message


def test_a_seko_without_the_per_order_look_ups_still_reconciles_and_tells_the_admins(world, client, monkeypatch):
    """No Seko page documents the status by sales-order number or the per-order dispatch fetch:
    a Seko without them answers 404, and the run must finish with what it can read, once per run,
    with the admins told (never a crash, never a quiet "not found")."""
    from integration.clients.errors import Unsupported
    from reconciliation import run as recon_run
    from tests.test_seko_documented_messages import IIS_404, in_front_of_seko

    bluecherry, _ = world
    sent_order(bluecherry, "SO-RU1")
    sent_order(bluecherry, "SO-RU2")
    monkeypatch.setattr(recon_run, "seko_client", in_front_of_seko({
        "salesorders/v4/SO-RU1/status": (404, IIS_404), "salesorders/v4/SO-RU2/status": (404, IIS_404)}))
    with pytest.raises(Unsupported):  # what the run now survives
        in_front_of_seko({"salesorders/v4/SO-RU1/status": (404, IIS_404)})().order_status("SO-RU1")
    run = reconcile(now=timezone.now() + timedelta(hours=30))
    assert run.status == "done"
    [alert] = IntegrationException.objects.filter(kind=catalogue.SYNC_ENDPOINT_UNSUPPORTED.code, status="open")
    assert alert.trace_key == "system:seko:order_status" and alert.occurrences == 1
    assert alert.owner == "integration-admin"
