"""Seko's messages as its pages write them (the duplicate product without its code, the sales
order that "does not exist"), timestamps without a zone, records that cannot be read, and the
two endpoints no Seko page documents (the order status by number, one order's dispatch).

Client tests answer from canned bodies (``Canned``: a requests adapter, so the client's own
HTTP path runs); flow tests run over real HTTP against the simulators, with ``Canned`` put in
front of Seko where it must answer what the simulator does not."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict

from exceptions import catalogue
from exceptions.models import IntegrationException
from integration.clients import errors
from integration.clients.seko import AlreadyExists, SekoClient, normalise
from integration.dispatches import flow as dispatches
from integration.dispatches.rules import parse_dispatch_date
from integration.items import flow as items
from integration.items.mapper import map_product
from integration.models import Item, MessageLog, Order, SyncCursor
from integration.orders import flow as orders
from integration.shared import cursors
from integration.shared.systems import seko_client
from tests.factories import BlueCherryItemFactory, BlueCherryOrderFactory, LineFactory, valid_upc
from tests.test_order_flow import release, run_flow, world  # noqa: F401  (world is a fixture)

FIXTURES = Path(__file__).parent / "fixtures" / "seko-documented"
IIS_404 = ("<!DOCTYPE html><html><head><title>404 - File or directory not found.</title></head>"
           "<body><h2>404 - File or directory not found.</h2></body></html>")
NO_ROUTE = json.dumps({"Message": "No HTTP resource was found that matches the request URI "
                                  "'https://ihub.example/api/salesorders/v4/SO-1/status'.",
                       "MessageDetail": "No action was found on the controller 'SalesOrders'."})
DOCUMENTED_DUPLICATE = "Error Submitting Product Master: 20417-OLIVE-L - Error. Product Code already exists."


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def envelope(success: bool, message: str = "", **fields: Any) -> str:
    return json.dumps({"CallStatus": {"Success": success, "Code": 0 if success else 100, "Message": message},
                       **fields})


Answer = tuple[int, str]


class Canned(HTTPAdapter):
    """Answers a request whose path contains one of ``answers``' fragments with that canned
    (status, body); any other request goes on to the real server, or fails when there is none."""

    def __init__(self, answers: dict[str, Answer], passthrough: bool = False):
        super().__init__()
        self.answers = answers
        self.passthrough = passthrough
        self.seen: list[str] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.seen.append(request.path_url)
        for fragment, (status, body) in self.answers.items():
            if fragment in request.path_url:
                response = requests.Response()
                response.status_code = status
                response._content = body.encode()
                response.encoding = "utf-8"
                response.headers = CaseInsensitiveDict({"Content-Type": "application/json" if body.startswith("{")
                                                        else "text/html"})
                response.url = request.url or ""
                response.request = request
                return response
        if not self.passthrough:
            raise AssertionError(f"no canned answer for {request.path_url}")
        return super().send(request, **kwargs)


def canned_client(answers: dict[str, Answer]) -> SekoClient:
    client = SekoClient("http://seko.invalid/api/", "KEY", max_retries=0)
    client.session.mount("http://", Canned(answers))
    return client


def in_front_of_seko(answers: dict[str, Answer]) -> Callable[[], SekoClient]:
    """A ``seko_client`` factory whose clients reach the real simulator, except for ``answers``."""

    def factory() -> SekoClient:
        client = seko_client()
        client.session.mount("http://", Canned(answers, passthrough=True))
        return client

    return factory


def product() -> dict[str, Any]:
    return fixture("product_submit")["ProductMaster"]


def open_exceptions(kind: catalogue.Kind) -> list[IntegrationException]:
    return list(IntegrationException.objects.filter(kind=kind.code, status=IntegrationException.Status.OPEN))


# --- 6. Messages: the client ---------------------------------------------------------------------


def test_the_documented_product_request_fixtures_normalise_to_what_the_client_sends() -> None:
    submit, update = normalise(fixture("product_submit")), normalise(fixture("product_update"))
    assert submit["ProductMaster"]["ProductCode"] == update["ProductMaster"]["ProductCode"] == "20417-OLIVE-L"
    assert submit["List"]["SupplierMapping"] == [
        {"SupplierCode": "SUP1", "SupplierDescription": "Main supplier", "UOM": 1}]
    assert SekoClient._product_body(product(), submit["List"]["SupplierMapping"]) == fixture("product_submit")


def test_the_product_read_back_fixture_parses_with_its_quirks() -> None:
    client = canned_client({"products/v4/20417": (200, json.dumps(fixture("product_get")))})
    read = client.get_product("20417")
    assert (read["ProductCode"], read["EAN"], read["Currency"], read["Size"]) == (
        "20417", "5056000004176", "GBP", None)


def test_a_product_update_seko_accepts_returns_quietly() -> None:
    client = canned_client({"products/v4/update": (200, envelope(True))})
    assert client.update_product(fixture("product_update")["ProductMaster"]) is None


@pytest.mark.parametrize("message", [
    DOCUMENTED_DUPLICATE,  # as Seko's pages write it today: no code after "Product Code"
    "Error Submitting Product Master: 20417-OLIVE-L - Error. Product Code 20417-OLIVE-L already exists.",
])
def test_the_duplicate_product_answer_is_already_exists_with_or_without_the_code(message: str) -> None:
    client = canned_client({"products/v4/submit": (200, envelope(False, message))})
    with pytest.raises(AlreadyExists) as raised:
        client.submit_product(product())
    assert raised.value.remote_message == message


def test_the_documented_duplicate_fixture_is_already_exists() -> None:
    client = canned_client({"products/v4/submit": (200, json.dumps(fixture("product_submit_duplicate")))})
    with pytest.raises(AlreadyExists, match="Product Code already exists"):
        client.submit_product(product())


@pytest.mark.parametrize("message", [
    "Error Submitting Product Master: 20417-OLIVE-L - Error. Product Code does not exist.",
    "Error Submitting Product Master: 20417-OLIVE-L - Error. Product Code 20417-OLIVE-L does not exist.",
    "Error Submitting Product Master: 20417-OLIVE-L - Error. Product 20417-OLIVE-L does not exist.",
])
def test_an_update_of_a_product_seko_lacks_is_not_found_in_every_wording(message: str) -> None:
    client = canned_client({"products/v4/update": (200, envelope(False, message))})
    with pytest.raises(errors.NotFound):
        client.update_product(product())


def test_the_documented_cancel_of_an_order_seko_does_not_know_is_not_found() -> None:
    message = "Error Submitting Sales Order Cancellation: SO-9 - Error. Sales Order does not exist."
    client = canned_client({"salesorders/v3/SO-9/cancel": (200, json.dumps({"Response": json.loads(
        envelope(False, message))}))})
    with pytest.raises(errors.NotFound) as raised:
        client.cancel_order("SO-9")
    assert raised.value.remote_message == message


@pytest.mark.parametrize("message", [
    "Error Submitting SalesOrder: SO-1 - Error. Sales Order already exists.",
    "Error Submitting SalesOrder: SO-1 - Error. Sales Order SO-1 already exists.",
])
def test_a_resubmitted_order_is_already_existing_with_or_without_its_number(message: str) -> None:
    client = canned_client({"salesorders/v4/submit": (200, envelope(False, message, GUID=None))})
    result = client.submit_order({"SalesOrder": {"SalesOrderNumber": "SO-1"}})
    assert result.already_existed and result.guid is None


def test_something_else_that_already_exists_is_not_the_order_existing() -> None:
    message = "Error Submitting SalesOrder: SO-1 - Error. Product Code 100083 already exists."
    client = canned_client({"salesorders/v4/submit": (200, envelope(False, message, GUID=None))})
    with pytest.raises(errors.Rejected) as raised:
        client.submit_order({"SalesOrder": {"SalesOrderNumber": "SO-1"}})
    assert not isinstance(raised.value, errors.NotFound) and raised.value.remote_message == message


@pytest.mark.parametrize("message", [
    "Error Submitting Product Master: 20417-OLIVE-L - Error. Product Code is on hold; call SEKO (ref 42).",
    "The field HTSCode must be a string with a maximum length of 100.",
])
def test_an_unrecognised_product_refusal_keeps_sekos_text_verbatim(message: str) -> None:
    client = canned_client({"products/v4/submit": (200, envelope(False, message))})
    with pytest.raises(errors.Rejected) as raised:
        client.submit_product(product())
    assert type(raised.value) is errors.Rejected
    assert raised.value.remote_message == message


# --- 6. Messages: the item flow ------------------------------------------------------------------


@pytest.mark.django_db
def test_a_product_already_at_seko_is_updated_acknowledged_and_set_live(systems) -> None:
    bluecherry, seko = systems
    item = BlueCherryItemFactory(sku="PRE-1", upc=valid_upc(31), status="PENDING_WMS")
    seko.control("POST", "_sim/products", [{**map_product(item), "ProductDescription": "Loaded by hand"}])
    bluecherry.control("POST", "_sim/items", [item])
    items.sync_items()

    submit = MessageLog.objects.get(system="seko", operation="submit_product", request_body__contains='"PRE-1"')
    assert "Error Submitting Product Master: PRE-1 - Error. Product Code already exists." in submit.response_body
    row = Item.objects.get(sku="PRE-1")
    assert (row.sync_status, row.bc_status) == (Item.SyncStatus.LIVE, "LIVE")
    assert row.seko_acknowledged_at is not None and row.is_sellable
    assert bluecherry.control("GET", "items/PRE-1")["status"] == "LIVE"
    at_seko = seko.control("GET", "products/v4/PRE-1")["ProductMaster"]
    assert at_seko["ProductDescription"] == "Training Tee Navy M"  # our update replaced the older version
    assert not open_exceptions(catalogue.ITEM_SYNC_FAILED)


@pytest.mark.django_db
def test_item_sync_failed_carries_sekos_unrecognised_text_verbatim(systems, monkeypatch) -> None:
    bluecherry, _ = systems
    message = "Error Submitting Product Master: ODD-1 - Error. Brand CAS is not set up for this client."
    monkeypatch.setattr(items, "seko_client", in_front_of_seko({"products/v4/submit": (200, envelope(False, message))}))
    bluecherry.control("POST", "_sim/items", [BlueCherryItemFactory(sku="ODD-1", upc=valid_upc(32),
                                                                    status="PENDING_WMS")])
    items.sync_items()
    [failed] = open_exceptions(catalogue.ITEM_SYNC_FAILED)
    assert failed.message.endswith(f": {message}") and failed.problems[0]["message"] == message
    assert Item.objects.get(sku="ODD-1").last_error == message


# --- 7. Dates and records that cannot be read ----------------------------------------------------


def item_record(sku: str, n: int, updated_at: str) -> dict[str, Any]:
    return BlueCherryItemFactory(sku=sku, upc=valid_upc(n), status="PENDING_WMS", updated_at=updated_at)


def test_a_seko_date_without_a_zone_is_utc() -> None:
    assert parse_dispatch_date("2026-11-27T16:40:00") == datetime(2026, 11, 27, 16, 40, tzinfo=UTC)
    assert parse_dispatch_date("2026-11-27T16:40:00+01:00") == datetime(2026, 11, 27, 15, 40, tzinfo=UTC)
    assert parse_dispatch_date("27/11/2026") is None


def test_a_blue_cherry_timestamp_without_a_zone_is_utc() -> None:
    assert cursors.parse_timestamp("2026-11-27T09:12:00") == datetime(2026, 11, 27, 9, 12, tzinfo=UTC)
    with pytest.raises(ValueError, match="not an ISO 8601 timestamp"):
        cursors.parse_timestamp("last tuesday")


@pytest.mark.django_db
def test_an_item_whose_updated_at_has_no_zone_is_taken_as_utc() -> None:
    records = [item_record("NAIVE-1", 41, "2026-11-27T09:12:00")]
    assert cursors.pull_batched("items", lambda since: records, items.apply_items) == (1, 1)
    assert Item.objects.get(sku="NAIVE-1").bc_updated_at == datetime(2026, 11, 27, 9, 12, tzinfo=UTC)
    assert SyncCursor.objects.get(name="items").position == datetime(2026, 11, 27, 9, 12, tzinfo=UTC)


@pytest.mark.django_db
def test_an_item_whose_date_is_garbage_is_quarantined_and_the_pull_goes_on() -> None:
    records = [item_record("GOOD-1", 42, "2026-11-27T09:00:00Z"), item_record("BAD-DATE", 43, "2026-13-45T99:00"),
               item_record("GOOD-2", 44, "2026-11-27T10:00:00")]
    assert cursors.pull_batched("items", lambda since: records, items.apply_items) == (3, 2)
    assert set(Item.objects.values_list("sku", flat=True)) == {"GOOD-1", "GOOD-2"}
    assert SyncCursor.objects.get(name="items").position == datetime(2026, 11, 27, 10, tzinfo=UTC)
    [bad] = open_exceptions(catalogue.RECORD_MALFORMED)
    assert bad.trace_key == "record:items:BAD-DATE" and "2026-13-45T99:00" in bad.response_payload


@pytest.mark.django_db
def test_an_order_whose_order_date_cannot_be_read_is_quarantined_and_the_pull_goes_on() -> None:
    records = [BlueCherryOrderFactory(ord_num="SO-OK-1", updated_at="2026-11-27T09:00:00Z"),
               BlueCherryOrderFactory(ord_num="SO-BAD", order_date="the 27th", updated_at="2026-11-27T09:30:00Z"),
               BlueCherryOrderFactory(ord_num="SO-OK-2", order_date="2026-11-27T09:40:00",
                                      updated_at="2026-11-27T10:00:00")]
    assert cursors.pull_batched("orders.released", lambda since: records, orders.ingest_orders) == (3, 2)
    assert set(Order.objects.values_list("ord_num", flat=True)) == {"SO-OK-1", "SO-OK-2"}
    assert Order.objects.get(ord_num="SO-OK-2").order_date == datetime(2026, 11, 27, 9, 40, tzinfo=UTC)
    assert SyncCursor.objects.get(name="orders.released").position == datetime(2026, 11, 27, 10, tzinfo=UTC)
    [bad] = open_exceptions(catalogue.RECORD_MALFORMED)
    assert bad.trace_key == "record:orders.released:SO-BAD" and '"the 27th"' in bad.response_payload
    assert "could not be handled" in bad.message


@pytest.mark.django_db
def test_a_record_its_handler_cannot_take_is_quarantined_and_the_pull_goes_on() -> None:
    # A cancelled order without its number: take_cancel cannot even look it up.
    records = [{"status": "CANCELLED", "updated_at": "2026-11-27T09:00:00Z"},
               {"ord_num": "SO-X", "status": "CANCELLED", "updated_at": "2026-11-27T10:00:00Z"}]
    assert cursors.pull("orders.cancelled", lambda since: records, orders.take_cancel) == (2, 0)
    assert SyncCursor.objects.get(name="orders.cancelled").position == datetime(2026, 11, 27, 10, tzinfo=UTC)
    [bad] = open_exceptions(catalogue.RECORD_MALFORMED)
    assert "KeyError" in bad.message and '"CANCELLED"' in bad.response_payload


@pytest.mark.django_db
def test_an_outage_while_handling_a_record_stops_the_pull_rather_than_quarantine_the_record() -> None:
    def unavailable(record: dict[str, Any]) -> bool:
        raise errors.Transient("Blue Cherry did not answer")

    records = [{"ord_num": "SO-Y", "updated_at": "2026-11-27T09:00:00Z"}]
    with pytest.raises(errors.Transient):
        cursors.pull("orders.cancelled", lambda since: records, unavailable)
    assert not open_exceptions(catalogue.RECORD_MALFORMED)
    assert SyncCursor.objects.get(name="orders.cancelled").position is None


# --- 9. The endpoints no page documents ------------------------------------------------------------


@pytest.mark.parametrize("answer", [
    (404, IIS_404), (404, NO_ROUTE), (200, envelope(False, "No HTTP resource was found that matches the request URI")),
])
@pytest.mark.parametrize("call", ["order_status", "order_dispatch"])
def test_an_undocumented_endpoint_seko_lacks_is_unsupported_never_not_found(answer: Answer, call: str) -> None:
    client = canned_client({f"salesorders/v4/SO-1/{call.removeprefix('order_')}": answer})
    with pytest.raises(errors.Unsupported) as raised:
        getattr(client, call)("SO-1")
    assert not isinstance(raised.value, errors.NotFound)
    assert "has no endpoint" in str(raised.value)


@pytest.mark.parametrize("answer", [
    (200, envelope(False, "No results found for search criteria", GUID=None, Status=None)),
    (404, envelope(False, "No results found for search criteria")),
])
def test_ihubs_own_no_results_for_a_known_endpoint_is_still_not_found(answer: Answer) -> None:
    client = canned_client({"salesorders/v4/SO-1/status": answer})
    with pytest.raises(errors.NotFound):
        client.order_status("SO-1")


def sent_order(ord_num: str) -> Order:
    return Order.objects.create(ord_num=ord_num, status=Order.Status.SENT, seko_guid=f"G-{ord_num[3:]}",
                                bc_status="RELEASED", bc_updated_at=datetime(2026, 11, 27, tzinfo=UTC),
                                location="UK3PL", ship_via="RMNDAY", sent_at=datetime(2026, 11, 27, tzinfo=UTC))


@pytest.mark.django_db
def test_the_poll_says_it_cannot_recover_a_dispatch_when_seko_has_no_fetch_endpoint() -> None:
    order = sent_order("SO-P1")
    client = canned_client({"salesorders/v4/SO-P1/dispatch": (404, IIS_404)})
    assert dispatches._recover(client, "G-P1", None) == 0
    [alert] = open_exceptions(catalogue.SYNC_ENDPOINT_UNSUPPORTED)
    assert alert.owner == "integration-admin" and alert.trace_key == "system:seko:order_dispatch"
    assert "SO-P1" in alert.message and "cannot recover" in alert.message
    assert not order.dispatches.exists()


@pytest.mark.django_db
def test_the_poll_still_counts_a_dispatch_seko_has_not_got_as_nothing_to_recover() -> None:
    sent_order("SO-P2")
    client = canned_client({"salesorders/v4/SO-P2/dispatch": (200, envelope(False, "No results found for search "
                                                                                 "criteria"))})
    assert dispatches._recover(client, "G-P2", None) == 0
    assert not open_exceptions(catalogue.SYNC_ENDPOINT_UNSUPPORTED)


@pytest.mark.django_db
def test_an_order_seko_already_had_is_sent_without_a_guid_when_seko_has_no_status_endpoint(
        world, monkeypatch) -> None:
    bluecherry, _ = world
    body = BlueCherryOrderFactory(ord_num="SO-U1", lines=[LineFactory(line_no=1, sku="10023-NAVY-M")])
    release(bluecherry, body)
    # Seko took our first submit but its reply was lost: the resend meets "already exists".
    monkeypatch.setattr(orders, "seko_client", in_front_of_seko({
        "salesorders/v4/submit": (200, envelope(False, "Error Submitting SalesOrder: SO-U1 - Error. Sales Order "
                                                       "already exists.", GUID=None)),
        "salesorders/v4/SO-U1/status": (404, IIS_404),
    }))
    run_flow()
    order = Order.objects.get(ord_num="SO-U1")
    assert (order.status, order.seko_guid) == (Order.Status.SENT, "")
    assert bluecherry.control("GET", "sales-orders/SO-U1")["status"] == "PICKING"
    [alert] = open_exceptions(catalogue.SYNC_ENDPOINT_UNSUPPORTED)
    assert alert.trace_key == "system:seko:order_status" and "SO-U1" in alert.message
    assert not IntegrationException.objects.filter(trace_key="order:SO-U1", status="open").exists()
