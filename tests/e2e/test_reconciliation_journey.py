"""Finance opens a day with a planted difference (an invoice a Blue Cherry user raised by hand for
an order already invoiced), reads what it is and what to do, and follows it to its exception and
to the order."""

from __future__ import annotations

from datetime import UTC

import pytest
from django.test import Client
from django.utils import timezone
from playwright.sync_api import expect

from reconciliation.run import run_reconciliation
from tests.test_dispatch_flow import push_settings  # noqa: F401  (autouse fixture)
from tests.test_order_flow import world  # noqa: F401  (world is a fixture)
from tests.test_reconciliation import shipped

pytestmark = pytest.mark.django_db(transaction=True)


def test_finance_follows_a_planted_difference_from_the_day_to_the_order(world, login_as, settings):
    bluecherry, _ = world
    shipped(world, Client(), "SO-FIN-1", "SO-FIN-2")  # sent, dispatched, shipped and invoiced once each
    bluecherry.control("POST", "_sim/invoices", {"ord_num": "SO-FIN-2"})  # the planted duplicate
    today = timezone.now().astimezone(UTC).date()
    run_reconciliation(today, today, trigger="test")

    finance = login_as("finance")
    finance.locator("nav.mainnav").get_by_role("link", name="Reconciliation").click()
    finance.wait_for_url("**/reconciliation/")
    finance.get_by_role("link", name=f"{today:%Y-%m-%d}").first.click()
    finance.wait_for_url(f"**/reconciliation/{today:%Y-%m-%d}/")
    expect(finance.locator("h1")).to_contain_text("1 difference")
    row = finance.locator("table.list tbody tr", has_text="SO-FIN-2")
    expect(row).to_contain_text("Invoiced more than once")
    expect(row).to_contain_text("Credit the duplicate invoice in Blue Cherry.")
    expect(finance.locator("table.list tbody tr", has_text="SO-FIN-1")).to_have_count(0)

    row.get_by_role("link", name="open").click()  # the exception that follows it
    finance.wait_for_url("**/exceptions/*/")
    expect(finance.locator("h1")).to_contain_text("disagree")
    expect(finance.locator("p.message")).to_contain_text("SO-FIN-2 is invoiced 2 times")
    finance.locator("dl.facts").get_by_role("link", name="SO-FIN-2").click()
    finance.wait_for_url("**/orders/SO-FIN-2/")
    expect(finance.locator("h1")).to_have_text("SO-FIN-2")
    expect(finance.locator("body")).to_contain_text("invoiced 2 times")  # on the order's timeline too
