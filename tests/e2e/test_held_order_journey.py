"""Ops tries to close the last exception of an order that is still held, in the queue, and is
stopped with a choice; choosing to withdraw the order (with a reason) withdraws it and closes the
exception. On the way, Enter in the bulk bar's note runs nothing."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from exceptions import catalogue
from exceptions.models import IntegrationException
from integration.models import Order
from tests.factories import BlueCherryOrderFactory, ShipToFactory
from tests.test_order_flow import release, run_flow, world  # noqa: F401  (world is a fixture)

pytestmark = pytest.mark.django_db(transaction=True)


def test_ops_is_stopped_from_hiding_a_held_order_and_withdraws_it_with_a_reason(world, login_as):
    bluecherry, _seko = world
    release(bluecherry, BlueCherryOrderFactory(ord_num="SO-HELD-1", ship_to=ShipToFactory(city="")))
    run_flow()
    assert Order.objects.get(ord_num="SO-HELD-1").status == Order.Status.QUARANTINED
    exc = IntegrationException.objects.get(kind=catalogue.ORDER_ADDRESS_INCOMPLETE.code, status="open")

    ops = login_as("ops")
    ops.goto("/exceptions/")
    expect(ops.locator("nav.tabs")).to_contain_text("Open 1")

    # Enter in the bulk bar's note field runs no action the person did not press.
    ops.get_by_label(f"Select #{exc.pk}").check()
    note_field = ops.get_by_label("Resolution note")
    note_field.fill("typed, then Enter")
    note_field.press("Enter")
    ops.wait_for_timeout(500)
    expect(note_field).to_have_value("typed, then Enter")
    assert ops.url.endswith("/exceptions/")
    exc.refresh_from_db()
    assert exc.status == "open" and not exc.events.exclude(action="raised").exists()

    ops.locator("tbody").get_by_role("link", name=str(exc.pk), exact=True).click()
    ops.wait_for_url(f"**/exceptions/{exc.pk}/")
    ops.get_by_label("Resolve with a note").fill("Customer asked us to hold it; the address is unknown")
    ops.get_by_role("button", name="Resolve", exact=True).click()

    # Stopped: the page says why in plain words, keeps the note, and offers the choice.
    expect(ops.locator(".flash.error")).to_contain_text("last open one about order SO-HELD-1")
    expect(ops.locator(".flash.error")).to_contain_text("still quarantined")
    expect(ops.get_by_label("Resolve with a note")).to_have_value(
        "Customer asked us to hold it; the address is unknown")
    choice = ops.get_by_label("Withdraw the order from fulfilment", exact=False)
    expect(choice).to_be_visible()
    assert exc.__class__.objects.get(pk=exc.pk).status == "open"
    assert Order.objects.get(ord_num="SO-HELD-1").status == Order.Status.QUARANTINED

    choice.check()
    ops.get_by_role("button", name="Withdraw the order and resolve").click()
    ops.wait_for_url(f"**/exceptions/{exc.pk}/")
    expect(ops.locator(".flash.success")).to_contain_text("withdrawn from fulfilment")
    expect(ops.locator(".pagehead")).to_contain_text("Resolved")
    order = Order.objects.get(ord_num="SO-HELD-1")
    assert order.status == Order.Status.WITHDRAWN
    assert (order.withdrawn_by, order.withdrawn_reason) == (
        "ops-user", "Customer asked us to hold it; the address is unknown")

    # The order's page says what became of it, and the queue is empty (nothing hidden: it is closed).
    ops.goto("/orders/SO-HELD-1/")
    expect(ops.locator("body")).to_contain_text("Withdrawn from fulfilment by a person")
    expect(ops.locator("body")).to_contain_text("Customer asked us to hold it")
    ops.goto("/exceptions/")
    expect(ops.locator("nav.tabs")).to_contain_text("Open 0")
    expect(ops.locator("nav.tabs")).to_contain_text("Resolved 1")
