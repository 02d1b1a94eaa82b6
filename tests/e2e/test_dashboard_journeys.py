"""The dashboard in a real browser, as each group would use it (issue 3's "done means").

The main journey: ops filter the queue and open an order quarantined for an unknown carrier; an
admin adds the carrier mapping (the page says how many orders it will release); the order
reaches the Seko simulator and its exception closes itself; a CX user is refused the editor.
"""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from django_q.conf import Conf
from playwright.sync_api import expect

from exceptions import catalogue
from exceptions import services as queue
from exceptions.models import IntegrationException
from integration.models import Order
from integration.shared.navigation import NAV
from integration.shared.roles import ALL_GROUPS, can
from tests.e2e.forms import fill_seko_service
from tests.factories import BlueCherryOrderFactory, ShipToFactory
from tests.test_order_flow import release, run_flow, seko_orders, world  # noqa: F401  (world is a fixture)

pytestmark = pytest.mark.django_db(transaction=True)


def add_history(hours: int = 48) -> None:
    """Orders sent and dispatched over the last two days (the overview's chart), and a few
    problems of other kinds, so the screens look like a working day."""
    rng = random.Random(7)
    now = timezone.now()
    rows = []
    for n in range(260):
        sent = now - timedelta(hours=rng.uniform(0, hours), minutes=rng.uniform(0, 59))
        dispatched = sent + timedelta(hours=rng.uniform(2, 20))
        done = dispatched < now
        rows.append(Order(ord_num=f"SO-{300000 + n}", bc_updated_at=sent, location="UK3PL", ship_via="RMNDAY",
                          customer=f"C{1000 + n % 40}", channel="ECOM",
                          status=Order.Status.DISPATCHED if done else Order.Status.SENT, sent_at=sent,
                          pick_ticket_at=sent, dispatched_at=dispatched if done else None, seko_dc_code="DCCL01"))
    Order.objects.bulk_create(rows)
    queue.raise_exception(catalogue.ORDER_CANCEL_REFUSED, "order:SO-300007",
                          "Order SO-300007 was cancelled in Blue Cherry but Seko refused the cancel: Pick Complete",
                          order=Order.objects.get(ord_num="SO-300007"))
    queue.raise_exception(catalogue.TRANSPORT_BLUECHERRY_UNAVAILABLE, "system:bluecherry",
                          "Blue Cherry did not take pick tickets (last: 503 Service Unavailable). They are retried.")


def test_ops_find_the_held_order_an_admin_maps_the_carrier_and_the_order_goes_to_seko(
        world, login_as, screenshot, monkeypatch):
    bluecherry, seko = world
    monkeypatch.setattr(Conf, "SYNC", True)  # the release the mapping save enqueues runs at once
    seko.control("POST", "_sim/services", [{"CourierName": "RoyalMail", "CourierService": "TPN24"},
                                           {"CourierName": "DPD", "CourierService": "12"}])
    release(bluecherry, BlueCherryOrderFactory(ord_num="SO-DPD-1", ship_via="DPDNXT"),
            BlueCherryOrderFactory(ord_num="SO-ADDR-1", ship_to=ShipToFactory(postcode="", city="")),
            BlueCherryOrderFactory(ord_num="SO-OK-1"))
    run_flow()
    add_history()
    assert Order.objects.get(ord_num="SO-DPD-1").status == Order.Status.QUARANTINED

    # --- ops: the overview, then the queue filtered to unknown carriers, then the order
    ops = login_as("ops")
    expect(ops.locator("h1")).to_have_text("Overview")
    expect(ops.locator("svg.chart rect").first).to_be_attached()
    screenshot(ops, "overview")
    ops.click("nav.mainnav >> text=Exceptions")
    expect(ops.locator("#queue-results")).to_contain_text("SO-ADDR-1")
    screenshot(ops, "queue")
    ops.select_option("#id_kind", catalogue.MAPPING_CARRIER_UNKNOWN.code)  # htmx swaps the results
    expect(ops.locator("#queue-results")).not_to_contain_text("SO-ADDR-1")
    expect(ops.locator("#queue-results")).to_contain_text("SO-DPD-1")
    assert "kind=mapping.carrier_unknown" in ops.url  # the filter is in the address, so it can be shared
    ops.locator("#queue-results a.kind").first.click()
    expect(ops.locator("h1")).to_have_text(catalogue.MAPPING_CARRIER_UNKNOWN.title)
    expect(ops.locator(".playbook")).to_contain_text("Add or reactivate the row")
    screenshot(ops, "exception")
    exception_url = ops.url
    ops.click("dl.facts a:has-text('SO-DPD-1')")
    expect(ops.locator("h1")).to_have_text("SO-DPD-1")
    expect(ops.locator(".pill.st-quarantined")).to_be_visible()
    expect(ops.locator("ol.timeline")).to_contain_text("sending → quarantined")
    screenshot(ops, "order")
    # ops may see the tables but not edit them
    ops.goto("/mappings/carriers/")
    expect(ops.locator("text=Add a row")).to_have_count(0)

    # --- admin: add the carrier mapping; the form says what the save will release
    admin = login_as("integration-admin")
    admin.click("nav.mainnav >> text=Mappings")
    admin.click("nav.tabs >> text=Carriers and services")
    admin.click("text=Add a row")
    admin.fill("#id_bc_ship_via", "DPDNXT")
    expect(admin.locator("#release-preview")).to_contain_text("releases 1 held order")
    fill_seko_service(admin, "DPD", "12", service_level="NEXTDAY")
    screenshot(admin, "mapping-editor")
    admin.click("button:has-text('Save')")
    expect(admin.locator(".flash.success")).to_contain_text("1 held order waiting for it is being released")
    expect(admin.locator("table.list")).to_contain_text("DPDNXT")

    # --- the order reached Seko, and its exception closed itself
    assert "SO-DPD-1" in seko_orders(seko)
    assert Order.objects.get(ord_num="SO-DPD-1").status == Order.Status.SENT
    assert not IntegrationException.objects.filter(trace_key="order:SO-DPD-1", status="open").exists()
    ops.goto(exception_url)
    expect(ops.locator(".pill.ok")).to_have_text("Resolved")
    expect(ops.locator("ol.timeline")).to_contain_text("auto-resolved")

    # --- cx: no Mappings in the nav, and the editor refuses them
    cx = login_as("cx")
    expect(cx.locator("nav.mainnav")).not_to_contain_text("Mappings")
    response = cx.goto("/mappings/carriers/new")
    assert response is not None and response.status == 403
    expect(cx.locator("h1")).to_have_text("Not allowed")


@pytest.mark.parametrize("group", ALL_GROUPS)
def test_each_group_sees_the_screens_it_may_use_and_each_opens(group, login_as, settings):
    settings.HTTP_MAX_RETRIES = 0  # the mapping page asks Seko's reference lists; no simulator here
    page = login_as(group)
    user_links = page.locator("nav.mainnav a").all_inner_texts()
    user = User.objects.get(username=f"{group}-user")
    expected = [item.label for item in NAV if can(user, item.capability)]
    # The integration-admin group opens Django's admin without the staff flag: its link follows.
    with_admin = [*expected, "Admin"] if group == "integration-admin" else expected
    assert [text.split("\n")[0].strip() for text in user_links] == with_admin
    for label in expected:
        page.click(f"nav.mainnav >> text={label}")
        if label == "API":  # Swagger UI, served by the app (no CDN), outside the dashboard's layout
            expect(page.locator(".swagger-ui .title").first).to_contain_text("API")
            page.go_back()
            continue
        expect(page.locator("nav.mainnav a.current")).to_contain_text(label)
        expect(page.locator("h1").first).not_to_have_text("Not allowed")
