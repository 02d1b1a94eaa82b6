"""The cross-reference loops in a real browser, with both simulators as real HTTP servers.

(a) Ops see an order held for a ship-via no row maps; an admin opens its exception, clicks "Map
this code", saves the form it prefills; the order is at Seko and the exception closed.
(b) An admin saves a courier service Seko does not know and is refused, in plain words, with
what was typed kept.
"""

from __future__ import annotations

import pytest
from django_q.conf import Conf
from playwright.sync_api import expect

from exceptions import catalogue
from exceptions.models import IntegrationException
from integration.models import CarrierMapping, Order
from tests.e2e.forms import fill_seko_service
from tests.factories import BlueCherryOrderFactory
from tests.test_order_flow import release, run_flow, seko_orders, world  # noqa: F401  (world is a fixture)

pytestmark = pytest.mark.django_db(transaction=True)

SEKO_SERVICES = [{"CourierName": "RoyalMail", "CourierService": "TPN24"},
                 {"CourierName": "DPD", "CourierService": "12", "Description": "Next Day"}]


@pytest.fixture
def held_for_a_missing_carrier(world, monkeypatch):
    bluecherry, seko = world
    monkeypatch.setattr(Conf, "SYNC", True)  # the release a mapping save enqueues runs at once
    seko.control("POST", "_sim/services", SEKO_SERVICES)
    release(bluecherry, BlueCherryOrderFactory(ord_num="SO-MAP-1", ship_via="DPDNXT"),
            BlueCherryOrderFactory(ord_num="SO-MAP-2", ship_via="DPDNXT"))
    run_flow()
    assert Order.objects.get(ord_num="SO-MAP-1").status == Order.Status.QUARANTINED
    return world


def test_an_admin_maps_the_code_from_the_exception_and_the_held_order_goes_to_seko(
        held_for_a_missing_carrier, login_as, screenshot):
    _, seko = held_for_a_missing_carrier

    # --- ops: the held order and why
    ops = login_as("ops")
    ops.goto(f"/exceptions/?kind={catalogue.MAPPING_CARRIER_UNKNOWN.code}")
    expect(ops.locator("#queue-results")).to_contain_text("SO-MAP-1")
    exception = IntegrationException.objects.get(kind=catalogue.MAPPING_CARRIER_UNKNOWN.code,
                                                 order__ord_num="SO-MAP-1")
    ops.goto(f"/exceptions/{exception.pk}/")
    expect(ops.locator(".message")).to_contain_text("DPDNXT")
    expect(ops.locator("a.map-code")).to_have_count(0)  # ops may not edit the tables
    ops.goto("/mappings/carriers/")
    expect(ops.locator("section.unmapped")).to_contain_text("DPDNXT")
    expect(ops.locator("section.unmapped")).to_contain_text("2")

    # --- admin: from the exception to the prefilled form, and save it
    admin = login_as("integration-admin")
    admin.goto(f"/exceptions/{exception.pk}/")
    admin.click("a.map-code:has-text('Map this code')")
    expect(admin.locator("#id_bc_ship_via")).to_have_value("DPDNXT")
    expect(admin.locator("#release-preview")).to_contain_text("releases 2 held orders")
    expect(admin.locator("#release-preview a:has-text('SO-MAP-1')")).to_be_visible()
    fill_seko_service(admin, "DPD", "12", description="Next Day", service_level="NEXTDAY")
    screenshot(admin, "mapping-map-this-code")
    admin.click("button:has-text('Save')")

    # --- back on the exception: closed, and the orders at Seko
    expect(admin.locator(".flash.success")).to_contain_text("2 held orders waiting for it are being released")
    assert admin.url.endswith(f"/exceptions/{exception.pk}/")
    expect(admin.locator(".pill.ok")).to_have_text("Resolved")
    assert {"SO-MAP-1", "SO-MAP-2"} <= set(seko_orders(seko))
    assert Order.objects.get(ord_num="SO-MAP-1").status == Order.Status.SENT
    assert not IntegrationException.objects.filter(trace_key="order:SO-MAP-1", status="open").exists()
    admin.goto("/mappings/carriers/")
    expect(admin.locator("section.unmapped")).to_have_count(0)
    row = CarrierMapping.objects.get(bc_ship_via="DPDNXT")
    admin.goto(f"/mappings/carriers/{row.pk}/history")
    expect(admin.locator("table.history")).to_contain_text("integration-admin-user")


def test_an_admin_saving_a_service_seko_does_not_know_is_refused_and_keeps_the_input(
        held_for_a_missing_carrier, login_as, screenshot):
    _, seko = held_for_a_missing_carrier
    admin = login_as("integration-admin")
    admin.goto("/mappings/carriers/new?bc_ship_via=DPDNXT")
    fill_seko_service(admin, "DPD", "99")
    admin.click("button:has-text('Save')")
    expect(admin.locator(".field.has-error")).to_contain_text("Seko does not know service '99' of courier 'DPD'")
    expect(admin.locator(".field.has-error")).to_contain_text("Seko's services of DPD: 12")
    expect(admin.locator("#id_seko_courier_service")).to_have_value("99")
    screenshot(admin, "mapping-unknown-seko-code")
    assert not CarrierMapping.objects.filter(bc_ship_via="DPDNXT").exists()
    assert "SO-MAP-1" not in seko_orders(seko)
    assert Order.objects.get(ord_num="SO-MAP-1").status == Order.Status.QUARANTINED
