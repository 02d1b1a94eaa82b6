"""Dispatches as Seko's pages document them ("Push Dispatch Confirmation", "Push Tracking Details"):
tracking that follows its dispatch by sales order, a tracking number that reaches Blue Cherry
after the shipment was posted, and a courier service named in words or by another carrier."""

# The order-flow tests' `world` fixture is imported and then taken as a test argument by name.

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from exceptions import catalogue
from exceptions.models import IntegrationException
from integration.clients.bluecherry import BlueCherryClient
from integration.clients.errors import NotFound, Rejected, Transient
from integration.clients.seko import parse_push
from integration.dispatches import flow as dispatches
from integration.dispatches import intake
from integration.dispatches.rules import CarrierRow, OrderView, resolve_carrier, validate_dispatch
from integration.mappings.csv_io import export_csv, import_csv
from integration.mappings.tables import TABLES
from integration.models import CarrierMapping, Dispatch, Order, PushPart
from tests.factories import BlueCherryOrderFactory, CarrierMappingFactory, LineFactory
from tests.test_dispatch_flow import bc_order, open_kinds, push, take_in
from tests.test_order_flow import release, run_flow, world  # noqa: F401  (world is a fixture)

FIXTURES = Path(__file__).parent / "fixtures" / "seko-documented"


@pytest.fixture(autouse=True)
def push_settings(settings):
    settings.SEKO_PUSH_TOKEN = "flow-token"
    settings.SEKO_PUSH_SECRET = ""
    settings.DISPATCH_POLL_GRACE_SECONDS = 0
    settings.DISPATCH_TRACKING_WAIT_SECONDS = 600  # tracking may follow in a later push
    return settings


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def sent_order(bluecherry, ord_num: str, **fields: Any) -> Order:
    release(bluecherry, BlueCherryOrderFactory(ord_num=ord_num, lines=[LineFactory(line_no=1)], **fields))
    run_flow()
    order = Order.objects.get(ord_num=ord_num)
    assert order.status == Order.Status.SENT
    return order


_record_ids = iter(range(770000, 780000))


def confirmation(order: Order, **changes: Any) -> dict[str, Any]:
    """A DispatchConfirmation as documented: a GUID DispatchId, the service in words."""
    line = order.lines.get(line_no=1)
    body = {"InterfaceRecordId": str(next(_record_ids)), "SequenceNumber": 1, "MessagePart": 1, "MessageTotal": 1,
            "SalesOrderNumber": order.ord_num, "GUID": order.seko_guid, "DCCode": "DCCL01",
            "DispatchId": str(uuid.uuid4()), "DispatchDate": "2026-11-27T16:40:00Z", "CourierName": "RoyalMail",
            "CourierService": "TPN24", "TrackingNumber": "",
            "List": {"DispatchLineItem": [{"LineNumber": 1, "ProductCode": line.sku, "Quantity": line.qty_ordered}]}}
    body.update(changes)
    return body


def tracking_details(order: Order, tracking: str, dispatch_number: str = "1", sequence: int = 1) -> dict[str, Any]:
    return {"InterfaceRecordId": str(next(_record_ids)), "SequenceNumber": sequence, "MessagePart": 1,
            "MessageTotal": 1, "SalesOrderNumber": order.ord_num, "DispatchNumber": dispatch_number,
            "Courier": "RoyalMail", "TrackingNumber": tracking, "TrackingUrl": f"https://track.example/{tracking}"}


def shipment_of(bluecherry, ord_num: str) -> dict[str, Any]:
    [shipment] = bc_order(bluecherry, ord_num)["shipments"]
    return shipment


def notes(order: Order) -> str:
    return " | ".join(order.events.values_list("note", flat=True))


# --- Point 4: tracking details ----------------------------------------------------------------------

@pytest.mark.django_db
def test_tracking_attaches_by_sales_order_not_by_dispatch_id_and_the_waiting_dispatch_is_posted(world, client):
    bluecherry, _ = world
    order = sent_order(bluecherry, "SO-T1")
    push(client, ("DispatchConfirmation", confirmation(order)))
    take_in()
    dispatch = Dispatch.objects.get(order=order)
    # No tracking number yet: it waits for Seko's TrackingDetails rather than raise an exception.
    assert dispatch.status == Dispatch.Status.RECEIVED and open_kinds(dispatch.dispatch_id) == set()
    assert "waiting for Seko's TrackingDetails" in notes(order)

    # DispatchNumber is Seko's counter of the order's dispatches ("1"), never the DispatchId.
    push(client, ("TrackingDetails", tracking_details(order, "JD100GB")))
    take_in()
    dispatch.refresh_from_db()
    assert dispatch.status == Dispatch.Status.POSTED and dispatch.bc_tracking_number == "JD100GB"
    assert shipment_of(bluecherry, "SO-T1")["tracking_numbers"] == ["JD100GB"]


@pytest.mark.django_db
def test_tracking_that_shares_its_dispatch_confirmations_record_id_and_sequence_is_not_a_repeat(world, client):
    """Seko numbers each push service on its own and both messages may carry the order's GUID as
    InterfaceRecordId: the same triple under another type is a different part, never a repeat."""
    bluecherry, _ = world
    order = sent_order(bluecherry, "SO-T9")
    same = {"InterfaceRecordId": order.seko_guid, "SequenceNumber": 7, "MessagePart": 1}
    push(client, ("DispatchConfirmation", confirmation(order, **same)),
         ("TrackingDetails", {**tracking_details(order, "JD900GB"), **same}))
    take_in()
    assert PushPart.objects.filter(repeats=0).count() == 2
    dispatch = Dispatch.objects.get(order=order)
    assert dispatch.status == Dispatch.Status.POSTED
    assert shipment_of(bluecherry, "SO-T9")["tracking_numbers"] == ["JD900GB"]


@pytest.mark.django_db
def test_tracking_that_comes_before_its_dispatch_is_kept_and_applied_when_the_dispatch_arrives(world, client):
    bluecherry, _ = world
    order = sent_order(bluecherry, "SO-T2")
    push(client, ("TrackingDetails", tracking_details(order, "JD200GB")))
    take_in()
    assert PushPart.objects.get(type=PushPart.TRACKING, sales_order_number="SO-T2").applied_at is None
    push(client, ("DispatchConfirmation", confirmation(order)))
    take_in()
    assert Dispatch.objects.get(order=order).status == Dispatch.Status.POSTED
    assert shipment_of(bluecherry, "SO-T2")["tracking_numbers"] == ["JD200GB"]


@pytest.mark.django_db
def test_the_highest_dispatch_number_wins_whatever_order_the_tracking_messages_arrive_in(world, client):
    bluecherry, _ = world
    order = sent_order(bluecherry, "SO-T3")
    push(client, ("TrackingDetails", tracking_details(order, "JD-NEW", dispatch_number="2", sequence=5)))
    push(client, ("TrackingDetails", tracking_details(order, "JD-OLD", dispatch_number="1", sequence=9)))
    push(client, ("DispatchConfirmation", confirmation(order)))
    take_in()
    assert shipment_of(bluecherry, "SO-T3")["tracking_numbers"] == ["JD-NEW"]


@pytest.mark.django_db
def test_a_tracking_number_that_comes_after_the_shipment_was_posted_reaches_blue_cherry_once(world, client):
    bluecherry, _ = world
    order = sent_order(bluecherry, "SO-T4")
    push(client, ("DispatchConfirmation", confirmation(order, TrackingNumber="JD400GB")))
    take_in()
    dispatch = Dispatch.objects.get(order=order)
    assert dispatch.status == Dispatch.Status.POSTED and dispatch.bc_tracking_number == "JD400GB"

    later = tracking_details(order, "JD401GB", dispatch_number="2")
    push(client, ("TrackingDetails", later))
    take_in()
    dispatch.refresh_from_db()
    assert shipment_of(bluecherry, "SO-T4")["tracking_numbers"] == ["JD401GB"]
    assert dispatch.bc_tracking_number == "JD401GB" and dispatch.tracking_sent_at is not None
    assert "sent to Blue Cherry shipment" in notes(order) and "it held JD400GB" in notes(order)
    updates = [n for n in bc_order(bluecherry, "SO-T4")["notifications"] if n["kind"] == "TRACKING_UPDATE"]
    assert len(updates) == 1

    push(client, ("TrackingDetails", later))  # Seko repeats the push: nothing is sent again
    take_in()
    updates = [n for n in bc_order(bluecherry, "SO-T4")["notifications"] if n["kind"] == "TRACKING_UPDATE"]
    assert len(updates) == 1


@pytest.mark.django_db
def test_a_failed_tracking_update_is_retried_later_without_holding_up_other_dispatches(world, client, monkeypatch):
    bluecherry, _ = world
    first, second = sent_order(bluecherry, "SO-T5"), sent_order(bluecherry, "SO-T6")
    push(client, ("DispatchConfirmation", confirmation(first, TrackingNumber="JD500GB")))
    take_in()
    real = BlueCherryClient.update_shipment_tracking

    def down(self, ship_num, numbers):
        raise Transient("Blue Cherry is down for maintenance")

    monkeypatch.setattr(BlueCherryClient, "update_shipment_tracking", down)
    push(client, ("TrackingDetails", tracking_details(first, "JD501GB", dispatch_number="2")),
         ("DispatchConfirmation", confirmation(second, TrackingNumber="JD600GB")))
    take_in()
    assert Dispatch.objects.get(order=second).status == Dispatch.Status.POSTED  # not held up
    owed = Dispatch.objects.get(order=first)
    assert owed.tracking_sent_at is None and owed.next_attempt_at is not None and "maintenance" in owed.last_error
    assert shipment_of(bluecherry, "SO-T5")["tracking_numbers"] == ["JD500GB"]

    monkeypatch.setattr(BlueCherryClient, "update_shipment_tracking", real)
    Dispatch.objects.filter(pk=owed.pk).update(next_attempt_at=None)  # its retry time has come
    take_in()
    assert shipment_of(bluecherry, "SO-T5")["tracking_numbers"] == ["JD501GB"]


@pytest.mark.django_db
def test_a_dispatch_whose_tracking_never_comes_is_quarantined_once_the_wait_is_over(world, client, settings):
    bluecherry, _ = world
    order = sent_order(bluecherry, "SO-T7")
    push(client, ("DispatchConfirmation", confirmation(order)))
    take_in()
    dispatch = Dispatch.objects.get(order=order)
    assert dispatch.status == Dispatch.Status.RECEIVED
    settings.DISPATCH_TRACKING_WAIT_SECONDS = 0
    Dispatch.objects.filter(pk=dispatch.pk).update(next_attempt_at=None)
    take_in()
    dispatch.refresh_from_db()
    assert dispatch.status == Dispatch.Status.QUARANTINED
    assert open_kinds(dispatch.dispatch_id) == {catalogue.DISPATCH_INCOMPLETE.code}
    push(client, ("TrackingDetails", tracking_details(order, "JD700GB")))  # late, but it releases it
    take_in()
    dispatch.refresh_from_db()
    assert dispatch.status == Dispatch.Status.POSTED and open_kinds(dispatch.dispatch_id) == set()


# --- Point 5: the courier service as text -----------------------------------------------------------

@pytest.mark.django_db
def test_a_courier_service_named_in_words_posts_with_the_orders_ship_via(world, client):
    bluecherry, seko = world
    seko.control("POST", "_sim/services", [{"CourierName": "DPD", "CourierService": "12"}])
    CarrierMapping.objects.filter(bc_ship_via="RMNDAY").update(seko_service_description="Tracked 24")
    CarrierMappingFactory(bc_ship_via="DPDNXT", seko_courier_name="DPD", seko_courier_service="12",
                          seko_service_description="Next Day")
    order = sent_order(bluecherry, "SO-C1", ship_via="DPDNXT")
    push(client, ("DispatchConfirmation", confirmation(order, CourierName="DPD", CourierService=" next day ",
                                                       TrackingNumber="1550001")))
    take_in()
    assert Dispatch.objects.get(order=order).status == Dispatch.Status.POSTED
    shipment = shipment_of(bluecherry, "SO-C1")
    assert (shipment["carrier"], shipment["ship_via"]) == ("DPD", "DPDNXT")
    assert "Seko dispatched with" not in notes(order)  # the carrier asked for: nothing to say


@pytest.mark.django_db
def test_a_different_carrier_than_asked_for_is_posted_as_seko_reports_it_and_noted(world, client):
    bluecherry, _ = world
    CarrierMappingFactory(bc_ship_via="DPDNXT", seko_courier_name="DPD", seko_courier_service="12",
                          seko_service_description="Next Day")
    mapped = sent_order(bluecherry, "SO-C2")  # sent as RMNDAY: RoyalMail TPN24
    unmapped = sent_order(bluecherry, "SO-C3")
    push(client, ("DispatchConfirmation", confirmation(mapped, CourierName="DPD", CourierService="Next Day",
                                                       TrackingNumber="1550002")),
         ("DispatchConfirmation", confirmation(unmapped, CourierName="Evri", CourierService="48 Hour",
                                               TrackingNumber="H00A1")))
    take_in()
    assert (shipment_of(bluecherry, "SO-C2")["carrier"], shipment_of(bluecherry, "SO-C2")["ship_via"]) == \
        ("DPD", "DPDNXT")
    assert "Seko dispatched with DPD 'Next Day', not RoyalMail TPN24" in notes(mapped)
    # A carrier no mapping knows: posted as Seko names it, with the order's own ship-via.
    assert (shipment_of(bluecherry, "SO-C3")["carrier"], shipment_of(bluecherry, "SO-C3")["ship_via"]) == \
        ("Evri", "RMNDAY")
    assert "no carrier mapping knows it" in notes(unmapped)
    assert not IntegrationException.objects.filter(status="open", kind__startswith="dispatch.").exists()


def test_carrier_matching_ignores_case_and_spaces_and_prefers_the_orders_own_mapping():
    rows = [CarrierRow("RMNDAY", "RoyalMail", "TPN24", "Tracked 24"),
            CarrierRow("RM48", "RoyalMail", "TPS48", "Tracked 48"),
            CarrierRow("DPDNXT", "DPD", "12", "Next Day")]
    assert resolve_carrier(" royalmail ", "tracked  24", rows, "RMNDAY").ship_via == "RMNDAY"
    assert resolve_carrier("RoyalMail", "tpn24", rows, "RMNDAY").note == ""
    moved = resolve_carrier("RoyalMail", "Tracked 48", rows, "RMNDAY")
    assert moved.ship_via == "RM48" and "not RoyalMail TPN24" in moved.note
    assert resolve_carrier("RoyalMail", "Same Day", rows, "RMNDAY").ship_via == "RMNDAY"  # our courier, new words
    assert resolve_carrier("DPD", "", rows, "DPDNXT").ship_via == "DPDNXT"


def test_our_own_courier_with_service_words_no_mapping_holds_posts_with_the_orders_ship_via_and_asks_for_them():
    """A Seko that names its services in its own words must not hold every shipment (and its
    invoice and the customer's notification) until an admin has typed them in."""
    view = OrderView(ord_num="SO-1", sent=True, ship_via="RMNDAY",
                     lines=[{"line_no": 1, "sku": "A", "qty_ordered": 1, "qty_shipped": 0, "qty_cancelled": 0}])
    rows = [CarrierRow("RMNDAY", "RoyalMail", "TPN24", "Tracked 24")]
    confirmation = {"SalesOrderNumber": "SO-1", "DispatchId": "d", "DispatchDate": "2026-11-27T16:40:00",
                    "CourierName": "RoyalMail", "CourierService": "Same Day", "TrackingNumber": "T",
                    "List": {"DispatchLineItem": [{"ProductCode": "A", "Quantity": 1}]}}
    assert validate_dispatch(confirmation, view, rows) == []
    match = resolve_carrier("RoyalMail", "Same Day", rows, "RMNDAY")
    assert match is not None and match.ship_via == "RMNDAY"
    assert "'Same Day'" in match.note and "describes it" in match.note
    # Neither Seko's carrier nor the order's own mapping: nothing to post with, held for ops.
    assert resolve_carrier("RoyalMail", "Same Day", rows, "UNMAPPED") is None


# --- The client reads the documented bodies; Blue Cherry takes a later tracking number ----------------

def test_the_documented_dispatch_confirmation_push_is_parsed():
    [record] = parse_push(fixture("push_dispatch_confirmation.json"))
    fields = record.fields
    assert record.type == "DispatchConfirmation"
    assert uuid.UUID(fields["DispatchId"]) and fields["CourierService"] == "Next Day"
    assert fields["SalesOrderNumber"] == "SO-204811" and fields["DispatchDate"] == "2026-11-27T16:40:09"
    lines = fields["List"]["DispatchLineItem"]
    assert [(line["ProductCode"], line["Quantity"], line["LotNo"]) for line in lines] == [
        ("10023-NAVY-M", 1, "L-2611"), ("10023-NAVY-M", 1, "L-2612"), ("10023-NAVY-L", 0, "")]


def test_the_documented_tracking_details_push_is_parsed():
    [record] = parse_push(fixture("push_tracking_details.json"))
    fields = record.fields
    assert record.type == "TrackingDetails"
    assert (fields["SalesOrderNumber"], fields["DispatchNumber"], fields["Courier"]) == ("SO-204811", "1", "DPD")
    assert fields["TrackingNumber"] == "15501234567890"


def test_blue_cherry_takes_a_shipments_tracking_numbers_and_a_repeat_changes_nothing(bluecherry):
    bluecherry.control("POST", "_sim/items", [{"sku": "10023-NAVY-M", "upc": "5056000000017"}])
    bluecherry.control("POST", "_sim/orders", [{"ord_num": "SO-P1", "status": "RELEASED",
                                                "lines": [{"line_no": 1, "sku": "10023-NAVY-M", "qty_ordered": 1}]}])
    with BlueCherryClient(bluecherry.base_url, bluecherry.api_key, max_retries=0) as bc:
        posted = bc.create_shipment({"ord_num": "SO-P1", "wms_dispatch_id": "d-1", "ship_date": "2026-11-27T16:40:00Z",
                                     "carrier": "DPD", "ship_via": "DPDNXT", "tracking_numbers": [],
                                     "lines": [{"line_no": 1, "qty_shipped": 1}], "cancel_remainder": True})
        first = bc.update_shipment_tracking(posted["ship_num"], ["1550009"])
        again = bc.update_shipment_tracking(posted["ship_num"], ["1550009"])
        assert first["tracking_numbers"] == again["tracking_numbers"] == ["1550009"]
        with pytest.raises(NotFound):
            bc.update_shipment_tracking("SH-NOPE", ["1"])
        with pytest.raises(Rejected):
            bc.update_shipment_tracking(posted["ship_num"], [""])
    kinds = [n["kind"] for n in bluecherry.control("GET", "_sim/notifications")["results"]]
    assert kinds == ["DISPATCH_CONFIRMATION", "TRACKING_UPDATE"]


# --- The Seko simulator speaks the documented shapes ----------------------------------------------------

@pytest.mark.django_db
def test_the_simulator_names_the_service_in_words_and_can_send_tracking_later_in_its_own_push(world):
    bluecherry, seko = world
    seko.control("POST", "_sim/services", [{"CourierName": "RoyalMail", "CourierService": "TPN24",
                                            "Description": "Tracked 24"}])
    sent_order(bluecherry, "SO-S1")
    seko.control("POST", "_sim/config", {"push_url": "http://127.0.0.1:9/nowhere"})
    seko.control("POST", "_sim/warehouse/advance", {"orders": "all", "seed": 1, "tracking_later_rate": 1,
                                                     "tracking_later_seconds": 3600, "zoneless_date_rate": 1})
    outbox = seko.control("GET", "_sim/pushes")["pushes"]
    [confirmed] = [p["record"] for p in outbox if p["kind"] == "DispatchConfirmation"]
    [tracked] = [p["record"] for p in outbox if p["kind"] == "TrackingDetails"]
    assert confirmed["CourierService"] == "Tracked 24" and confirmed["TrackingNumber"] == ""
    assert uuid.UUID(confirmed["DispatchId"]) and not confirmed["DispatchDate"].endswith("Z")  # UTC, no zone
    assert tracked["DispatchNumber"] == "1" and tracked["TrackingNumber"].startswith("JD")
    seko.control("POST", "_sim/push/flush")  # the tracking belongs to a later push cycle
    statuses = {p["kind"]: p["status"] for p in seko.control("GET", "_sim/pushes")["pushes"]}
    assert statuses["TrackingDetails"] == "pending"
    reference = seko.control("GET", "reference/v1/courierservices")["List"]["CourierService"]
    assert {"CourierName": "RoyalMail", "CourierService": "TPN24", "Description": "Tracked 24"} in reference


# --- The carrier mapping keeps the service in words -------------------------------------------------------

@pytest.mark.django_db
def test_the_service_in_words_goes_through_the_csv_export_and_import():
    table = TABLES["carriers"]
    assert "seko_service_description" in table.columns
    CarrierMappingFactory(bc_ship_via="DPDNXT", seko_courier_name="DPD", seko_courier_service="12")
    text = export_csv(table).replace("DPDNXT,DPD,12,", "DPDNXT,DPD,12,Next Day")
    result = import_csv(table, text)
    assert result.ok and result.updated == 1, result.errors
    assert CarrierMapping.objects.get(bc_ship_via="DPDNXT").seko_service_description == "Next Day"


@pytest.mark.django_db
def test_the_carrier_form_offers_sekos_words_and_the_list_flags_a_row_whose_words_differ(world):
    from django.contrib.auth.models import Group, User
    from django.core.cache import cache
    from django.test import Client

    _, seko = world
    cache.clear()
    seko.control("POST", "_sim/services", [{"CourierName": "RoyalMail", "CourierService": "TPN24",
                                            "Description": "Tracked 24"}])
    user = User.objects.create_user("words-admin", password="pw")
    user.groups.add(Group.objects.get_or_create(name="integration-admin")[0])
    browser = Client()
    browser.force_login(user)
    row = CarrierMapping.objects.get(bc_ship_via="RMNDAY")
    form = browser.get(f"/mappings/carriers/{row.pk}/").content.decode()
    assert 'list="seko-service-words"' in form and '<option value="Tracked 24">' in form
    listing = browser.get("/mappings/carriers/").content.decode()
    assert "Seko describes this service as &#x27;Tracked 24&#x27;" in listing
    CarrierMapping.objects.filter(pk=row.pk).update(seko_service_description="tracked 24")
    assert "Seko describes this service as" not in browser.get("/mappings/carriers/").content.decode()
    cache.clear()


@pytest.mark.django_db
def test_tracking_laid_over_a_dispatch_while_it_was_being_checked_sends_it_back_to_be_posted(
        world, client, settings, django_capture_on_commit_callbacks):
    """Seen under load in the headless demo: the tracking arrived while the dispatch was claimed
    and checked with what was read before it, the dispatch was held for a missing tracking
    number it already had, and nothing looked at it again."""
    settings.DISPATCH_TRACKING_WAIT_SECONDS = 0  # the wait is over: a dispatch without tracking is held
    bluecherry, _ = world
    order = sent_order(bluecherry, "SO-T8")
    push(client, ("DispatchConfirmation", confirmation(order)))
    intake.process_pushes()
    [claimed] = dispatches.claim_due_dispatches(10)  # read before the tracking came
    push(client, ("TrackingDetails", tracking_details(order, "JD800GB")))
    intake.process_pushes()
    with django_capture_on_commit_callbacks(execute=True), dispatches.bluecherry_client() as bc:
        dispatches.post_dispatch(claimed, dispatches.carrier_lookup(), bc)
    dispatch = Dispatch.objects.get(order=order)
    assert dispatch.status == Dispatch.Status.RECEIVED  # sent back to be checked with its tracking
    take_in()
    dispatch.refresh_from_db()
    assert dispatch.status == Dispatch.Status.POSTED
    assert shipment_of(bluecherry, "SO-T8")["tracking_numbers"] == ["JD800GB"]
    assert not IntegrationException.objects.filter(kind=catalogue.DISPATCH_INCOMPLETE.code, status="open").exists()
