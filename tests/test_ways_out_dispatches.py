"""Ways out for work in flight and for held dispatches: deactivating a mapping stops new orders
only (what is already at Seko is matched back, polled, published and audited through the row it
was sent with), reactivating a carrier releases the dispatches held for it, the release form can
fill in every field the data contract requires, and Seko's corrected resend replaces a held
dispatch."""

# The order-flow tests' `world` fixture is imported and then taken as a test argument by name.

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone
from django_q.conf import Conf

from exceptions import catalogue
from integration.dispatches import flow as dispatches
from integration.models import (
    CarrierMapping,
    Dispatch,
    Order,
    StockPosition,
    WarehouseMapping,
)
from integration.stock import flow as stock
from tests.helpers import configure, signed_in
from tests.test_dispatch_flow import (
    bc_order,
    confirmation,
    dispatch_at_seko,
    dispatched,
    open_kinds,
    push,
    sent_order,
    take_in,
)
from tests.test_order_flow import world  # noqa: F401  (a fixture)
from tests.test_stock_flow import bc_inventory, follow_until_settled, set_seko_stock, stocked_at_both

pytestmark = pytest.mark.django_db

LINE = {"DispatchLineItem": [{"LineNumber": 1, "ProductCode": "10023-NAVY-M", "Quantity": 2}]}


@pytest.fixture(autouse=True)
def push_settings(settings):
    settings.SEKO_PUSH_TOKEN = "flow-token"
    settings.SEKO_PUSH_SECRET = ""
    settings.DISPATCH_POLL_GRACE_SECONDS = 0
    settings.DISPATCH_TRACKING_WAIT_SECONDS = 0
    cache.clear()  # Seko's reference lists, asked again by each reactivation
    yield settings
    cache.clear()


def _page(response) -> str:
    return response.content.decode()


def _deactivate(model: type, **key: str) -> None:
    assert model.objects.filter(**key).update(active=False) == 1


# --- 1. Deactivating a mapping stops new orders only --------------------------------------------

def test_a_dispatch_of_an_order_at_seko_on_a_carrier_deactivated_since_is_posted_with_its_ship_via(world, client):
    bluecherry, seko = world
    order = sent_order(bluecherry, "SO-W1")
    _deactivate(CarrierMapping, bc_ship_via="RMNDAY")
    dispatch = dispatched(client, seko, order)
    assert dispatch.status == Dispatch.Status.POSTED, dispatch.problems
    assert bc_order(bluecherry, "SO-W1")["shipments"][0]["ship_via"] == "RMNDAY"


def test_a_carrier_row_edited_then_deactivated_matches_a_dispatch_with_the_pair_the_order_was_sent_with(
        world, client):
    bluecherry, _ = world
    order = sent_order(bluecherry, "SO-W2")
    row = CarrierMapping.objects.get(bc_ship_via="RMNDAY")
    row.seko_courier_name, row.seko_courier_service, row.active = "DPD", "12", False
    row.save()  # recorded in the row's history, after the order went out with RoyalMail TPN24
    push(client, ("DispatchConfirmation", confirmation(order, List=LINE)))
    take_in()
    dispatch = Dispatch.objects.get(order=order)
    assert dispatch.status == Dispatch.Status.POSTED, dispatch.problems
    shipment = bc_order(bluecherry, "SO-W2")["shipments"][0]
    assert (shipment["ship_via"], shipment["carrier"]) == ("RMNDAY", "RoyalMail")


def test_the_poll_still_asks_a_deactivated_warehouses_dc_for_the_orders_sent_there(world):
    bluecherry, seko = world
    order = sent_order(bluecherry, "SO-W3")
    _deactivate(WarehouseMapping, bc_location="UK3PL")
    seko.control("POST", "_sim/config", {"push_url": "http://127.0.0.1:9/never", "push_interval_seconds": 3600})
    seko.control("POST", "_sim/faults", {"drop_push_rate": 1})
    dispatch_at_seko(seko)
    assert seko.control("POST", "_sim/push/flush")["dropped"] >= 1
    assert dispatches.dcs_to_poll() == ["DCCL01"]
    assert dispatches.poll_dispatches()["recovered"] == 1
    take_in()
    assert Dispatch.objects.get(order=order).status == Dispatch.Status.POSTED


@pytest.fixture
def stock_world(bluecherry, seko, settings):
    """Stock of three SKUs at DCCL01 for location UK3PL, Blue Cherry applying batches at once."""
    configure(settings, STOCK_BUFFER_MIN=0, STOCK_BUFFER_MAX=0, STOCK_DRIFT_TOLERANCE=2)
    stocked_at_both(bluecherry, seko)
    stock.take_snapshot()
    stock.publish_available()
    follow_until_settled()
    return bluecherry, seko


def test_stock_at_a_deactivated_warehouse_is_still_read_published_and_audited(stock_world):
    bluecherry, seko = stock_world
    _deactivate(WarehouseMapping, bc_location="UK3PL")
    set_seko_stock(seko, {"10023-NAVY-S": 35})
    assert stock.take_snapshot().skus_corrected == 1
    assert stock.publish_available().pushed == 1
    follow_until_settled()
    assert bc_inventory(bluecherry)["10023-NAVY-S"]["channel_available"] == 35
    bluecherry.control("POST", "_sim/inventory", [{"sku": "10023-NAVY-M", "location": "UK3PL",
                                                   "channel_available": 90}])
    assert stock.audit_bluecherry().drifted == 1


def test_a_deactivated_warehouse_drops_out_of_the_stock_runs_once_it_has_no_stock_or_orders_of_ours():
    WarehouseMapping.objects.create(bc_location="OLD", seko_dc_code="DCOLD", active=False)
    WarehouseMapping.objects.create(bc_location="UK3PL", seko_dc_code="DCCL01", active=True)
    position = StockPosition.objects.create(sku="A", dc_code="DCOLD", free=3, published_qty=3)
    assert stock.warehouses_in_use() == [("OLD", "DCOLD"), ("UK3PL", "DCCL01")]
    StockPosition.objects.filter(pk=position.pk).update(free=0, published_qty=0)  # sold out, Blue Cherry told
    assert stock.warehouses_in_use() == [("UK3PL", "DCCL01")]
    Order.objects.create(ord_num="SO-OLD", bc_status="RELEASED", bc_updated_at=timezone.now(), location="OLD",
                         ship_via="RMNDAY", status=Order.Status.SENT, seko_dc_code="DCOLD", sent_at=timezone.now())
    assert stock.warehouses_in_use() == [("OLD", "DCOLD"), ("UK3PL", "DCCL01")]


def test_the_deactivate_confirmation_names_the_orders_at_seko_and_the_stock_positions_at_the_dc(world):
    bluecherry, _ = world
    sent_order(bluecherry, "SO-W4")
    StockPosition.objects.create(sku="10023-NAVY-S", dc_code="DCCL01", free=12, held={"QC": 2}, held_units=2)
    admin = signed_in("integration-admin", "ada")
    row = WarehouseMapping.objects.get(bc_location="UK3PL")
    page = _page(admin.get(f"/mappings/warehouses/{row.pk}/active", {"active": "0"}))
    assert "1 order already at Seko from it" in page and "the dispatch poll still asks DC DCCL01" in page
    assert "SO-W4" in page and "/orders/SO-W4" in page
    assert "Stock positions at DC DCCL01: 1 SKU (12 units free and 2 held, not for sale)" in page
    assert "published to Blue Cherry for location UK3PL and audited" in page
    carrier = CarrierMapping.objects.get(bc_ship_via="RMNDAY")
    page = _page(admin.get(f"/mappings/carriers/{carrier.pk}/active", {"active": "0"}))
    assert "1 order already at Seko with it" in page and "still matched back through this row" in page


def _held_for_an_unmapped_carrier(world, client, monkeypatch) -> Dispatch:
    """A dispatch held as no carrier row mapped it back, as the flow held them when it matched
    through the active rows alone (the order's carrier deactivated)."""
    bluecherry, _ = world
    order = sent_order(bluecherry, "SO-W5")
    _deactivate(CarrierMapping, bc_ship_via="RMNDAY")
    with monkeypatch.context() as patched:
        patched.setattr(dispatches, "carriers_for", lambda order, rows: rows)
        push(client, ("DispatchConfirmation", confirmation(order, List=LINE)))
        take_in()
    dispatch = Dispatch.objects.get(order=order)
    assert dispatch.status == Dispatch.Status.QUARANTINED
    assert "carrier mapping back to a Blue Cherry ship-via" in dispatch.problems[0]["message"]
    return dispatch


def test_reactivating_a_carrier_checks_again_and_posts_the_dispatches_held_for_want_of_it(
        world, client, monkeypatch, django_capture_on_commit_callbacks):
    dispatch = _held_for_an_unmapped_carrier(world, client, monkeypatch)
    monkeypatch.setattr(Conf, "SYNC", True)  # the tasks the reactivation enqueues run inline
    admin = signed_in("integration-admin", "ada")
    row = CarrierMapping.objects.get(bc_ship_via="RMNDAY")
    with django_capture_on_commit_callbacks(execute=True):
        done = _page(admin.post(f"/mappings/carriers/{row.pk}/active", {"active": "1"}, follow=True))
    assert "Reactivated RMNDAY" in done and "1 dispatch(es) held because no carrier row mapped them back" in done
    dispatch.refresh_from_db()
    assert dispatch.status == Dispatch.Status.POSTED and open_kinds(dispatch.dispatch_id) == set()


def test_saving_a_carrier_row_active_from_the_form_releases_the_dispatches_held_for_want_of_it(
        world, client, monkeypatch, django_capture_on_commit_callbacks):
    dispatch = _held_for_an_unmapped_carrier(world, client, monkeypatch)
    monkeypatch.setattr(Conf, "SYNC", True)
    admin = signed_in("integration-admin", "ada")
    row = CarrierMapping.objects.get(bc_ship_via="RMNDAY")
    with django_capture_on_commit_callbacks(execute=True):
        admin.post(f"/mappings/carriers/{row.pk}/", {
            "bc_ship_via": "RMNDAY", "seko_courier_name": "RoyalMail", "seko_courier_service": "TPN24",
            "seko_service_description": "", "service_level": "", "description": "", "active": "on"})
    dispatch.refresh_from_db()
    assert dispatch.status == Dispatch.Status.POSTED


# --- 2. A held dispatch always has a way out ----------------------------------------------------

def test_the_release_form_fills_in_a_missing_dispatch_date_offering_the_orders_own_values(world, client):
    bluecherry, _ = world
    order = sent_order(bluecherry, "SO-W6")
    push(client, ("DispatchConfirmation", confirmation(order, DispatchDate="", List=LINE)))
    take_in()
    dispatch = Dispatch.objects.get(order=order)
    assert dispatch.status == Dispatch.Status.QUARANTINED
    assert open_kinds(dispatch.dispatch_id) == {catalogue.DISPATCH_INCOMPLETE.code}
    ops = signed_in("ops", "opsy")
    page = _page(ops.get(f"/dispatches/{dispatch.dispatch_id}/"))
    sent_day = order.sent_at.date().isoformat()
    assert 'name="DispatchDate"' in page and "Dispatch date (UTC)" in page
    assert f'<option value="{sent_day}">the day the order was sent to Seko</option>' in page
    assert "Offered: <span class=\"mono\">RoyalMail</span> (the order&#x27;s own carrier, ship-via RMNDAY)" in page
    ops.post(f"/dispatches/{dispatch.dispatch_id}/", {"DispatchDate": sent_day})
    dispatch.refresh_from_db()
    assert dispatch.status == Dispatch.Status.POSTED and open_kinds(dispatch.dispatch_id) == set()
    assert bc_order(bluecherry, "SO-W6")["shipments"][0]["ship_date"].startswith(f"{sent_day}T00:00:00")


@pytest.mark.parametrize(("typed", "why"), [
    ("27/11/2026", "cannot be read: write it as YYYY-MM-DD"),
    ((timezone.now() + timedelta(days=3)).date().isoformat(), "is in the future"),
])
def test_a_dispatch_date_that_cannot_be_used_is_refused_in_plain_words_and_kept_in_the_form(
        world, client, typed, why):
    bluecherry, _ = world
    order = sent_order(bluecherry, "SO-W7")
    push(client, ("DispatchConfirmation", confirmation(order, DispatchDate="", List=LINE)))
    take_in()
    ops = signed_in("ops", "opsy")
    refused = ops.post("/dispatches/DSP-X1/", {"DispatchDate": typed, "TrackingNumber": "JD1GB"})
    assert refused.status_code == 400
    page = _page(refused)
    assert why in page and f'value="{typed}"' in page and 'value="JD1GB"' in page
    assert Dispatch.objects.get(order=order).status == Dispatch.Status.QUARANTINED


@pytest.mark.parametrize("same_identity", [False, True], ids=["new-record-id", "same-record-id"])
def test_a_corrected_resend_of_a_held_dispatch_replaces_it_and_is_posted(world, client, same_identity):
    bluecherry, _ = world
    order = sent_order(bluecherry, "SO-W8")
    push(client, ("DispatchConfirmation", confirmation(order, DispatchDate="", CourierName="", List=LINE)))
    take_in()
    dispatch = Dispatch.objects.get(order=order)
    assert dispatch.status == Dispatch.Status.QUARANTINED
    record_id = {} if same_identity else {"InterfaceRecordId": "990002", "MessageGroupId": "g-990002"}
    push(client, ("DispatchConfirmation", confirmation(order, List=LINE, **record_id)))
    take_in()
    dispatch.refresh_from_db()
    assert dispatch.status == Dispatch.Status.POSTED, dispatch.problems
    assert dispatch.confirmation["CourierName"] == "RoyalMail" and open_kinds(dispatch.dispatch_id) == set()
    notes = " ".join(order.events.values_list("note", flat=True))
    assert "Seko sent dispatch DSP-X1 again, corrected (CourierName, DispatchDate changed)" in notes
    assert len(bc_order(bluecherry, "SO-W8")["shipments"]) == 1


def test_a_changed_resend_of_a_posted_dispatch_is_still_ignored_as_a_repeat(world, client):
    bluecherry, _ = world
    order = sent_order(bluecherry, "SO-W9")
    push(client, ("DispatchConfirmation", confirmation(order, List=LINE)))
    take_in()
    dispatch = Dispatch.objects.get(order=order)
    assert dispatch.status == Dispatch.Status.POSTED
    push(client, ("DispatchConfirmation", confirmation(order, List=LINE, TrackingNumber="OTHER1",
                                                       InterfaceRecordId="990003")))
    take_in()
    dispatch.refresh_from_db()
    assert dispatch.repeats == 1 and dispatch.confirmation["TrackingNumber"] == "JD77GB"
    assert len(bc_order(bluecherry, "SO-W9")["shipments"]) == 1


def test_the_manual_gives_every_way_out_of_dispatch_incomplete():
    with open("docs/operations.md", encoding="utf-8") as file:
        manual = file.read()
    playbook = manual[manual.index('<a id="dispatch.incomplete">'):manual.index('<a id="dispatch.unknown_order">')]
    for words in ("no carrier mapping back", "**Dispatch date (UTC)**", "Offered:", "corrected",
                  "**Reactivate**"):
        assert words in playbook, words
