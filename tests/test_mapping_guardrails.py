"""The guardrails of the cross-reference editor: Seko's reference lists checked before a save
(an unknown code refused, an unreadable list saving the row inactive), the preview naming the
orders it releases, several ship-vias on one Seko service, plain-word errors, Blue Cherry codes
taken as Blue Cherry writes them, the service level a choice of the SLA settings' levels,
deactivation confirmed, the history of every change with who made it, the codes waiting for a
row and "Map this code" from their exception."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import IntegrityError
from django.test import Client
from django.utils import timezone
from django_q.conf import Conf

from exceptions import catalogue
from exceptions.models import IntegrationException
from integration.dispatches.rules import CarrierRow, resolve_carrier
from integration.mappings.csv_io import import_csv
from integration.mappings.tables import TABLES, CarrierMappingForm
from integration.models import CarrierMapping, Order, StockBufferOverride, WarehouseMapping
from tests.factories import BlueCherryOrderFactory
from tests.helpers import signed_in
from tests.test_order_flow import (
    release,
    run_flow,
    seko_orders,
    world,  # noqa: F401  (a fixture: the order-flow tests' world)
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_reference_cache")]

SERVICES = [{"CourierName": "RoyalMail", "CourierService": "TPN24"}, {"CourierName": "DPD", "CourierService": "12"}]
DPD_ROW = {"bc_ship_via": "DPDNXT", "seko_courier_name": "DPD", "seko_courier_service": "12",
           "service_level": "NEXTDAY", "active": "on"}


@pytest.fixture
def admin_client() -> Client:
    return signed_in("integration-admin", "ada")


@pytest.fixture
def held_for_dpd(world, monkeypatch):
    """Two orders held for ship-via DPDNXT, which no row maps; Seko knows DPD 12."""
    bluecherry, seko = world
    monkeypatch.setattr(Conf, "SYNC", True)  # the release a save enqueues runs inline
    seko.control("POST", "_sim/services", SERVICES)
    release(bluecherry, BlueCherryOrderFactory(ord_num="SO-G1", ship_via="DPDNXT"),
            BlueCherryOrderFactory(ord_num="SO-G2", ship_via="DPDNXT"))
    run_flow()
    assert set(Order.objects.filter(status=Order.Status.QUARANTINED).values_list("ord_num", flat=True)) == {
        "SO-G1", "SO-G2"}
    return world


def _page(response) -> str:
    return response.content.decode()


# --- Seko's reference lists before a save --------------------------------------------------------

def test_a_courier_service_seko_does_not_know_is_refused_in_plain_words_and_the_input_is_kept(
        held_for_dpd, admin_client):
    _, seko = held_for_dpd
    response = admin_client.post("/mappings/carriers/new", {**DPD_ROW, "seko_courier_service": "99"})
    page = _page(response)
    assert response.status_code == 200
    assert "Seko does not know service &#x27;99&#x27; of courier &#x27;DPD&#x27;" in page
    assert "Seko&#x27;s services of DPD: 12" in page
    assert 'value="DPDNXT"' in page and 'value="99"' in page  # what the person typed is still there
    assert not CarrierMapping.objects.filter(bc_ship_via="DPDNXT").exists()
    assert Order.objects.get(ord_num="SO-G1").status == Order.Status.QUARANTINED
    assert "SO-G1" not in seko_orders(seko)


def test_a_dc_seko_does_not_know_is_refused_and_one_typed_in_another_case_is_saved_as_seko_writes_it(
        world, admin_client):
    refused = _page(admin_client.post("/mappings/warehouses/new",
                                      {"bc_location": "UK4PL", "seko_dc_code": "DCXX99", "active": "on"}))
    assert "Seko does not know DC &#x27;DCXX99&#x27;" in refused and "Seko&#x27;s DCs: DCCL01" in refused
    assert not WarehouseMapping.objects.filter(bc_location="UK4PL").exists()
    saved = admin_client.post("/mappings/warehouses/new",
                              {"bc_location": "UK4PL", "seko_dc_code": "dccl01", "active": "on"}, follow=True)
    assert "Saved the Seko DC as DCCL01, as Seko writes it" in _page(saved)
    assert WarehouseMapping.objects.get(bc_location="UK4PL").seko_dc_code == "DCCL01"


def test_when_sekos_list_cannot_be_read_the_row_is_saved_inactive_and_the_page_says_so(
        held_for_dpd, admin_client, settings, django_capture_on_commit_callbacks):
    _, seko = held_for_dpd
    settings.HTTP_MAX_RETRIES = 0
    seko.control("POST", "_sim/faults", {"error_rate": 1.0})
    saved = _page(admin_client.post("/mappings/carriers/new", DPD_ROW, follow=True))
    assert "Saved Blue Cherry ship-via DPDNXT INACTIVE" in saved and "could not be read" in saved
    assert "No order was released" in saved
    assert CarrierMapping.objects.get(bc_ship_via="DPDNXT").active is False
    assert Order.objects.get(ord_num="SO-G1").status == Order.Status.QUARANTINED
    # Reactivating is checked again: refused while Seko cannot say, done once it can.
    row = CarrierMapping.objects.get(bc_ship_via="DPDNXT")
    refused = _page(admin_client.post(f"/mappings/carriers/{row.pk}/active", {"active": "1"}, follow=True))
    assert "DPDNXT was not reactivated" in refused and "Try again when Seko answers" in refused
    assert CarrierMapping.objects.get(pk=row.pk).active is False
    seko.control("POST", "_sim/faults", {"error_rate": 0.0})
    with django_capture_on_commit_callbacks(execute=True):
        done = _page(admin_client.post(f"/mappings/carriers/{row.pk}/active", {"active": "1"}, follow=True))
    assert "Reactivated DPDNXT" in done
    assert {"SO-G1", "SO-G2"} <= set(seko_orders(seko))


def test_a_row_seko_does_not_know_cannot_be_reactivated(world, admin_client):
    row = CarrierMapping.objects.create(bc_ship_via="UPSX", seko_courier_name="UPS", seko_courier_service="NOPE",
                                        active=False)
    page = _page(admin_client.post(f"/mappings/carriers/{row.pk}/active", {"active": "1"}, follow=True))
    assert "UPSX was not reactivated: Seko does not know courier &#x27;UPS&#x27;" in page
    assert CarrierMapping.objects.get(pk=row.pk).active is False


def test_a_description_change_is_saved_without_asking_seko(world, admin_client, settings):
    _, seko = world
    settings.HTTP_MAX_RETRIES = 0
    seko.control("POST", "_sim/faults", {"error_rate": 1.0})
    row = CarrierMapping.objects.get(bc_ship_via="RMNDAY")
    admin_client.post(f"/mappings/carriers/{row.pk}/", {
        "bc_ship_via": "RMNDAY", "seko_courier_name": "RoyalMail", "seko_courier_service": "TPN24",
        "service_level": "NEXTDAY", "description": "Royal Mail Tracked 24", "active": "on"})
    row.refresh_from_db()
    assert row.description == "Royal Mail Tracked 24" and row.active is True


def test_csv_import_refuses_an_unknown_seko_code_and_imports_rows_inactive_when_the_list_cannot_be_read(
        world, settings):
    _, seko = world
    table = TABLES["carriers"]
    header = "bc_ship_via,seko_courier_name,seko_courier_service,service_level,description,active\n"
    refused = import_csv(table, header + "DPDNXT,DPD,99,NEXTDAY,,true\n")
    assert refused.errors == ["Line 2 (DPDNXT): Seko does not know courier 'DPD', so every order sent with it "
                              "would be rejected. Seko's couriers: RoyalMail."]
    assert not CarrierMapping.objects.filter(bc_ship_via="DPDNXT").exists()
    settings.HTTP_MAX_RETRIES = 0
    cache.clear()
    seko.control("POST", "_sim/faults", {"error_rate": 1.0})
    result = import_csv(table, header + "DPDNXT,DPD,12,NEXTDAY,,true\n")
    assert result.ok and result.created == 1 and result.saved_inactive == ["DPDNXT"]
    assert CarrierMapping.objects.get(bc_ship_via="DPDNXT").active is False


# --- The preview names the orders ---------------------------------------------------------------

def test_the_preview_names_the_orders_it_will_release_with_links(held_for_dpd, admin_client):
    preview = _page(admin_client.get("/mappings/carriers/preview", {"bc_ship_via": "DPDNXT", "active": "on"}))
    assert "releases <strong>2</strong> held orders" in preview
    assert '<a href="/orders/SO-G1/"' in preview and '<a href="/orders/SO-G2/"' in preview


# --- Many to one, and errors in plain words ---------------------------------------------------

def test_two_ship_vias_may_use_one_seko_service_in_the_form_and_the_import(
        held_for_dpd, admin_client, django_capture_on_commit_callbacks):
    _, seko = held_for_dpd
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post("/mappings/carriers/new", DPD_ROW)
    second = admin_client.post("/mappings/carriers/new", {**DPD_ROW, "bc_ship_via": "DPDSAT"}, follow=True)
    assert "Saved Blue Cherry ship-via DPDSAT" in _page(second)
    assert CarrierMapping.objects.filter(seko_courier_name="DPD", seko_courier_service="12", active=True).count() == 2
    header = "bc_ship_via,seko_courier_name,seko_courier_service,service_level,description,active\n"
    result = import_csv(TABLES["carriers"], header + "DPDX1,DPD,12,,,true\nDPDX2,DPD,12,,,true\n")
    assert result.ok and result.created == 2, result.errors
    assert {"SO-G1", "SO-G2"} <= set(seko_orders(seko))


def test_a_dispatch_on_a_shared_seko_service_goes_back_with_the_orders_own_ship_via():
    rows = [CarrierRow("DPDNXT", "DPD", "12", "Next Day"), CarrierRow("DPDSAT", "DPD", "12", "Next Day")]
    for own in ("DPDNXT", "DPDSAT"):
        match = resolve_carrier("DPD", "12", rows, order_ship_via=own)
        assert match is not None and (match.ship_via, match.note) == (own, "")
        by_words = resolve_carrier("DPD", "Next Day", rows, order_ship_via=own)
        assert by_words is not None and by_words.ship_via == own


def test_a_duplicate_code_and_a_clash_at_save_are_told_in_plain_words(world, admin_client, monkeypatch):
    duplicate = _page(admin_client.post("/mappings/carriers/new", {
        "bc_ship_via": "RMNDAY", "seko_courier_name": "RoyalMail", "seko_courier_service": "TPN24", "active": "on"}))
    assert "Carrier mapping with this Blue Cherry ship-via already exists" in duplicate

    def clash(*args, **kwargs):
        raise IntegrityError('UNIQUE constraint failed: integration_carriermapping.bc_ship_via')

    monkeypatch.setattr(CarrierMappingForm, "save", clash)
    page = _page(admin_client.post("/mappings/carriers/new", {
        "bc_ship_via": "RM48", "seko_courier_name": "RoyalMail", "seko_courier_service": "TPN24", "active": "on"}))
    assert "Someone saved a row for the same Blue Cherry code while you were editing; nothing was saved" in page
    assert "constraint" not in page.lower() and "IntegrityError" not in page
    result = import_csv(TABLES["carriers"],
                        "bc_ship_via,seko_courier_name,seko_courier_service\nRM48,RoyalMail,TPN24\n")
    assert not result.ok and "constraint" not in " ".join(result.errors).lower()


# --- Blue Cherry codes as Blue Cherry writes them ------------------------------------------------

def test_a_ship_via_typed_in_another_case_is_saved_as_blue_cherry_writes_it_and_releases_its_orders(
        held_for_dpd, admin_client, django_capture_on_commit_callbacks):
    _, seko = held_for_dpd
    with django_capture_on_commit_callbacks(execute=True):
        saved = _page(admin_client.post("/mappings/carriers/new", {**DPD_ROW, "bc_ship_via": "dpdnxt"},
                                        follow=True))
    assert "Saved Blue Cherry ship-via as DPDNXT, as Blue Cherry writes it on its orders" in saved
    assert CarrierMapping.objects.filter(bc_ship_via="DPDNXT").exists()
    assert {"SO-G1", "SO-G2"} <= set(seko_orders(seko))


def test_a_second_row_differing_only_in_case_is_refused_and_an_unseen_code_gets_a_reminder(world, admin_client):
    twin = _page(admin_client.post("/mappings/carriers/new", {
        "bc_ship_via": "rmnday", "seko_courier_name": "RoyalMail", "seko_courier_service": "TPN24", "active": "on"}))
    assert "RMNDAY already has a row" in twin and "capitals included" in twin
    assert not CarrierMapping.objects.filter(bc_ship_via="rmnday").exists()
    unseen = _page(admin_client.post("/mappings/carriers/new", {
        "bc_ship_via": "zzfast", "seko_courier_name": "RoyalMail", "seko_courier_service": "TPN24", "active": "on"},
        follow=True))
    assert "No order from Blue Cherry has used Blue Cherry ship-via zzfast yet" in unseen


# --- Service level: a choice of the SLA settings' levels ------------------------------------------

def test_the_service_level_is_a_choice_of_the_levels_the_sla_settings_know(world, admin_client, settings):
    settings.DISPATCH_SLA_BY_SERVICE = {"NEXTDAY": 12.0, "EXPRESS": 8.0, "RMNDAY": 6.0}
    form = CarrierMappingForm()
    assert [value for value, _ in form.fields["service_level"].choices] == ["", "EXPRESS", "NEXTDAY"]
    page = _page(admin_client.get("/mappings/carriers/new"))
    assert '<select name="service_level"' in page and "NEXTDAY (dispatch SLA 12 h)" in page
    refused = _page(admin_client.post("/mappings/carriers/new", {**DPD_ROW, "service_level": "NEXDAY"}))
    assert "NEXDAY is not a service level the SLA settings know" in refused
    assert not CarrierMapping.objects.filter(bc_ship_via="DPDNXT").exists()
    # A row saved before this was a choice keeps its value when edited, labelled for what it does.
    old = CarrierMapping.objects.create(bc_ship_via="RM48", seko_courier_name="RoyalMail",
                                        seko_courier_service="TPS48", service_level="STANDARD")
    edit = _page(admin_client.get(f"/mappings/carriers/{old.pk}/"))
    assert "STANDARD (not a level the SLA settings know: the default 24 h applies)" in edit


# --- Deactivating is confirmed; history is kept -------------------------------------------------

def test_deactivating_asks_first_saying_what_it_affects_then_is_recorded_in_the_history(world, admin_client):
    row = CarrierMapping.objects.get(bc_ship_via="RMNDAY")
    Order.objects.create(ord_num="SO-WAIT", bc_status="RELEASED", location="UK3PL", ship_via="RMNDAY",
                         status=Order.Status.RECEIVED, bc_updated_at=timezone.now())
    confirm = _page(admin_client.get(f"/mappings/carriers/{row.pk}/active", {"active": "0"}))
    assert "Deactivate RMNDAY" in confirm and "New orders with Blue Cherry ship-via RMNDAY are held" in confirm
    assert "1 order with it waiting to be sent now will be held instead" in confirm
    assert CarrierMapping.objects.get(pk=row.pk).active is True
    unconfirmed = _page(admin_client.post(f"/mappings/carriers/{row.pk}/active", {"active": "0"}))
    assert "Keep it active" in unconfirmed and CarrierMapping.objects.get(pk=row.pk).active is True
    done = _page(admin_client.post(f"/mappings/carriers/{row.pk}/active", {"active": "0", "confirmed": "1"},
                                   follow=True))
    assert "Deactivated RMNDAY" in done and CarrierMapping.objects.get(pk=row.pk).active is False
    latest = row.history.first()
    assert (latest.active, latest.history_user.username, latest.history_change_reason) == (False, "ada", "Deactivated")
    history = _page(admin_client.get(f"/mappings/carriers/{row.pk}/history"))
    assert "ada" in history and "Deactivated" in history and "yes → no" in history


def test_an_edit_records_who_changed_what_before_and_after_and_ops_may_read_it(world, admin_client):
    row = CarrierMapping.objects.get(bc_ship_via="RMNDAY")
    admin_client.post(f"/mappings/carriers/{row.pk}/", {
        "bc_ship_via": "RMNDAY", "seko_courier_name": "RoyalMail", "seko_courier_service": "TPN24",
        "service_level": "EXPRESS", "description": "now express", "active": "on"})
    latest = row.history.first()
    assert (latest.history_user.username, latest.service_level, latest.history_change_reason) == (
        "ada", "EXPRESS", "Edited")
    ops = signed_in("ops", "otto")
    page = _page(ops.get(f"/mappings/carriers/{row.pk}/history"))
    assert "NEXTDAY → EXPRESS" in page and "(empty) → now express" in page and "ada" in page
    assert ops.post(f"/mappings/carriers/{row.pk}/active", {"active": "0", "confirmed": "1"}).status_code == 403


def test_buffer_override_changes_are_kept_with_the_user_and_shown_in_the_admin(admin_client):
    admin = User.objects.create_superuser("root", password="pw")
    client = Client()
    client.force_login(admin)
    client.post("/admin/integration/stockbufferoverride/add/", {"sku": "10023-NAVY-S", "buffer": "5", "note": "launch"})
    override = StockBufferOverride.objects.get(sku="10023-NAVY-S")
    client.post(f"/admin/integration/stockbufferoverride/{override.pk}/change/",
                {"sku": "10023-NAVY-S", "buffer": "9", "note": "launch"})
    assert [(h.buffer, h.history_user.username) for h in override.history.order_by("history_date")] == [
        (5, "root"), (9, "root")]
    page = _page(client.get(f"/admin/integration/stockbufferoverride/{override.pk}/history/"))
    assert "root" in page and "Buffer" in page and "9" in page


# --- Codes waiting for a row, and "Map this code" ---------------------------------------------

def test_the_codes_waiting_for_a_row_are_listed_with_their_orders_and_map_this_code_prefills_the_form(
        held_for_dpd, admin_client, django_capture_on_commit_callbacks):
    _, seko = held_for_dpd
    listing = _page(admin_client.get("/mappings/carriers/"))
    assert "Codes waiting for a row" in listing and "DPDNXT" in listing
    assert '<a href="/orders/SO-G1/">SO-G1</a>' in listing
    exception = IntegrationException.objects.get(kind=catalogue.MAPPING_CARRIER_UNKNOWN.code, order__ord_num="SO-G1")
    detail = _page(admin_client.get(f"/exceptions/{exception.pk}/"))
    link = f"/mappings/carriers/new?bc_ship_via=DPDNXT&amp;next=%2Fexceptions%2F{exception.pk}%2F"
    assert "Map this code: Blue Cherry ship-via DPDNXT" in detail and link in detail
    form = _page(admin_client.get(link.replace("&amp;", "&")))
    assert 'value="DPDNXT"' in form and "releases <strong>2</strong> held orders" in form
    with django_capture_on_commit_callbacks(execute=True):
        saved = admin_client.post(link.replace("&amp;", "&"), {**DPD_ROW, "next": f"/exceptions/{exception.pk}/"})
    assert saved.status_code == 302 and saved["Location"] == f"/exceptions/{exception.pk}/"
    assert {"SO-G1", "SO-G2"} <= set(seko_orders(seko))
    exception.refresh_from_db()
    assert exception.status == "resolved"
    assert "Codes waiting for a row" not in _page(admin_client.get("/mappings/carriers/"))
    # Ops see the list, but the exception offers them no mapping form.
    ops = signed_in("ops", "otto")
    assert "Map this code" not in _page(ops.get(f"/exceptions/{exception.pk}/"))


def test_a_rejection_for_a_mapping_offers_admins_the_rows_the_order_was_sent_with(world, admin_client):
    from exceptions import services as queue

    order = Order.objects.create(ord_num="SO-REJ", bc_status="RELEASED", location="UK3PL", ship_via="RMNDAY",
                                 status=Order.Status.REJECTED, bc_updated_at=timezone.now())
    exception = queue.raise_exception(catalogue.ORDER_REJECTED_MAPPING, "order:SO-REJ",
                                      "Order SO-REJ was rejected by Seko: Error. Invalid Mapping - DC", order=order)
    page = _page(admin_client.get(f"/exceptions/{exception.pk}/"))
    carrier, warehouse = CarrierMapping.objects.get(bc_ship_via="RMNDAY"), WarehouseMapping.objects.get()
    assert "Check the warehouses row for UK3PL" in page and f"/mappings/warehouses/{warehouse.pk}/?next=" in page
    assert "Check the carriers and services row for RMNDAY" in page
    assert f"/mappings/carriers/{carrier.pk}/?next=" in page
