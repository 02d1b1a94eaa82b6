"""The data team reaches its own work: whoever owns an exception kind may open what it links to
(the order an ``order.sku_not_live`` holds, the item of an ``item.invalid``) and nothing more;
SKUs link to an item page that lists the item's problems; in the demo only, pages link to the Blue
Cherry simulator's page where a person plays the Blue Cherry user."""

from __future__ import annotations

import pytest

from exceptions import catalogue
from exceptions.models import IntegrationException
from integration.items import flow as items
from integration.models import Order
from tests.factories import BlueCherryItemFactory, BlueCherryOrderFactory, LineFactory, ShipToFactory
from tests.helpers import signed_in
from tests.test_order_flow import release, run_flow, world  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def held_for_a_draft_sku(world):
    """SO-D1 holds for 10023-NAVY-XL (a DRAFT: not LIVE); SO-D2 holds only for its address."""
    bluecherry, _ = world
    release(bluecherry, BlueCherryOrderFactory(ord_num="SO-D1", lines=[LineFactory(line_no=1, sku="10023-NAVY-XL")]),
            BlueCherryOrderFactory(ord_num="SO-D2", ship_to=ShipToFactory(address1="", city="")))
    run_flow()
    assert Order.objects.get(ord_num="SO-D1").status == Order.Status.QUARANTINED
    return IntegrationException.objects.get(kind=catalogue.ORDER_SKU_NOT_LIVE.code, order__ord_num="SO-D1")


def test_data_opens_the_order_its_sku_not_live_holds_and_the_sku_links_to_the_item(held_for_a_draft_sku):
    data = signed_in("data")
    page = data.get(f"/exceptions/{held_for_a_draft_sku.pk}/").content.decode()
    assert 'href="/orders/SO-D1/"' in page
    assert 'href="/items/10023-NAVY-XL/#problems"' in page
    order_page = data.get("/orders/SO-D1/")
    assert order_page.status_code == 200
    assert 'href="/items/10023-NAVY-XL/"' in order_page.content.decode()


def test_data_may_not_open_an_order_none_of_its_exceptions_is_about(held_for_a_draft_sku):
    data = signed_in("data")
    assert data.get("/orders/SO-D2/").status_code == 403  # held for its address: ops' work
    assert data.get("/orders/").status_code == 403  # nor the list of every order
    assert data.get("/orders/SO-NOPE/").status_code == 403


def test_a_group_that_owns_nothing_about_an_item_and_may_not_view_items_is_refused_its_page(held_for_a_draft_sku):
    assert signed_in("cx").get("/items/10023-NAVY-XL/").status_code == 403
    assert signed_in("ops").get("/items/10023-NAVY-XL/").status_code == 200


def test_the_item_page_lists_the_orders_it_holds_linked_for_data(held_for_a_draft_sku):
    page = signed_in("data").get("/items/10023-NAVY-XL/").content.decode()
    assert 'href="/orders/SO-D1/"' in page


@pytest.fixture
def invalid_item(world):
    bluecherry, _ = world
    bluecherry.control("POST", "_sim/items", [BlueCherryItemFactory(
        sku="20001-RED-M", upc="123", hs_number="", status="PENDING_WMS")])
    items.sync_items()
    return IntegrationException.objects.get(kind=catalogue.ITEM_INVALID.code, sku="20001-RED-M", status="open")


def test_item_invalid_links_to_the_item_page_which_lists_every_problem_and_offers_no_retry(invalid_item):
    data = signed_in("data")
    page = data.get(f"/exceptions/{invalid_item.pk}/").content.decode()
    assert 'href="/items/20001-RED-M/#problems"' in page
    assert "Retry now" not in page  # retrying an invalid item does nothing: only a fix in Blue Cherry does
    item_page = data.get("/items/20001-RED-M/").content.decode()
    assert "Why it is not LIVE" in item_page
    for problem in invalid_item.problems:
        assert problem["message"].replace("'", "&#x27;") in item_page


def test_the_blue_cherry_user_page_is_linked_only_when_a_setting_names_it(invalid_item, held_for_a_draft_sku,
                                                                          settings):
    data = signed_in("data")
    settings.BLUECHERRY_USER_PAGE_URL = ""
    assert "simulator" not in data.get(f"/exceptions/{invalid_item.pk}/").content.decode()
    assert "simulator" not in data.get("/items/20001-RED-M/").content.decode()
    settings.BLUECHERRY_USER_PAGE_URL = "http://127.0.0.1:9/user/"
    assert 'href="http://127.0.0.1:9/user/items/20001-RED-M"' in data.get(
        f"/exceptions/{invalid_item.pk}/").content.decode()
    assert 'href="http://127.0.0.1:9/user/items/20001-RED-M"' in data.get("/items/20001-RED-M/").content.decode()
    assert 'href="http://127.0.0.1:9/user/orders/SO-D1"' in data.get("/orders/SO-D1/").content.decode()
