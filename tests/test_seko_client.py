"""The Seko (iHub) client: the pure normalisers against real iHub bodies and every quirk of the
contract, then the client over real HTTP against the Seko simulator."""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote_plus

import pytest
from hypothesis import given
from hypothesis import strategies as st

from integration.clients.errors import (
    Exchange,
    MalformedPayload,
    NotFound,
    Rejected,
    Transient,
    Unauthorized,
)
from integration.clients.seko import (
    AlreadyExists,
    CallStatus,
    DispatchRef,
    PushRecord,
    SekoClient,
    StockLine,
    call_status,
    dispatch_time,
    list_items,
    normalise,
    parse_body,
    parse_dispatch_ref,
    parse_push,
    parse_stock_line,
)
from integration.shared.systems import seko_client
from tests.helpers import assert_rate_limit_is_retried_after_the_time_asked

SECRET = "SECRET-KEY-123"


def load(fixtures_dir: Path, name: str) -> str:
    return (fixtures_dir / f"{name}.json").read_text()


# --- real iHub bodies ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["dispatch_statuses", "grn", "order_status", "order_tracking", "stock"])
def test_every_real_response_body_parses(fixtures_dir: Path, name: str) -> None:
    body = parse_body(load(fixtures_dir, name))
    assert "Response" not in body
    assert call_status(body).success is True


def test_real_stock_body_reads_free_quantity_and_keeps_the_zero_line(fixtures_dir: Path) -> None:
    body = parse_body(load(fixtures_dir, "stock"))
    lines = [parse_stock_line(item, "DCCL01") for item in list_items(body, "StockQuantityLineItem")]
    assert lines == [
        StockLine("100014", "DCCL01", 0, "Available"),
        StockLine("100015", "DCCL01", 10, "Available"),
        StockLine("100016", "DCCL01", 20, "Available"),
    ]


def test_real_stock_body_has_no_call_status_and_counts_as_success(fixtures_dir: Path) -> None:
    assert "CallStatus" not in json.loads(load(fixtures_dir, "stock"))["Response"]
    assert call_status(parse_body(load(fixtures_dir, "stock"))) == CallStatus(True, None, "")


def test_real_stock_body_without_a_dc_asked_leaves_dc_empty(fixtures_dir: Path) -> None:
    body = parse_body(load(fixtures_dir, "stock"))
    assert {parse_stock_line(item).dc_code for item in list_items(body, "StockQuantityLineItem")} == {None}


def test_real_dispatch_poll_gives_guids_without_order_numbers(fixtures_dir: Path) -> None:
    body = parse_body(load(fixtures_dir, "dispatch_statuses"))
    refs = [parse_dispatch_ref(item) for item in list_items(body, "DispatchLineItem")]
    assert refs[0] == DispatchRef("DCSOM01", "2b5e52cc-fb6f-4ea4-b8cf-cf64e3a2b8db", None)
    assert len(refs) == 3


def test_real_order_status_reads_empty_message_object_as_empty_text(fixtures_dir: Path) -> None:
    body = parse_body(load(fixtures_dir, "order_status"))
    status = call_status(body)
    assert (status.success, status.code, status.message) == (True, 0, "")
    assert body["Status"] == "To Be Picked"
    assert body["GUID"] == "f66fd245-7b9e-4fd2-9dbf-5631edc875d9"


def test_real_tracking_body_reads_empty_objects_as_none(fixtures_dir: Path) -> None:
    body = parse_body(load(fixtures_dir, "order_tracking"))
    assert body["Courier"] is None
    assert body["TrackingNumber"] is None


def test_real_grn_body_reads_empty_codes_as_none(fixtures_dir: Path) -> None:
    items = list_items(parse_body(load(fixtures_dir, "grn")), "GRNResponseItem")
    assert [item["LineItemNumber"] for item in items] == [1, 2]
    assert items[0]["DCCode"] is None and items[0]["ProductCode"] is None
    assert items[0]["GRNQuantity"] == 10


def test_real_request_bodies_normalise_numeric_codes_and_currency(fixtures_dir: Path) -> None:
    order = normalise(json.loads(load(fixtures_dir, "order_submit")))["Request"]
    assert order["SalesOrder"]["SalesOrderNumber"] == "123456"
    line = order["List"]["SalesOrderLineItem"][0]
    assert (line["ProductCode"], line["CurrencyCode"]) == ("100083", "GBP")
    product = normalise(json.loads(load(fixtures_dir, "product_submit")))["Request"]
    assert product["List"]["SupplierMapping"] == [
        {"SupplierCode": "Supplier1", "SupplierDescription": "My Supplier", "UOM": 1}]


# --- each quirk of the contract --------------------------------------------------------------


def ok(**fields: object) -> dict:
    return {"CallStatus": {"Success": True, "Code": 0, "Message": ""}, **fields}


def test_old_response_envelope_is_unwrapped() -> None:
    assert parse_body({"Response": ok(GUID="g-1")})["GUID"] == "g-1"


def test_empty_object_means_no_value() -> None:
    assert parse_body(ok(DCCode={}, TrackingNumber={}, Status="Dispatched")) == {
        "CallStatus": {"Success": True, "Code": 0, "Message": ""}, "DCCode": None, "TrackingNumber": None,
        "Status": "Dispatched"}


def test_a_single_object_in_a_list_becomes_a_list_of_one() -> None:
    body = parse_body(ok(List={"DispatchLineItem": {"DCCode": "DCCL01", "GUID": "g-1"}}))
    assert list_items(body, "DispatchLineItem") == [{"DCCode": "DCCL01", "GUID": "g-1"}]


def test_an_empty_list_container_is_an_empty_list() -> None:
    assert list_items(parse_body(ok(List={})), "StockQuantityLineItem") == []
    assert list_items(parse_body(ok(List={"StockQuantityLineItem": {}})), "StockQuantityLineItem") == []


@pytest.mark.parametrize("key", ["ProductCode", "SalesOrderNumber", "DCCode", "CourierService", "EAN"])
def test_numeric_codes_become_text(key: str) -> None:
    assert normalise({key: 100083}) == {key: "100083"}
    assert normalise({key: 100083.0}) == {key: "100083"}


def test_numbers_that_are_not_codes_stay_numbers() -> None:
    assert normalise({"Quantity": 2, "UnitPrice": 30.0, "Code": 100}) == {"Quantity": 2, "UnitPrice": 30.0,
                                                                             "Code": 100}


def test_currency_codes_become_upper_case() -> None:
    assert normalise({"Currency": "gbp", "CurrencyCode": "eur"}) == {"Currency": "GBP", "CurrencyCode": "EUR"}


def test_stock_line_reads_quantity_or_free_quantity() -> None:
    assert parse_stock_line({"ProductCode": "A", "DCCode": "DC1", "Quantity": 976}).quantity == 976
    assert parse_stock_line({"ProductCode": "A", "FreeQuantity": "12"}).quantity == 12
    assert parse_stock_line({"ProductCode": "A", "Quantity": 0, "FreeQuantity": 5}).quantity == 0


@pytest.mark.parametrize("item", [
    {"ProductCode": "A"},
    {"ProductCode": "A", "Quantity": "lots"},
    {"ProductCode": "A", "Quantity": 1.5},
    {"Quantity": 3},
])
def test_unreadable_stock_line_is_malformed(item: dict) -> None:
    with pytest.raises(MalformedPayload):
        parse_stock_line(item)


@pytest.mark.parametrize("raw", ["<html>Service Unavailable</html>", "[]", "{}", '{"GUID": "x"}',
                                 '{"CallStatus": {"Code": 0}}', '{"Response": {"GUID": "x"}}', b"\xff\xfe",
                                 '{"List": []}', '{"Response": {}}'])
def test_body_without_json_or_call_status_is_malformed(raw: str | bytes) -> None:
    with pytest.raises(MalformedPayload):
        parse_body(raw)


def test_success_given_as_text_is_read() -> None:
    body = parse_body({"CallStatus": {"Success": "false", "Message": "Error. Invalid Mapping - DC"}})
    assert call_status(body) == CallStatus(False, None, "Error. Invalid Mapping - DC")


def test_dispatch_line_with_neither_guid_nor_order_number_is_malformed() -> None:
    with pytest.raises(MalformedPayload):
        parse_dispatch_ref({"DCCode": "DCCL01", "GUID": None})


def test_dispatch_poll_times_are_utc_without_offset() -> None:
    moment = datetime(2026, 11, 27, 19, 40, 5, 7, tzinfo=timezone(timedelta(hours=2)))
    assert dispatch_time(moment) == "2026-11-27T17:40:05"
    with pytest.raises(ValueError):
        dispatch_time(datetime(2026, 11, 27, 17, 40))


# --- pushes ----------------------------------------------------------------------------------

CONTRACT_PUSH = {"Responses": [{"Response": {"DispatchConfirmation": {
    "IntegrationId": "BC", "InterfaceRecordId": "884213", "SequenceNumber": 1,
    "MessageGroupId": "g-884213", "MessagePart": 1, "MessageTotal": 1,
    "SalesOrderNumber": "SO-100234", "SalesOrderReference": "C1001", "GUID": "g-1", "DCCode": "DCCL01",
    "DispatchId": "DSP-55121", "DispatchDate": "2026-11-27T16:40:00Z",
    "CourierName": "RoyalMail", "CourierService": "TPN24", "TrackingNumber": "JD014600003GB",
    "TrackingUrl": "https://track.example/JD014600003GB", "Weight": 0.6, "WeightUOM": "KG",
    "List": {"DispatchLineItem": [
        {"LineNumber": 1, "ProductCode": "10023-NAVY-M", "EAN": "5056000000017", "LotNo": "", "Quantity": 2},
    ]}}}}]}


def test_contract_dispatch_push_parses() -> None:
    records = parse_push(json.dumps(CONTRACT_PUSH).encode())
    assert [r.type for r in records] == ["DispatchConfirmation"]
    fields = records[0].fields
    assert (fields["DispatchId"], fields["InterfaceRecordId"], fields["SequenceNumber"]) == (
        "DSP-55121", "884213", 1)
    assert fields["List"]["DispatchLineItem"][0]["Quantity"] == 2


def test_quirky_push_is_normalised() -> None:
    push = {"Responses": {"Response": {"DispatchConfirmation": {
        "InterfaceRecordId": 884214, "SequenceNumber": 2, "MessagePart": 1, "SalesOrderNumber": 123456,
        "DispatchId": "DSP-1", "TrackingNumber": {}, "CourierService": 743,
        "List": {"DispatchLineItem": {"LineNumber": 1, "ProductCode": 100083, "Quantity": 0}}}}}}
    [record] = parse_push(push)
    assert record.fields["SalesOrderNumber"] == "123456"
    assert record.fields["InterfaceRecordId"] == "884214"
    assert record.fields["CourierService"] == "743"
    assert record.fields["TrackingNumber"] is None
    assert record.fields["List"]["DispatchLineItem"] == [
        {"LineNumber": 1, "ProductCode": "100083", "Quantity": 0}]


def test_dispatch_push_without_lines_has_an_empty_line_list() -> None:
    [record] = parse_push({"Responses": [{"Response": {"DispatchConfirmation": {"DispatchId": "DSP-1"}}}]})
    assert record.fields["List"] == {"DispatchLineItem": []}


def test_push_of_every_type_in_one_batch() -> None:
    push = {"Responses": [
        {"Response": {"TrackingDetails": {"SalesOrderNumber": "SO-1", "DispatchNumber": "DSP-1",
                                          "Courier": "RoyalMail", "TrackingNumber": "JD1"}}},
        {"Response": {"StockAdjustment": {"ProductCode": 100083, "DCCode": "DCCL01", "Quantity": -3,
                                          "Reason": "Damaged"}}},
    ]}
    assert parse_push(push) == [
        PushRecord("TrackingDetails", {"SalesOrderNumber": "SO-1", "DispatchNumber": "DSP-1",
                                       "Courier": "RoyalMail", "TrackingNumber": "JD1"}),
        PushRecord("StockAdjustment", {"ProductCode": "100083", "DCCode": "DCCL01", "Quantity": -3,
                                       "Reason": "Damaged"}),
    ]


def test_empty_push_batch_has_no_records() -> None:
    assert parse_push(b'{"Responses": []}') == []


@pytest.mark.parametrize(("raw", "says"), [
    (b"not json", "not JSON"),
    (b"[1, 2]", "not a JSON object"),
    (b'{"Orders": []}', "no Responses"),
    (b'{"Responses": [{"Response": {"Invoice": {"Id": 1}}}]}', "none of DispatchConfirmation"),
    (b'{"Responses": [{"Response": {"DispatchConfirmation": {}}}]}', "empty"),
    (b'{"Responses": [7]}', "not an object"),
])
def test_unreadable_push_is_malformed_with_a_clear_message(raw: bytes, says: str) -> None:
    with pytest.raises(MalformedPayload, match=says):
        parse_push(raw)


# --- properties of the normaliser ------------------------------------------------------------

KEYS = st.sampled_from(["ProductCode", "SalesOrderNumber", "DCCode", "CourierService", "Currency",
                        "CurrencyCode", "List", "Responses", "Response", "Message", "Quantity",
                        "FreeQuantity", "CallStatus", "Success", "x"]) | st.text(max_size=5)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
JSONISH = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                       | st.dictionaries(KEYS, inner, max_size=5), max_leaves=30)
FINITE_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5), max_leaves=30)


@given(JSONISH)
def test_normaliser_never_raises(value: object) -> None:
    normalise(value)


@given(FINITE_JSON)
def test_normaliser_is_idempotent(value: object) -> None:
    once = normalise(value)
    assert normalise(once) == once


@given(FINITE_JSON)
def test_normaliser_leaves_no_empty_object_and_no_numeric_code(value: object) -> None:
    def check(node: object, key: object = None) -> None:
        assert node != {}
        if key in ("ProductCode", "SalesOrderNumber", "DCCode"):
            assert isinstance(node, bool) or not isinstance(node, int | float)
        if isinstance(node, dict):
            for k, v in node.items():
                if key == "List":
                    assert isinstance(v, list)
                check(v, k)
        elif isinstance(node, list):
            for item in node:
                check(item, key)

    check(normalise(value))


@given(FINITE_JSON)
def test_body_and_push_parsers_raise_only_malformed_payload(value: object) -> None:
    for parser in (parse_body, parse_push):
        with contextlib.suppress(MalformedPayload):
            parser(json.dumps(value))


# --- secrets ---------------------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_sanitize_removes_the_key_in_every_form() -> None:
    client = SekoClient("http://seko.example/api/", "SECRET KEY/123")
    text = ("GET http://seko.example/api/x?a=1&api_key=SECRET+KEY%2F123 failed; key SECRET KEY/123; "
            "api_key=whatever")
    clean = client.sanitize(text)
    assert "SECRET" not in clean and "whatever" not in clean
    assert client.sanitize_url("http://seko.example/api/x?a=1&api_key=SECRET+KEY%2F123&b=2") == \
        "http://seko.example/api/x?a=1&b=2"


def test_key_is_in_no_exchange_error_or_log_line_when_the_server_is_unreachable(
        caplog: pytest.LogCaptureFixture) -> None:
    exchanges: list[Exchange] = []
    client = SekoClient(f"http://127.0.0.1:{closed_port()}/api/", SECRET, timeout=(1, 1), max_retries=1,
                        backoff=0.001, on_exchange=exchanges.append)
    with caplog.at_level(logging.DEBUG), pytest.raises(Transient) as caught:
        client.order_status("SO-1")
    assert len(exchanges) == 2
    assert "ConnectionError" in exchanges[0].error
    texts = [str(caught.value), repr(caught.value), caught.value.exchange.url, caught.value.exchange.error,
             *(e.url + e.error for e in exchanges), *(r.getMessage() for r in caplog.records)]
    assert caplog.records
    assert all(SECRET not in text for text in texts)
    assert caught.value.__cause__ is None and caught.value.__context__ is None  # no unsanitised chain


def test_connection_refused_is_retried_even_for_a_call_that_is_not_idempotent() -> None:
    exchanges: list[Exchange] = []
    client = SekoClient(f"http://127.0.0.1:{closed_port()}/api/", SECRET, max_retries=2, backoff=0.001,
                        on_exchange=exchanges.append)
    with pytest.raises(Transient):
        client.request("op", "POST", "x", json_body={}, idempotent=False, parse=lambda reply: reply)
    assert len(exchanges) == 3


def test_a_failing_exchange_recorder_does_not_change_the_outcome() -> None:
    def broken(exchange: Exchange) -> None:
        raise RuntimeError("database is locked")

    client = SekoClient(f"http://127.0.0.1:{closed_port()}/api/", SECRET, max_retries=0, on_exchange=broken)
    with pytest.raises(Transient):
        client.order_status("SO-1")


def test_stock_chunks_stay_under_the_query_limit_with_the_key_counted() -> None:
    codes = [f"SKU-{i:05d}-NAVY-XL" for i in range(500)]
    short_key = SekoClient("http://seko.example/api/", "k").stock_chunks(codes, "DCCL01")
    long_key_client = SekoClient("http://seko.example/api/", "K" * 600)
    chunks = long_key_client.stock_chunks(codes, "DCCL01")
    assert [code for chunk in chunks for code in chunk] == codes
    assert len(chunks) > len(short_key) > 1
    for chunk in chunks:
        query = long_key_client.build_url("stock/v3/quantity",
                                          {"productCodes": ",".join(chunk), "dc": "DCCL01"})
        assert len(query.partition("?")[2]) < 2048
        assert f"api_key={'K' * 600}" in query and f"productCodes={chunk[0]}," in query
    assert len(chunks[0]) > 190 / 3  # the limit is used, not a tiny fixed chunk


def test_stock_chunk_counts_url_encoding() -> None:
    client = SekoClient("http://seko.example/api/", "k")
    codes = [f"SKU {i:04d}/é" for i in range(300)]
    for chunk in client.stock_chunks(codes):
        assert len(client.build_url("s", {"productCodes": ",".join(chunk)}).partition("?")[2]) < 2048
    assert quote_plus("SKU 0001/é") in client.build_url("s", {"productCodes": codes[1]})


# --- over HTTP against the simulator ---------------------------------------------------------

DC = "DCCL01"


def product(code: str, **extra: object) -> dict:
    return {"ProductCode": code, "ProductDescription": f"Product {code}", "EAN": "5056000000017",
            "CountryOfOrigin": "PT", "GrossWeight": 0.25, "UnitPrice": 30.0, "Currency": "GBP", **extra}


def order(number: str, *lines: tuple[str, int], dc: str = DC, service: str = "TPN24",
          **delivery: str) -> dict:
    return {
        "SalesOrderHeader": {"DCCode": dc},
        "SalesOrder": {"SalesOrderNumber": number, "SalesOrderReference": "C1001",
                       "SalesOrderDate": "2026-11-27T09:12:00Z", "OrderType": "Retail",
                       "CourierName": "RoyalMail", "CourierService": service, "CurrencyCode": "GBP"},
        "DeliveryDetails": {"FirstName": "Ana", "LastName": "Silva", "Line1": "23 Victoria Street",
                            "City": "Windsor", "PostcodeZip": "SL4 1HE", "CountryCode": "GB", **delivery},
        "ShipToCompany": {"CompanyCode": "C1001", "CompanyDescription": "Wholesale customer"},
        "List": {"SalesOrderLineItem": [
            {"LineNumber": n, "ProductCode": code, "Quantity": qty, "UnitPrice": 30.0, "CurrencyCode": "GBP"}
            for n, (code, qty) in enumerate(lines, start=1)]},
    }


@pytest.fixture
def seeded(seko):
    # Stock figures that show an accepted order at once (Seko's lag of minutes is tested apart).
    seko.control("POST", "_sim/stock/config", {"lag_seconds": 0})
    seko.control("POST", "_sim/dcs", [DC])
    seko.control("POST", "_sim/services", [{"CourierName": "RoyalMail", "CourierService": "TPN24"}])
    seko.control("POST", "_sim/products",
                 [product("10023-NAVY-M"), product("10023-NAVY-L"), product("100083")])
    seko.control("POST", "_sim/stock", [{"ProductCode": "10023-NAVY-M", "DCCode": DC, "Quantity": 10},
                                         {"ProductCode": "10023-NAVY-L", "DCCode": DC, "Quantity": 1},
                                         {"ProductCode": "100083", "DCCode": DC, "Quantity": 5}])
    return seko


@pytest.fixture
def exchanges() -> list[Exchange]:
    return []


@pytest.fixture
def client(seko, exchanges: list[Exchange]) -> SekoClient:
    with SekoClient(seko.base_url, seko.api_key, timeout=(2, 5), max_retries=2, backoff=0.001,
                    on_exchange=exchanges.append) as client:
        yield client


def faults(seko, **config: object) -> None:
    seko.control("POST", "_sim/faults", config)


def test_order_is_submitted_and_its_status_read(seeded, client: SekoClient,
                                                exchanges: list[Exchange]) -> None:
    result = client.submit_order(order("SO-100234", ("10023-NAVY-M", 2)))
    assert result.already_existed is False and result.guid
    status = client.order_status("SO-100234")
    assert (status.guid, status.status) == (result.guid, "To Be Picked")
    assert [(e.operation, e.method, e.status_code) for e in exchanges] == [
        ("submit_order", "POST", 200), ("order_status", "GET", 200)]
    assert json.loads(exchanges[0].request_body)["SalesOrder"]["SalesOrderNumber"] == "SO-100234"
    assert "api_key" not in exchanges[0].url and exchanges[0].url.endswith("salesorders/v4/submit")


def test_resubmitted_order_is_already_existing_not_an_error(seeded, client: SekoClient) -> None:
    first = client.submit_order(order("SO-1", ("10023-NAVY-M", 1)))
    again = client.submit_order(order("SO-1", ("10023-NAVY-M", 1)))
    assert again.already_existed is True and again.guid is None
    assert client.order_status("SO-1").guid == first.guid
    [row] = seeded.control("GET", "_sim/orders")["orders"]
    assert (row["attempts"], row["accepted_attempts"], row["duplicate_attempts"]) == (2, 1, 1)


@pytest.mark.parametrize(("payload", "message"), [
    (order("SO-2", ("10023-NAVY-M", 1), dc="DCXX99"), "Error. Invalid Mapping - DC"),
    (order("SO-2", ("10023-NAVY-M", 1), service="NOPE"), "Error. Invalid Mapping - CourierService"),
    (order("SO-2", ("UNKNOWN-SKU", 1)),
     "Error Submitting SalesOrder: SO-2 - Error. Product UNKNOWN-SKU does not exist."),
    (order("SO-2", ("10023-NAVY-L", 2)),
     "Error Submitting SalesOrder: SO-2 - Error. Product 10023-NAVY-L has no free stock."),
    (order("SO-2", ("10023-NAVY-M", 1), ("10023-NAVY-M", 1)),
     "Error Submitting SalesOrder: SO-2 - Error. Duplicate ProductCode 10023-NAVY-M."),
    (order("SO-2", ("10023-NAVY-M", 1), City=""), "The City field is required."),
])
def test_each_rejection_carries_sekos_message_and_is_not_retried(
        seeded, client: SekoClient, exchanges: list[Exchange], payload: dict, message: str) -> None:
    with pytest.raises(Rejected) as caught:
        client.submit_order(payload)
    assert type(caught.value) is Rejected
    assert caught.value.remote_message == message
    assert str(caught.value) == f"Seko rejected salesorders/v4/submit: {message}"
    assert caught.value.code == 100
    assert len(exchanges) == 1 and exchanges[0].error == str(caught.value)


def test_unknown_order_status_is_not_found(seeded, client: SekoClient) -> None:
    with pytest.raises(NotFound, match="No results found"):
        client.order_status("SO-NOPE")


def test_order_is_cancelled_before_picking_and_refused_after_dispatch(seeded, client: SekoClient) -> None:
    client.submit_order(order("SO-C1", ("10023-NAVY-M", 1)))
    client.submit_order(order("SO-C2", ("10023-NAVY-M", 1)))
    client.cancel_order("SO-C1")
    client.cancel_order("SO-C1")  # a retry after a lost reply is harmless
    assert client.order_status("SO-C1").status == "Cancelled"
    with pytest.raises(NotFound, match="does not exist"):
        client.cancel_order("SO-NOPE")
    seeded.control("POST", "_sim/warehouse/advance", {"orders": "all"})
    with pytest.raises(Rejected, match="cannot be cancelled") as caught:
        client.cancel_order("SO-C2", reason_code="002")
    assert "Dispatched" in caught.value.remote_message


def test_dispatch_is_read_by_order_and_found_by_the_poll(seeded, client: SekoClient) -> None:
    since = datetime.now(UTC) - timedelta(minutes=1)
    guid = client.submit_order(order("SO-D1", ("10023-NAVY-M", 2), ("100083", 1))).guid
    seeded.control("POST", "_sim/warehouse/advance", {"orders": "all"})
    dispatch = client.order_dispatch("SO-D1")
    assert (dispatch["SalesOrderNumber"], dispatch["GUID"]) == ("SO-D1", guid)
    assert {(line["ProductCode"], line["Quantity"]) for line in dispatch["List"]["DispatchLineItem"]} == {
        ("10023-NAVY-M", 2), ("100083", 1)}
    refs = client.dispatched_orders(since, datetime.now(UTC) + timedelta(minutes=1), dc=DC)
    assert [(r.dc_code, r.guid) for r in refs] == [(DC, guid)]
    assert client.dispatched_orders(since - timedelta(days=2), since - timedelta(days=1)) == []


def test_undispatched_order_has_no_dispatch(seeded, client: SekoClient) -> None:
    client.submit_order(order("SO-D2", ("10023-NAVY-M", 1)))
    with pytest.raises(NotFound):
        client.order_dispatch("SO-D2")


def test_products_are_created_updated_read_and_listed(seko, client: SekoClient) -> None:
    client.submit_product(product("P-1"), [{"SupplierCode": "SUP1", "SupplierDescription": "Main", "UOM": 1}])
    with pytest.raises(AlreadyExists, match=r"P-1 - Error\. Product Code already exists"):
        client.submit_product(product("P-1"))
    client.update_product(product("P-1", ProductDescription="Renamed"))
    with pytest.raises(NotFound, match="does not exist"):
        client.update_product(product("P-404"))
    assert client.get_product("P-1")["ProductDescription"] == "Renamed"
    with pytest.raises(NotFound):
        client.get_product("P-404")
    for n in range(2, 6):
        client.submit_product(product(f"P-{n}"))
    assert [p["ProductCode"] for p in client.iter_products(page_size=2)] == [f"P-{n}" for n in range(1, 6)]


def test_empty_product_list_is_empty(seko, client: SekoClient) -> None:
    assert list(client.iter_products()) == []


def test_stock_of_500_products_is_read_in_chunks_under_the_query_limit(
        seko, client: SekoClient, exchanges: list[Exchange]) -> None:
    codes = [f"SKU-{i:05d}-NAVY-XL" for i in range(500)]
    seko.control("POST", "_sim/stock", [{"ProductCode": c, "DCCode": DC, "Quantity": i % 7 + 1}
                                        for i, c in enumerate(codes)])
    lines = client.stock(codes, dc=DC)
    assert {(line.product_code, line.quantity) for line in lines} == {
        (c, i % 7 + 1) for i, c in enumerate(codes)}
    assert {line.dc_code for line in lines} == {DC}
    assert len(exchanges) > 2 and all(e.status_code == 200 for e in exchanges)


def test_stock_without_codes_lists_everything_and_no_results_is_empty(seko, client: SekoClient) -> None:
    assert client.stock(dc=DC) == []
    assert client.stock([]) == []
    seko.control("POST", "_sim/stock", [{"ProductCode": "A", "DCCode": DC, "Quantity": 3}])
    assert client.stock() == [StockLine("A", DC, 3, "Available Stock")]


def test_reference_data_is_listed(seeded, client: SekoClient) -> None:
    assert client.reference_dcs() == [DC]
    assert client.reference_courier_services() == [("RoyalMail", "TPN24")]


def test_reference_data_is_none_where_the_endpoint_is_absent(seko) -> None:
    client = SekoClient(seko.base_url.replace("/api/", "/elsewhere/"), seko.api_key)
    assert client.reference_dcs() is None
    assert client.reference_courier_services() is None


def test_wrong_key_is_unauthorized_and_never_shown(seko, caplog: pytest.LogCaptureFixture) -> None:
    exchanges: list[Exchange] = []
    client = SekoClient(seko.base_url, SECRET, max_retries=2, backoff=0.001, on_exchange=exchanges.append)
    with caplog.at_level(logging.DEBUG), pytest.raises(Unauthorized) as caught:
        client.order_status("SO-1")
    assert len(exchanges) == 1 and exchanges[0].status_code == 401
    texts = [str(caught.value), exchanges[0].url, exchanges[0].error, exchanges[0].response_body,
             *(r.getMessage() for r in caplog.records)]
    assert all(SECRET not in text for text in texts)
    assert any("order_status" in r.getMessage() for r in caplog.records)


def test_server_errors_are_retried_then_transient(seko, client: SekoClient,
                                                  exchanges: list[Exchange]) -> None:
    faults(seko, error_rate=1)
    with pytest.raises(Transient) as caught:
        client.order_status("SO-1")
    assert [e.status_code in (500, 503) for e in exchanges] == [True, True, True]
    assert caught.value.retry_after is None and "after 3 attempt(s)" in str(caught.value)


def test_intermittent_server_errors_are_absorbed_by_the_retries(seeded, exchanges: list[Exchange]) -> None:
    seeded.control("POST", "_sim/stock", [{"ProductCode": "10023-NAVY-M", "DCCode": DC, "Quantity": 100}])
    faults(seeded, error_rate=0.3, seed=7)
    client = SekoClient(seeded.base_url, seeded.api_key, max_retries=8, backoff=0.001,
                        on_exchange=exchanges.append)
    for n in range(15):
        assert client.submit_order(order(f"SO-R{n}", ("10023-NAVY-M", 1))).guid
    assert len(exchanges) > 15  # some calls needed a retry, and all of them got through
    # The failed calls never reached the order desk: each order was read and accepted once.
    assert all(row["attempts"] == row["accepted_attempts"] == 1
               for row in seeded.control("GET", "_sim/orders")["orders"])


def test_rate_limit_is_retried_after_the_time_seko_asks(seko, exchanges: list[Exchange]) -> None:
    assert_rate_limit_is_retried_after_the_time_asked(seko, SekoClient, lambda c: c.order_status("SO-1"), exchanges)


def test_a_long_retry_after_is_capped() -> None:
    client = SekoClient("http://seko.example/api/", "k", backoff=0.5)
    assert client._delay(0, 3600) == 30.0
    assert all(0 <= client._delay(3, None) <= 4.0 for _ in range(50))


def test_timeout_is_transient_and_an_idempotent_submit_is_retried(seeded, exchanges: list[Exchange]) -> None:
    faults(seeded, timeout_rate=1, hang_seconds=3)
    client = SekoClient(seeded.base_url, seeded.api_key, timeout=(2, 1), max_retries=1, backoff=0.001,
                        on_exchange=exchanges.append)
    started = time.monotonic()
    with pytest.raises(Transient, match="ReadTimeout"):
        client.submit_order(order("SO-T1", ("10023-NAVY-M", 1)))
    assert time.monotonic() - started < 2.9
    assert len(exchanges) == 2 and all("ReadTimeout" in e.error for e in exchanges)


def test_read_timeout_is_not_retried_for_a_call_that_is_not_idempotent(
        seko, exchanges: list[Exchange]) -> None:
    faults(seko, timeout_rate=1, hang_seconds=3)
    client = SekoClient(seko.base_url, seko.api_key, timeout=(2, 1), max_retries=2, backoff=0.001,
                        on_exchange=exchanges.append)
    with pytest.raises(Transient):
        client.request("order_status", "GET", "salesorders/v4/SO-1/status", idempotent=False,
                       parse=lambda reply: reply)
    assert len(exchanges) == 1


def test_order_accepted_while_the_reply_was_lost_is_found_on_resubmit(seeded, client: SekoClient) -> None:
    faults(seeded, timeout_after_commit_rate=1, hang_seconds=3)
    lost = SekoClient(seeded.base_url, seeded.api_key, timeout=(2, 1), max_retries=0)
    with pytest.raises(Transient):
        lost.submit_order(order("SO-L1", ("10023-NAVY-M", 1)))
    faults(seeded)
    assert client.submit_order(order("SO-L1", ("10023-NAVY-M", 1))).already_existed is True
    assert client.order_status("SO-L1").status == "To Be Picked"


def test_quirky_responses_are_read_like_clean_ones(seeded, client: SekoClient) -> None:
    faults(seeded, quirks=True)
    since = datetime.now(UTC) - timedelta(minutes=1)
    seeded.control("POST", "_sim/stock", [{"ProductCode": "ZERO-1", "DCCode": DC, "Quantity": 0}])
    result = client.submit_order(order("123456", ("100083", 1)))
    assert result.guid and not result.already_existed
    assert client.submit_order(order("123456", ("100083", 1))) == type(result)(None, True)
    assert client.order_status("123456").status == "To Be Picked"
    lines = client.stock(["100083", "10023-NAVY-M", "ZERO-1"], DC)
    stock = {line.product_code: line.quantity for line in lines}
    assert stock == {"100083": 4, "10023-NAVY-M": 10, "ZERO-1": 0}
    seeded.control("POST", "_sim/warehouse/advance", {"orders": "all"})
    dispatch = client.order_dispatch("123456")
    assert dispatch["SalesOrderNumber"] == "123456"
    assert dispatch["List"]["DispatchLineItem"][0]["ProductCode"] == "100083"
    [ref] = client.dispatched_orders(since, datetime.now(UTC) + timedelta(minutes=1))
    assert (ref.guid, ref.sales_order_number) == (result.guid, None)
    assert client.get_product("100083")["ProductCode"] == "100083"
    assert len(list(client.iter_products(page_size=1))) == 3
    assert client.reference_dcs() == [DC]
    assert client.reference_courier_services() == [("RoyalMail", "TPN24")]
    with pytest.raises(NotFound):
        client.order_status("SO-NOPE")
    with pytest.raises(Rejected, match="Invalid Mapping - DC"):
        client.submit_order(order("SO-Q2", ("100083", 1), dc="DCXX99"))


def test_pushes_the_simulator_queues_parse(seeded, client: SekoClient) -> None:
    faults(seeded, quirks=True)
    client.submit_order(order("SO-P1", ("10023-NAVY-M", 2), ("100083", 1)))
    seeded.control("POST", "_sim/warehouse/advance", {"orders": "all"})
    seeded.control("POST", "_sim/warehouse/adjust", [{"ProductCode": "100083", "DCCode": DC, "Quantity": -1}])
    outbox = seeded.control("GET", "_sim/pushes")["pushes"]
    body = json.dumps({"Responses": [{"Response": {p["kind"]: p["record"]}} for p in outbox]})
    records = parse_push(body)
    assert {r.type for r in records} == {"DispatchConfirmation", "TrackingDetails", "StockAdjustment"}
    parts = [r.fields for r in records if r.type == "DispatchConfirmation"]
    assert sorted(line["ProductCode"] for p in parts for line in p["List"]["DispatchLineItem"]) == [
        "100083", "10023-NAVY-M"]
    assert all(isinstance(p["InterfaceRecordId"], str) for p in parts)


@pytest.mark.django_db
def test_factory_client_logs_every_exchange_without_the_key(seeded, settings) -> None:
    from integration.models import MessageLog

    settings.SEKO_API_KEY = SECRET
    settings.HTTP_MAX_RETRIES = 1
    with pytest.raises(Unauthorized):
        seko_client().order_status("SO-1")
    settings.SEKO_API_KEY = seeded.api_key
    with pytest.raises(NotFound):
        seko_client().order_status("SO-1")
    rows = list(MessageLog.objects.order_by("id"))
    assert [(r.system, r.operation, r.status_code) for r in rows] == [
        ("seko", "order_status", 401), ("seko", "order_status", 200)]
    assert rows[1].url == seeded.base_url + "salesorders/v4/SO-1/status"
    assert rows[1].error == "Seko found no salesorders/v4/SO-1/status: No results found for search criteria"
    assert all(SECRET not in r.url + r.error + r.response_body for r in rows)


def test_proxy_environment_is_read_once_when_the_client_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 9: the client reads the proxy settings when built (not on every call), and still
    honours them: a proxy for the base URL's scheme is used unless NO_PROXY covers the host."""
    from integration.clients.seko import SekoClient

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    client = SekoClient("https://ihub.example.test/api/", "key")
    assert client.session.trust_env is False
    assert client.session.proxies.get("https") == "http://proxy.internal:3128"

    monkeypatch.setenv("NO_PROXY", "ihub.example.test")
    bypassed = SekoClient("https://ihub.example.test/api/", "key")
    assert "https" not in bypassed.session.proxies


def test_a_ca_bundle_named_in_the_environment_is_used_for_https_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bundle path makes requests look at the file on every call, plain http too (a few
    percent of a peak day's worker CPU): an http base URL leaves it unset."""
    from integration.clients.seko import SekoClient

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    assert SekoClient("https://ihub.example.test/api/", "key").session.verify == "/etc/ssl/certs/ca-certificates.crt"
    assert SekoClient("http://127.0.0.1:8102/api/", "key").session.verify is True
