"""The operations manual in a real browser (issue 10): from an exception's page to its kind's
section of the manual, and from a held dispatch's exception to the form that releases it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from exceptions import catalogue
from exceptions import services as queue

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_data_user_goes_from_an_exception_to_its_step_by_step_section_of_the_manual(login_as, screenshot):
    exc = queue.raise_exception(catalogue.ORDER_SKU_NOT_LIVE, catalogue.order_key("SO-7001"),
                                "Line 1: SKU 10023-NAVY-M is not LIVE (PENDING_WMS).")
    page = login_as("data")
    page.goto(f"/exceptions/{exc.pk}/")
    page.click("text=Step by step in the operations manual")
    page.wait_for_url("**/help/#order.sku_not_live")
    section = page.locator('[id="order.sku_not_live"]')
    expect(section).to_be_in_viewport()
    expect(page.locator("article.manual")).to_contain_text("Only LIVE items can be sold")
    # The manual's screenshots are served inside the dashboard, not broken links.
    overview = page.locator('article.manual img[src="screenshots/overview.png"]')
    assert overview.evaluate("img => img.complete && img.naturalWidth > 0")
    expect(page.locator("nav.mainnav a.current")).to_contain_text("Help")
    screenshot(page, "help")


def test_ops_open_a_held_dispatch_from_its_exception(login_as):
    exc = queue.raise_exception(catalogue.DISPATCH_INCOMPLETE, catalogue.dispatch_key("DSP-7001"),
                                "Dispatch DSP-7001 was not posted to Blue Cherry: no tracking number.")
    page = login_as("ops")
    page.goto(f"/exceptions/{exc.pk}/")
    link = page.locator("text=Open the dispatch to fill in and release it")
    expect(link).to_have_attribute("href", "/dispatches/DSP-7001/")
