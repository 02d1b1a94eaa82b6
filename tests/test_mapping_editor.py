"""The cross-reference editor: the release preview, saving releases the blocked orders, CSV
import all-or-nothing, Seko's reference check; and "retransmit now" on an order."""

from __future__ import annotations

import pytest
from django.test import Client
from django_q.conf import Conf

from exceptions import catalogue
from exceptions.models import IntegrationException
from integration.mappings.csv_io import export_csv, import_csv
from integration.mappings.tables import TABLES
from integration.models import CarrierMapping, Order
from tests.factories import BlueCherryOrderFactory, ShipToFactory
from tests.helpers import signed_in
from tests.test_order_flow import (
    release,
    run_flow,
    seko_orders,
    world,  # noqa: F401  (a fixture: the order-flow tests' world)
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_reference_cache")]


@pytest.fixture
def admin_client() -> Client:
    return signed_in("integration-admin", "u-admin")


@pytest.fixture
def three_held_for_dpd(world):
    bluecherry, seko = world
    seko.control("POST", "_sim/services", [{"CourierName": "RoyalMail", "CourierService": "TPN24"},
                                           {"CourierName": "DPD", "CourierService": "12"}])
    release(bluecherry, *(BlueCherryOrderFactory(ord_num=f"SO-D{i}", ship_via="DPDNXT") for i in range(3)),
            BlueCherryOrderFactory(ord_num="SO-ELSE", ship_via="ZZFAST"))
    run_flow()
    assert Order.objects.filter(status=Order.Status.QUARANTINED).count() == 4
    return world


def test_the_editor_says_how_many_held_orders_a_save_will_release_then_releases_them(
        three_held_for_dpd, admin_client, monkeypatch, django_capture_on_commit_callbacks):
    _, seko = three_held_for_dpd
    monkeypatch.setattr(Conf, "SYNC", True)  # the release task runs inline
    preview = admin_client.get("/mappings/carriers/preview", {"bc_ship_via": "DPDNXT", "active": "on"})
    assert "releases <strong>3</strong> held orders" in preview.content.decode()
    inactive = admin_client.get("/mappings/carriers/preview", {"bc_ship_via": "DPDNXT"})
    assert "releases no held orders" in inactive.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        saved = admin_client.post("/mappings/carriers/new", {
            "bc_ship_via": " DPDNXT ", "seko_courier_name": "DPD", "seko_courier_service": "12", "active": "on"},
            follow=True)
    assert "3 held orders waiting for it are being released and sent" in saved.content.decode()
    assert set(seko_orders(seko)) == {"SO-D0", "SO-D1", "SO-D2"}
    assert Order.objects.get(ord_num="SO-ELSE").status == Order.Status.QUARANTINED
    assert not IntegrationException.objects.filter(trace_key="order:SO-D0", status="open").exists()


def test_a_mapping_form_with_bad_input_says_what_is_wrong_and_saves_nothing(admin_client):
    response = admin_client.post("/mappings/carriers/new", {"bc_ship_via": "", "seko_courier_name": "DPD"})
    assert response.status_code == 200
    assert "This field is required" in response.content.decode()
    assert not CarrierMapping.objects.exists()


def test_a_code_seko_does_not_know_is_flagged_and_an_absent_list_says_it_could_not_be_checked(
        world, admin_client, settings):
    _, seko = world
    settings.HTTP_MAX_RETRIES = 0
    CarrierMapping.objects.create(bc_ship_via="UPSX", seko_courier_name="UPS", seko_courier_service="NOPE")
    page = admin_client.get("/mappings/carriers/").content.decode()
    assert "unknown to Seko" in page and "1 row names a code" in page
    assert admin_client.get("/mappings/warehouses/").content.decode().count("unknown to Seko") == 0
    # An iHub without the reference endpoints (404): the page says it could not check, and flags nothing.
    settings.SEKO_BASE_URL = seko.base_url + "ihub-without-reference-lists/"
    page = admin_client.get("/mappings/carriers/").content.decode()
    assert "could not be checked" in page and "no reference list" in page and "unknown to Seko" not in page
    # Seko down: the same, saying why.
    settings.SEKO_BASE_URL = seko.base_url
    seko.control("POST", "_sim/faults", {"error_rate": 1.0})
    page = admin_client.get("/mappings/carriers/?recheck=1").content.decode()
    assert "Seko did not answer" in page and "unknown to Seko" not in page


def test_csv_import_writes_nothing_when_any_row_is_wrong_and_lists_every_error(admin_client):
    table = TABLES["carriers"]
    bad = ("bc_ship_via,seko_courier_name,seko_courier_service,service_level,description,active\n"
           "OK1,DPD,12,NEXTDAY,,true\n"
           ",DPD,13,,,true\n"
           "OK1,DPD,14,,,true\n"
           "OK2,DPD,15,,,maybe\n")
    result = import_csv(table, bad)
    assert not result.ok and len(result.errors) == 3
    assert result.errors[0].startswith("Line 3") and "already on line 2" in result.errors[1]
    assert "active must be true or false" in result.errors[2]
    assert not CarrierMapping.objects.exists()
    response = admin_client.post("/mappings/carriers/import", {"file": _upload(bad)})
    assert "Nothing was imported" in response.content.decode()


def test_csv_export_then_import_is_a_no_op_and_a_change_is_applied(world, admin_client):
    _, seko = world
    seko.control("POST", "_sim/services", [{"CourierName": "RoyalMail", "CourierService": "TPN24"},
                                           {"CourierName": "RoyalMail", "CourierService": "TPS48"},
                                           {"CourierName": "DHL", "CourierService": "EXP"}])
    table = TABLES["carriers"]
    exported = export_csv(table)
    again = import_csv(table, exported)
    assert (again.ok, again.created, again.updated, again.unchanged) == (True, 0, 0, 1)
    changed = import_csv(table, exported.replace("TPN24", "TPS48") + "DHLEXP,DHL,EXP,EXPRESS,,\n")
    assert (changed.created, changed.updated) == (1, 1)
    assert CarrierMapping.objects.get(bc_ship_via="RMNDAY").seko_courier_service == "TPS48"
    assert CarrierMapping.objects.get(bc_ship_via="DHLEXP").active is True
    download = admin_client.get("/mappings/carriers/export.csv")
    assert download["Content-Type"].startswith("text/csv") and b"DHLEXP" in download.content


def test_deactivating_holds_new_orders_and_reactivating_releases_them(
        world, admin_client, monkeypatch, django_capture_on_commit_callbacks):
    bluecherry, seko = world
    monkeypatch.setattr(Conf, "SYNC", True)
    row = CarrierMapping.objects.get(bc_ship_via="RMNDAY")
    admin_client.post(f"/mappings/carriers/{row.pk}/active", {"active": "0", "confirmed": "1"})
    release(bluecherry, BlueCherryOrderFactory(ord_num="SO-RE"))
    run_flow()
    assert Order.objects.get(ord_num="SO-RE").status == Order.Status.QUARANTINED
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(f"/mappings/carriers/{row.pk}/active", {"active": "1"})
    assert Order.objects.get(ord_num="SO-RE").status == Order.Status.SENT
    assert "SO-RE" in seko_orders(seko)


def test_retransmit_re_fetches_the_order_from_blue_cherry_revalidates_and_sends_it_now(world):
    bluecherry, seko = world
    client = signed_in("ops")
    release(bluecherry, BlueCherryOrderFactory(ord_num="SO-RT", ship_to=ShipToFactory(postcode="")))
    run_flow()
    assert Order.objects.get(ord_num="SO-RT").status == Order.Status.QUARANTINED
    # Fixed in Blue Cherry; retransmit takes it now rather than waiting for the next pull.
    bluecherry.control("PATCH", "_sim/orders/SO-RT", {"ship_to": {"postcode": "SL4 1HE"}})
    response = client.post("/orders/SO-RT/retransmit", follow=True)
    assert "re-fetched from Blue Cherry: sent to Seko" in response.content.decode()
    order = Order.objects.get(ord_num="SO-RT")
    assert order.status == Order.Status.SENT and order.pick_ticket_at is not None
    assert seko_orders(seko)["SO-RT"]["attempts"] == 1
    assert not IntegrationException.objects.filter(trace_key="order:SO-RT", status="open").exists()
    again = client.post("/orders/SO-RT/retransmit", follow=True).content.decode()
    assert "only an order not yet at Seko" in again
    assert seko_orders(seko)["SO-RT"]["attempts"] == 1
    timeline = client.get("/orders/SO-RT/").content.decode()
    assert "Retransmit requested by u-ops" in timeline and "get_sales_order" in timeline


def test_retransmit_when_blue_cherry_is_down_changes_nothing(world, settings):
    bluecherry, _ = world
    settings.HTTP_MAX_RETRIES = 0
    release(bluecherry, BlueCherryOrderFactory(ord_num="SO-BD", ship_via="ZZFAST"))
    run_flow()
    bluecherry.control("POST", "_sim/faults", {"error_rate": 1.0})
    from integration.orders import flow as orders

    with pytest.raises(orders.ActionRefused, match="Nothing was changed"):
        orders.retransmit_order(Order.objects.get(ord_num="SO-BD"))
    assert Order.objects.get(ord_num="SO-BD").status == Order.Status.QUARANTINED
    assert catalogue.MAPPING_CARRIER_UNKNOWN.code in {
        e.kind for e in IntegrationException.objects.filter(trace_key="order:SO-BD", status="open")}


def _upload(text: str):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("rows.csv", text.encode(), content_type="text/csv")
