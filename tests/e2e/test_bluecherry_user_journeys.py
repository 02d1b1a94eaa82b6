"""The loops that end in Blue Cherry, walked in a browser to their end with a person playing the
Blue Cherry user on the Blue Cherry simulator's own page (/user/ on its port; the product links
there only because BLUECHERRY_USER_PAGE_URL names it, as the demo does):

- ops finds an order held for an incomplete address, fixes the address as the Blue Cherry user,
  and the order goes to Seko by itself while its exception closes;
- data finds an invalid item, opens the item with its problems, fixes it as the Blue Cherry user,
  and the item goes LIVE and the order it held goes to Seko.

The workers' part (the pulls and sends) is run directly, as the other browser tests do."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from exceptions import catalogue
from exceptions.models import IntegrationException
from integration.models import Item, Order
from tests.factories import BlueCherryItemFactory, BlueCherryOrderFactory, LineFactory, ShipToFactory, valid_upc
from tests.test_order_flow import release, run_flow, world  # noqa: F401  (world is a fixture)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def user_page(world, settings) -> str:
    bluecherry, _ = world
    settings.BLUECHERRY_USER_PAGE_URL = f"http://127.0.0.1:{bluecherry.port}/user/"
    return settings.BLUECHERRY_USER_PAGE_URL


def open_as_bluecherry_user(page: Page, link_text: str, api_key: str) -> Page:
    """Follow the product's link to the simulator (it opens in a new tab) and sign in there."""
    with page.context.expect_page() as opened:
        page.get_by_role("link", name=link_text).click()
    sim = opened.value
    sim.wait_for_load_state()
    expect(sim.locator("header")).to_contain_text("Blue Cherry SIMULATOR")
    sim.fill("input[name=key]", api_key)
    sim.get_by_role("button", name="Open").click()
    return sim


def test_ops_has_the_address_fixed_as_the_blue_cherry_user_and_the_order_goes_by_itself(world, user_page, login_as,
                                                                                      screenshot):
    bluecherry, _ = world
    release(bluecherry, BlueCherryOrderFactory(ord_num="SO-ADDR-1", ship_to=ShipToFactory(address1="", city="")))
    run_flow()
    assert Order.objects.get(ord_num="SO-ADDR-1").status == Order.Status.QUARANTINED
    exception = IntegrationException.objects.get(kind=catalogue.ORDER_ADDRESS_INCOMPLETE.code, status="open")

    ops = login_as("ops")
    ops.goto(f"/exceptions/{exception.pk}/")
    sim = open_as_bluecherry_user(ops, "Edit the order in Blue Cherry (simulator)", bluecherry.api_key)
    expect(sim.locator("h1")).to_contain_text("SO-ADDR-1")
    sim.fill("input[name='ship_to.address1']", "23 Victoria Street")
    sim.fill("input[name='ship_to.city']", "Windsor")
    screenshot(sim, "bluecherry-user-order")
    sim.get_by_role("button", name="Save the order").click()
    expect(sim.locator(".notice")).to_contain_text("SO-ADDR-1 saved")
    assert bluecherry.control("GET", "_sim/orders/SO-ADDR-1")["ship_to"]["city"] == "Windsor"

    run_flow()  # the workers: the edit is pulled, the order checked again and sent

    ops.reload()
    expect(ops.locator(".pill").first).to_have_text("Resolved")
    ops.goto("/orders/SO-ADDR-1/")
    expect(ops.locator(".pill.st-sent")).to_be_visible()
    assert Order.objects.get(ord_num="SO-ADDR-1").status == Order.Status.SENT


def test_data_fixes_an_invalid_item_as_the_blue_cherry_user_and_it_goes_live_and_its_order_goes(
        world, user_page, login_as, screenshot):
    bluecherry, seko = world
    bluecherry.control("POST", "_sim/items", [BlueCherryItemFactory(
        sku="20001-RED-M", upc="5056000000010", hs_number="", status="PENDING_WMS")])
    seko.control("POST", "_sim/stock", [{"ProductCode": "20001-RED-M", "DCCode": "DCCL01", "Quantity": 5}])
    release(bluecherry, BlueCherryOrderFactory(ord_num="SO-ITEM-1", lines=[LineFactory(line_no=1, sku="20001-RED-M")]))
    run_flow()
    assert Order.objects.get(ord_num="SO-ITEM-1").status == Order.Status.QUARANTINED
    invalid = IntegrationException.objects.get(kind=catalogue.ITEM_INVALID.code, status="open")

    data = login_as("data")
    data.goto(f"/exceptions/{invalid.pk}/")
    expect(data.get_by_role("button", name="Retry now")).to_have_count(0)
    data.get_by_role("link", name="20001-RED-M").click()
    data.wait_for_url("**/items/20001-RED-M/**")
    expect(data.locator("#problems")).to_contain_text("HS code")
    expect(data.locator("#held-orders")).to_contain_text("SO-ITEM-1")
    sim = open_as_bluecherry_user(data, "Fix it in Blue Cherry (the demo's simulator)", bluecherry.api_key)
    expect(sim.locator("h1")).to_contain_text("20001-RED-M")
    sim.fill("input[name=upc]", valid_upc(2001))
    sim.fill("input[name=hs_number]", "6109100010")
    screenshot(sim, "bluecherry-user-item")
    sim.get_by_role("button", name="Save the item").click()
    expect(sim.locator(".notice")).to_contain_text("20001-RED-M saved")

    run_flow()  # the workers: the item is pulled, sent to Seko, set LIVE; the held order goes

    assert bluecherry.control("GET", "items/20001-RED-M")["status"] == "LIVE"
    assert Item.objects.get(sku="20001-RED-M").sync_status == Item.SyncStatus.LIVE
    data.reload()
    expect(data.locator("#problems")).to_contain_text("None")
    data.locator("#held-orders").get_by_text("None held for it.").wait_for()
    data.goto(f"/exceptions/{invalid.pk}/")
    expect(data.locator(".pill").first).to_have_text("Resolved")
    assert Order.objects.get(ord_num="SO-ITEM-1").status == Order.Status.SENT
    data.goto("/orders/SO-ITEM-1/")  # data still opens the order its SKU held
    expect(data.locator(".pill.st-sent")).to_be_visible()


def test_the_blue_cherry_user_page_refuses_a_wrong_key_and_keeps_an_order_edit_it_cannot_save(world, browser):
    bluecherry, _ = world
    release(bluecherry, BlueCherryOrderFactory(ord_num="SO-SIM-1"))
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        sim = context.new_page()
        sim.goto(f"http://127.0.0.1:{bluecherry.port}/user/orders/SO-SIM-1")
        sim.fill("input[name=key]", "not-the-key")
        sim.get_by_role("button", name="Open").click()
        expect(sim.locator(".errors")).to_contain_text("not this simulator's API key")
        sim.fill("input[name=key]", bluecherry.api_key)
        sim.get_by_role("button", name="Open").click()
        sim.fill("input[aria-label='Quantity of line 1']", "two")
        sim.get_by_role("button", name="Save the order").click()
        expect(sim.locator(".errors")).to_contain_text("whole number")
        expect(sim.locator("input[aria-label='Quantity of line 1']")).to_have_value("two")
        sim.once("dialog", lambda dialog: dialog.accept())
        sim.get_by_role("button", name="Cancel the order").click()
        expect(sim.locator(".notice")).to_contain_text("SO-SIM-1 is cancelled")
        assert bluecherry.control("GET", "_sim/orders/SO-SIM-1")["status"] == "CANCELLED"
    finally:
        context.close()
