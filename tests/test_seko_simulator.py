"""The Seko (iHub) simulator over real HTTP: messages, stock, cancels, pushes, faults, quirks.

The simulator runs in its own process (tests/conftest.py); these tests talk to it with plain
``requests`` and, for pushes, run a tiny HTTP receiver in a thread. No Django test database.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from demo.launcher import RunningSimulator

SECRET_BYTES = b"top-secret-signing-key"
SECRET = "whsec_" + base64.b64encode(SECRET_BYTES).decode()
TOKEN = "push-token-123"
NO_RESULTS = "No results found for search criteria"
ONE_UNIT = {"ProductCode": "SKU-A", "DCCode": "DCCL01", "Quantity": 1}


# --- helpers ----------------------------------------------------------------------------------


def call(sim: RunningSimulator, method: str, path: str, *, json_body: Any = None,
         params: dict[str, str] | None = None, timeout: float = 10,
         key: str | None = None) -> requests.Response:
    query = {"api_key": sim.api_key if key is None else key, **(params or {})}
    return requests.request(method, sim.base_url + path, json=json_body, params=query, timeout=timeout)


def body_of(response: requests.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return response.json()


def seed(sim: RunningSimulator) -> None:
    # Stock figures that show an accepted order at once (Seko's lag of minutes is tested apart).
    sim.control("POST", "_sim/stock/config", {"lag_seconds": 0})
    sim.control("POST", "_sim/dcs", ["DCCL01", {"DCCode": "DC123"}])
    sim.control("POST", "_sim/services", [{"CourierName": "RoyalMail", "CourierService": "TPN24"},
                                          {"CourierName": "DLP", "CourierService": "743"}])
    sim.control("POST", "_sim/products", [
        {"ProductCode": "SKU-A", "EAN": "5056000000017", "GrossWeight": 0.25},
        {"ProductCode": "SKU-B"}, {"ProductCode": "SKU-C"}, {"ProductCode": 100083},
    ])
    sim.control("POST", "_sim/stock", [
        {"ProductCode": "SKU-A", "DCCode": "DCCL01", "Quantity": 10},
        {"ProductCode": "SKU-B", "DCCode": "DCCL01", "Quantity": 5},
        {"ProductCode": "SKU-C", "DCCode": "DCCL01", "Quantity": 0},
        {"ProductCode": "100083", "DCCode": "DC123", "Quantity": 10},
    ])


def order(so: str, lines: list[tuple[str, int]] | None = None, *, dc: str = "DCCL01",
          courier: tuple[str, str] = ("RoyalMail", "TPN24")) -> dict[str, Any]:
    return {
        "SalesOrderHeader": {"DCCode": dc},
        "SalesOrder": {"SalesOrderNumber": so, "SalesOrderReference": f"REF-{so}", "CourierName": courier[0],
                       "CourierService": courier[1], "CurrencyCode": "GBP", "GiftMessage": "hi"},
        "DeliveryDetails": {"FirstName": "Ana", "Line1": "23 Victoria Street", "City": "Windsor",
                            "PostcodeZip": "SL4 1HE", "CountryCode": "GB"},
        "BillingDetails": {"Line1": "ignored"},
        "ForwardingAgent": {"Name": "ignored"},
        "List": {"SalesOrderLineItem": [
            {"LineNumber": n, "ProductCode": code, "Quantity": qty, "EAN": "", "LotNo": ""}
            for n, (code, qty) in enumerate(lines or [("SKU-A", 2)], start=1)
        ]},
    }


def submit(sim: RunningSimulator, body: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    return body_of(call(sim, "POST", "salesorders/v4/submit", json_body=body, **kwargs))


def free_stock(sim: RunningSimulator, code: str, dc: str = "DCCL01") -> int:
    items = body_of(call(sim, "GET", "stock/v3/quantity", params={"productCodes": code, "dc": dc}))
    return sum(item["Quantity"] for item in items["List"]["StockQuantityLineItem"])


def sim_order(sim: RunningSimulator, so: str) -> dict[str, Any] | None:
    return next((o for o in sim.control("GET", "_sim/orders")["orders"] if o["SalesOrderNumber"] == so), None)


def assert_error(body: dict[str, Any], message: str) -> None:
    assert body["CallStatus"] == {"Success": False, "Code": 100, "Message": message}


# --- push receiver ----------------------------------------------------------------------------


@dataclass
class Receiver:
    url: str
    status: int = 200
    posts: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    def records(self) -> list[dict[str, Any]]:
        out = []
        for _, raw in self.posts:
            for item in json.loads(raw)["Responses"]:
                # A stock adjustment's lines come in a List beside its header ("Push Stock Adjustment").
                response = dict(item["Response"])
                lines = response.pop("List", None)
                ((kind, record),) = response.items()
                out.append({"kind": kind, **record, **({"List": lines} if lines is not None else {})})
        return out


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as state:
        yield state


@contextlib.contextmanager
def receiving() -> Iterator[Receiver]:
    state = Receiver(url="")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers["Content-Length"]))
            with lock:
                state.posts.append(({k.lower(): v for k, v in self.headers.items()}, raw))
            self.send_response(state.status)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/seko/push"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def configure_push(sim: RunningSimulator, receiver: Receiver, **extra: Any) -> None:
    sim.control("POST", "_sim/config", {"push_url": receiver.url, "push_token": TOKEN, "push_secret": SECRET,
                                        "push_interval_seconds": 900, **extra})


# --- auth and reference data ------------------------------------------------------------------


def test_pushes_are_spread_over_every_listed_url_in_turn(seko: RunningSimulator) -> None:
    """Two web servers behind one name, as on two machines: each batch goes to the next URL."""
    seed(seko)
    with receiving() as first, receiving() as second:
        seko.control("POST", "_sim/config", {"push_url": f"{first.url}, {second.url}", "push_token": TOKEN,
                                             "push_secret": SECRET, "push_interval_seconds": 900})
        for so in ("SO-1", "SO-2", "SO-3", "SO-4"):
            submit(seko, order(so, [("SKU-A", 1)]))
            seko.control("POST", "_sim/warehouse/advance", {"orders": 1, "seed": 1})
            assert seko.control("POST", "_sim/push/flush")["failed"] == 0
        assert len(first.posts) == len(second.posts) == 2
        assert {r["SalesOrderNumber"] for r in first.records() + second.records()} == {"SO-1", "SO-2", "SO-3", "SO-4"}


def test_wrong_or_missing_api_key_is_401(seko: RunningSimulator) -> None:
    for key in ("", "wrong"):
        for path in ("reference/v1/dcs", "_sim/state"):
            response = call(seko, "GET", path, key=key)
            assert response.status_code == 401
            assert response.json()["CallStatus"]["Success"] is False
    response = requests.get(seko.base_url + "reference/v1/dcs", timeout=5)
    assert response.status_code == 401


def test_reference_lists(seko: RunningSimulator) -> None:
    seed(seko)
    dcs = body_of(call(seko, "GET", "reference/v1/dcs"))
    assert dcs["List"]["DC"] == [{"DCCode": "DC123"}, {"DCCode": "DCCL01"}]
    services = body_of(call(seko, "GET", "reference/v1/courierservices"))["List"]["CourierService"]
    assert {"CourierName": "RoyalMail", "CourierService": "TPN24"} in services


# --- real fixture bodies ----------------------------------------------------------------------


@pytest.mark.parametrize("wrapped", [False, True])
def test_fixture_bodies_are_accepted(seko: RunningSimulator, fixtures_dir: Path, wrapped: bool) -> None:
    seed(seko)
    order_body = json.loads((fixtures_dir / "order_submit.json").read_text())
    product_body = json.loads((fixtures_dir / "product_submit.json").read_text())
    if not wrapped:
        order_body, product_body = order_body["Request"], product_body["Request"]

    result = submit(seko, order_body)
    assert result["CallStatus"] == {"Success": True, "Code": 0, "Message": ""}
    assert len(result["GUID"]) == 36
    status = body_of(call(seko, "GET", "salesorders/v4/123456/status"))
    assert status["GUID"] == result["GUID"] and status["Status"] == "To Be Picked"
    assert free_stock(seko, "100083", "DC123") == 8
    stored = sim_order(seko, "123456")
    assert stored is not None and json.loads(stored["raw_body"]) == order_body

    assert body_of(call(seko, "POST", "products/v4/submit", json_body=product_body))["CallStatus"]["Success"]
    product = body_of(call(seko, "GET", "products/v4/123456"))["ProductMaster"]
    assert product["ProductCode"] == "123456" and product["ProductDescription"] == "A Test Product"


# --- products ---------------------------------------------------------------------------------


def test_product_rules_and_listing(seko: RunningSimulator) -> None:
    def product(code: str, **fields: Any) -> dict[str, Any]:
        return {"ProductMaster": {"ProductCode": code, "ProductDescription": "Tee", **fields},
                "List": {"SupplierMapping": [{"SupplierCode": "SUP1", "UOM": 1}]}}

    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        return body_of(call(seko, "POST", f"products/v4/{path}", json_body=body))

    assert post("submit", product("P1", Currency="gbp", CountryOfOrigin="PT"))["CallStatus"]["Success"]
    assert body_of(call(seko, "GET", "products/v4/P1"))["ProductMaster"]["Currency"] == "GBP"
    assert_error(post("submit", product("P1")),
                 "Error Submitting Product Master: P1 - Error. Product Code already exists.")
    assert_error(post("update", product("P2")),
                 "Error Submitting Product Master: P2 - Error. Product Code P2 does not exist.")
    assert post("update", product("P1", ProductDescription="New"))["CallStatus"]["Success"]
    assert body_of(call(seko, "GET", "products/v4/P1"))["ProductMaster"]["ProductDescription"] == "New"
    assert_error(post("submit", product("P3", Currency="GBPX")),
                 "The field Currency must be a string with a maximum length of 3.")
    assert_error(post("submit", product("P3", CountryOfOrigin="PRT")),
                 "The field CountryOfOrigin must be a string with a maximum length of 2.")
    assert_error(post("submit", product("X" * 101)),
                 "The field ProductCode must be a string with a maximum length of 100.")
    assert_error(body_of(call(seko, "GET", "products/v4/NOPE")), NO_RESULTS)

    for n in range(2, 5):
        post("submit", product(f"P{n}"))
    page1 = body_of(call(seko, "GET", "products/v4/all", params={"page": "1", "pageSize": "3"}))
    page2 = body_of(call(seko, "GET", "products/v4/all", params={"page": "2", "pageSize": "3"}))
    assert [p["ProductCode"] for p in page1["List"]["ProductMaster"]] == ["P1", "P2", "P3"]
    assert page1["NextPage"] == 2
    assert [p["ProductCode"] for p in page2["List"]["ProductMaster"]] == ["P4"]
    assert page2["NextPage"] is None


# --- sales orders -----------------------------------------------------------------------------


def test_model_validation_lists_every_missing_field(seko: RunningSimulator) -> None:
    seed(seko)
    body = order("SO-1")
    body["DeliveryDetails"] = {"PostcodeZip": "SL4 1HE"}
    assert_error(submit(seko, body), "The City field is required.; The CountryCode field is required.; "
                                     "The Line1 field is required.")
    body = order("")
    assert_error(submit(seko, body), "The SalesOrderNumber field is required.")
    assert_error(submit(seko, order("S" * 51)),
                 "The field SalesOrderNumber must be a string with a maximum length of 50.")


def test_business_rules_in_order(seko: RunningSimulator) -> None:
    seed(seko)
    assert submit(seko, order("SO-1"))["CallStatus"]["Success"]
    prefix = "Error Submitting SalesOrder: SO-2 - Error."
    cases = [
        (order("SO-1"), "Error Submitting SalesOrder: SO-1 - Error. Sales Order SO-1 already exists."),
        (order("SO-2", dc="NOPE"), "Error. Invalid Mapping - DC"),
        (order("SO-2", courier=("RoyalMail", "XXX")), "Error. Invalid Mapping - CourierService"),
        (order("SO-2", [("SKU-A", 1), ("SKU-A", 1)]), f"{prefix} Duplicate ProductCode SKU-A."),
        (order("SO-2", [("SKU-A", 1), ("GHOST", 1)]), f"{prefix} Product GHOST does not exist."),
        (order("SO-2", [("SKU-A", 1), ("SKU-C", 1)]), f"{prefix} Product SKU-C has no free stock."),
        (order("SO-2", [("SKU-B", 6)]), f"{prefix} Product SKU-B has no free stock."),
    ]
    for body, message in cases:
        result = submit(seko, body)
        assert_error(result, message)
        assert result["GUID"] is None
    # A rejected order allocates nothing (SKU-A was on the rejected SO-2 lines too).
    assert free_stock(seko, "SKU-A") == 8
    assert sim_order(seko, "SO-2") is None


def test_submit_allocates_and_counts_attempts(seko: RunningSimulator) -> None:
    seed(seko)
    wrapped = {"Request": order("SO-7", [("SKU-A", 3), ("SKU-B", 5)])}
    wrapped["Request"]["SalesOrder"]["SalesOrderNumber"] = "SO-7"
    assert submit(seko, wrapped)["CallStatus"]["Success"]
    assert (free_stock(seko, "SKU-A"), free_stock(seko, "SKU-B")) == (7, 0)
    submit(seko, wrapped)  # a resend: refused, but counted as an attempt
    stored = sim_order(seko, "SO-7")
    assert stored is not None
    assert (stored["attempts"], stored["accepted_attempts"], stored["duplicate_attempts"], stored["Status"]) == (
        2, 1, 1, "To Be Picked")
    summary = seko.control("GET", "_sim/submit-attempts")
    assert (summary["max_attempts"], summary["duplicate_refusals"]) == (2, 1)
    assert summary["orders_refused_as_duplicates"] == ["SO-7"] and summary["accepted_more_than_once"] == []
    assert [(x["ProductCode"], x["Quantity"]) for x in stored["lines"]] == [("SKU-A", 3), ("SKU-B", 5)]
    assert_error(body_of(call(seko, "GET", "salesorders/v4/NOPE/status")), NO_RESULTS)
    assert_error(body_of(call(seko, "GET", "salesorders/v4/SO-7/dispatch")), NO_RESULTS)


def test_cancel_allowed_idempotent_and_refused(seko: RunningSimulator) -> None:
    seed(seko)
    for so in ("SO-1", "SO-2"):
        submit(seko, order(so, [("SKU-A", 2)]))
    assert free_stock(seko, "SKU-A") == 6

    def cancel(so: str, reason: str = "001") -> dict[str, Any]:
        return body_of(call(seko, "POST", f"salesorders/v3/{so}/cancel", params={"reasonCode": reason}))

    assert cancel("SO-1") == {"CallStatus": {"Success": True, "Code": 0, "Message": ""}, "GUID": None}
    assert free_stock(seko, "SKU-A") == 8
    assert cancel("SO-1")["CallStatus"]["Success"]  # idempotent, and no double release
    assert free_stock(seko, "SKU-A") == 8
    assert body_of(call(seko, "GET", "salesorders/v4/SO-1/status"))["Status"] == "Cancelled"

    seko.control("POST", "_sim/orders/SO-2/status", {"Status": "Pick Complete"})
    assert_error(cancel("SO-2"), "Error Cancelling SalesOrder: SO-2 - Error. "
                                 "Sales Order SO-2 cannot be cancelled in status Pick Complete.")
    assert_error(cancel("SO-9"),
                 "Error Cancelling SalesOrder: SO-9 - Error. Sales Order SO-9 does not exist.")
    assert "Invalid ReasonCode 009" in cancel("SO-2", "009")["CallStatus"]["Message"]


# --- stock ------------------------------------------------------------------------------------


def test_stock_query(seko: RunningSimulator) -> None:
    seed(seko)
    result = body_of(call(seko, "GET", "stock/v3/quantity", params={"productCodes": "SKU-A,SKU-B,SKU-C",
                                                                    "dc": "DCCL01"}))
    assert result["List"]["StockQuantityLineItem"] == [
        {"ProductCode": "SKU-A", "DCCode": "DCCL01", "LocationType": "Available Stock", "Quantity": 10},
        {"ProductCode": "SKU-B", "DCCode": "DCCL01", "LocationType": "Available Stock", "Quantity": 5},
    ]
    everything = body_of(call(seko, "GET", "stock/v3/quantity"))["List"]["StockQuantityLineItem"]
    assert {line["ProductCode"] for line in everything} == {"SKU-A", "SKU-B", "100083"}
    empty = body_of(call(seko, "GET", "stock/v3/quantity", params={"productCodes": "SKU-C"}))
    assert empty["CallStatus"] == {"Success": True, "Code": 0, "Message": NO_RESULTS}
    assert empty["List"]["StockQuantityLineItem"] == []

    # The cap counts the query string as sent: requests encodes each comma as %2C.
    codes = [f"SKU-{n:05d}" for n in range(200)]
    too_long = call(seko, "GET", "stock/v3/quantity", params={"productCodes": ",".join([*codes, "SKU-A"])})
    assert too_long.status_code == 414
    assert too_long.json()["CallStatus"]["Message"] == \
        "The query string exceeds the maximum length of 2048 characters."
    fits = call(seko, "GET", "stock/v3/quantity", params={"productCodes": ",".join([*codes[:150], "SKU-A"])})
    assert fits.status_code == 200
    assert fits.json()["List"]["StockQuantityLineItem"][0]["ProductCode"] == "SKU-A"


# --- warehouse and pushes ---------------------------------------------------------------------


def verify_signature(headers: dict[str, str], raw: bytes) -> None:
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + raw
    expected = base64.b64encode(hmac.new(SECRET_BYTES, signed, hashlib.sha256).digest()).decode()
    assert headers["webhook-signature"] == f"v1,{expected}"
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 60


def test_advance_dispatches_and_pushes_signed_batches(seko: RunningSimulator, receiver: Receiver) -> None:
    seed(seko)
    configure_push(seko, receiver)
    start = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 5))
    guids = {so: submit(seko, order(so, [("SKU-A", 2), ("SKU-B", 1)]))["GUID"]
             for so in ("SO-1", "SO-2", "SO-3")}
    advanced = seko.control("POST", "_sim/warehouse/advance", {"orders": 2, "seed": 1})
    assert advanced == {"dispatched": ["SO-1", "SO-2"]}
    assert seko.control("GET", "_sim/state")["pending_pushes"] == 4  # 2 dispatches + 2 tracking
    assert receiver.posts == []  # nothing goes before the interval or a flush

    flushed = seko.control("POST", "_sim/push/flush")
    assert flushed["delivered"] == 4 and flushed["pending"] == 0
    assert len(receiver.posts) == 1
    headers, raw = receiver.posts[0]
    assert headers["authorization"] == f"Bearer {TOKEN}"
    assert headers["content-type"] == "application/json"
    verify_signature(headers, raw)

    records = receiver.records()
    dispatches = [r for r in records if r["kind"] == "DispatchConfirmation"]
    tracking = [r for r in records if r["kind"] == "TrackingDetails"]
    assert [d["SalesOrderNumber"] for d in dispatches] == ["SO-1", "SO-2"]
    # The pages give an order message the order's GUID as its InterfaceRecordId; the sequence
    # number tells two messages of one order apart.
    for record in dispatches + tracking:
        assert record["InterfaceRecordId"] == guids[record["SalesOrderNumber"]]
    sequences = [int(r["SequenceNumber"]) for r in records]
    assert sequences == sorted(set(sequences))
    for record in records:
        assert record["IntegrationId"] == "BC"
        assert (record["MessagePart"], record["MessageTotal"]) == (1, 1)
    first = dispatches[0]
    assert first["GUID"] == guids["SO-1"] and uuid.UUID(first["DispatchId"])  # a SupplyStream GUID
    assert [(line["ProductCode"], line["Quantity"]) for line in first["List"]["DispatchLineItem"]] == \
        [("SKU-A", 2), ("SKU-B", 1)]
    # DispatchNumber counts the order's dispatches ("Push Tracking Details"); it is not the DispatchId.
    assert tracking[0]["DispatchNumber"] == "1" and tracking[0]["Courier"] == "RoyalMail"
    assert tracking[0]["SalesOrderNumber"] == "SO-1"
    assert tracking[0]["TrackingNumber"] == first["TrackingNumber"] != ""

    polled = body_of(call(seko, "GET", "salesorders/v4/SO-1/dispatch"))["DispatchConfirmation"]
    assert polled == {k: v for k, v in first.items() if k != "kind"}
    end = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() + 5))
    window = body_of(call(seko, "GET", f"dispatches/v1/status/{start}/{end}",
                          params={"status": "Dispatched", "dc": "DCCL01"}))
    assert [(i["SalesOrderNumber"], i["GUID"]) for i in window["List"]["DispatchLineItem"]] == \
        [("SO-1", guids["SO-1"]), ("SO-2", guids["SO-2"])]
    before = body_of(call(seko, "GET", "dispatches/v1/status/2020-01-01T00:00:00/2020-01-02T00:00:00"))
    assert before["List"]["DispatchLineItem"] == [] and before["CallStatus"]["Message"] == NO_RESULTS
    # Allocated stock left with the parcels; free stock is unchanged by dispatch.
    assert free_stock(seko, "SKU-A") == 4
    state = seko.control("GET", "_sim/state")
    assert state["orders"]["Dispatched"] == 2 and state["orders"]["To Be Picked"] == 1
    assert state["delivered_pushes"] == 4


def test_short_ship_and_missing_tracking(seko: RunningSimulator, receiver: Receiver) -> None:
    seed(seko)
    configure_push(seko, receiver)
    submit(seko, order("SO-1", [("SKU-A", 3), ("SKU-B", 1)]))
    seko.control("POST", "_sim/warehouse/advance", {"orders": "all", "short_ship_rate": 1,
                                                    "missing_tracking_rate": 1, "missing_carrier_rate": 1})
    seko.control("POST", "_sim/push/flush")
    records = receiver.records()
    assert [r["kind"] for r in records] == ["DispatchConfirmation"]  # no tracking: no TrackingDetails
    dispatch = records[0]
    assert dispatch["TrackingNumber"] == "" and dispatch["CourierName"] == ""
    lines = dispatch["List"]["DispatchLineItem"]
    assert len(lines) == 2  # a short (even zero) line is still listed
    assert sum(line["Quantity"] for line in lines) < 4


def test_background_thread_delivers_on_the_interval(seko: RunningSimulator, receiver: Receiver) -> None:
    seed(seko)
    configure_push(seko, receiver, push_interval_seconds=0.5)
    seko.control("POST", "_sim/warehouse/adjust", [{**ONE_UNIT, "Quantity": -3, "Reason": "Damaged"}])
    deadline = time.monotonic() + 10
    while not receiver.posts and time.monotonic() < deadline:
        time.sleep(0.1)
    (record,) = receiver.records()
    assert record["kind"] == "StockAdjustment"
    [line] = record["List"]["StockAdjustmentLineItem"]
    assert (record["StockAdjustmentType"], record["DCCode"], record["LocationType"]) == \
        ("Decrease", "DCCL01", "Available Stock")
    assert (line["ProductCode"], line["Quantity"], line["ReasonDescription"]) == ("SKU-A", 3, "Damaged")
    assert free_stock(seko, "SKU-A") == 7


def test_concurrent_flushes_deliver_each_record_once(seko: RunningSimulator, receiver: Receiver) -> None:
    seed(seko)
    configure_push(seko, receiver, push_interval_seconds=0.2)  # the thread races the flushes too
    seko.control("POST", "_sim/warehouse/adjust",
                 [ONE_UNIT] * 60)
    threads = [threading.Thread(target=seko.control, args=("POST", "_sim/push/flush")) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    deadline = time.monotonic() + 10
    while seko.control("GET", "_sim/state")["pending_pushes"] and time.monotonic() < deadline:
        time.sleep(0.1)
    ids = [r["InterfaceRecordId"] for r in receiver.records()]
    assert len(ids) == 60 and len(set(ids)) == 60


def test_failed_delivery_retried_three_times_then_dropped(seko: RunningSimulator, receiver: Receiver) -> None:
    seed(seko)
    configure_push(seko, receiver)
    receiver.status = 500
    seko.control("POST", "_sim/warehouse/adjust", [ONE_UNIT])
    for attempt in range(1, 4):
        assert seko.control("POST", "_sim/push/flush")["failed"] == 1
        (push,) = seko.control("GET", "_sim/pushes")["pushes"]
        assert (push["status"], push["failures"]) == ("pending", attempt)
    assert seko.control("POST", "_sim/push/flush")["dropped"] == 1
    assert len(receiver.posts) == 4
    assert seko.control("GET", "_sim/state")["dropped_pushes"] == 1
    receiver.status = 200
    assert seko.control("POST", "_sim/push/flush")["delivered"] == 0


def test_no_push_url_keeps_pushes_pending(seko: RunningSimulator) -> None:
    seed(seko)
    seko.control("POST", "_sim/config", {"push_url": ""})
    seko.control("POST", "_sim/warehouse/adjust", [ONE_UNIT])
    assert seko.control("POST", "_sim/push/flush")["pending"] == 1
    assert seko.control("GET", "_sim/config")["push_url"] == ""


@pytest.mark.parametrize("fault,expected_posts,expected_state", [
    ("drop_push_rate", 0, {"dropped_pushes": 1, "delivered_pushes": 0}),
    ("duplicate_push_rate", 2, {"dropped_pushes": 0, "delivered_pushes": 1}),
])
def test_dropped_and_duplicated_pushes(seko: RunningSimulator, receiver: Receiver, fault: str,
                                       expected_posts: int, expected_state: dict[str, int]) -> None:
    seed(seko)
    configure_push(seko, receiver)
    seko.control("POST", "_sim/faults", {fault: 1.0})
    seko.control("POST", "_sim/warehouse/adjust", [ONE_UNIT])
    seko.control("POST", "_sim/push/flush")
    assert len(receiver.posts) == expected_posts
    if expected_posts == 2:
        first, second = receiver.records()
        assert first == second  # the same record again: same InterfaceRecordId/SequenceNumber/MessagePart
    state = seko.control("GET", "_sim/state")
    assert {key: state[key] for key in expected_state} == expected_state


# --- faults -----------------------------------------------------------------------------------


def test_timeout_after_commit_takes_effect(seko: RunningSimulator) -> None:
    seed(seko)
    seko.control("POST", "_sim/faults", {"timeout_after_commit_rate": 1, "hang_seconds": 3,
                                         "endpoints": ["salesorders/v4/submit"]})
    with pytest.raises(requests.ReadTimeout):
        call(seko, "POST", "salesorders/v4/submit", json_body=order("SO-1"), timeout=1)
    stored = sim_order(seko, "SO-1")  # committed before the reply was held back
    assert stored is not None and stored["accepted_attempts"] == 1
    assert free_stock(seko, "SKU-A") == 8
    seko.control("POST", "_sim/faults", {})
    assert_error(submit(seko, order("SO-1")),
                 "Error Submitting SalesOrder: SO-1 - Error. Sales Order SO-1 already exists.")
    stored = sim_order(seko, "SO-1")
    assert stored is not None and (stored["attempts"], stored["accepted_attempts"], stored["duplicate_attempts"]) == (
        2, 1, 1)


def test_timeout_before_work_has_no_effect(seko: RunningSimulator) -> None:
    seed(seko)
    seko.control("POST", "_sim/faults", {"timeout_rate": 1, "hang_seconds": 0.5})
    response = call(seko, "POST", "salesorders/v4/submit", json_body=order("SO-1"))
    assert response.status_code == 504
    assert sim_order(seko, "SO-1") is None


def test_error_and_rate_limit_faults(seko: RunningSimulator) -> None:
    seed(seko)
    seko.control("POST", "_sim/faults", {"error_rate": 1, "endpoints": ["salesorders/v4/submit"]})
    assert call(seko, "POST", "salesorders/v4/submit", json_body=order("SO-1")).status_code in (500, 503)
    assert sim_order(seko, "SO-1") is None
    assert call(seko, "GET", "reference/v1/dcs").status_code == 200  # not in "endpoints"
    assert seko.control("GET", "_sim/faults")["error_rate"] == 1

    seko.control("POST", "_sim/faults", {"rate_limit_rate": 1})
    limited = call(seko, "GET", "reference/v1/dcs")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "1"
    assert seko.control("GET", "_sim/state")["dcs"] == 2  # never on _sim

    seko.control("POST", "_sim/faults", {"latency_ms": 300})
    started = time.monotonic()
    assert call(seko, "GET", "reference/v1/dcs").status_code == 200
    assert time.monotonic() - started >= 0.3
    seko.control("POST", "_sim/faults", {})
    assert seko.control("GET", "_sim/faults") == {}


def test_seeded_faults_repeat(seko: RunningSimulator) -> None:
    def run() -> list[int]:
        seko.control("POST", "_sim/faults", {"error_rate": 0.5, "seed": 42})
        return [call(seko, "GET", "reference/v1/dcs").status_code for _ in range(12)]

    first = run()
    assert first == run()
    assert 200 in first and any(code >= 500 for code in first)


# --- quirks -----------------------------------------------------------------------------------


def test_quirk_shapes(seko: RunningSimulator, receiver: Receiver) -> None:
    seed(seko)
    configure_push(seko, receiver)
    seko.control("POST", "_sim/products", [{"ProductCode": "200001", "Currency": "GBP"}])
    seko.control("POST", "_sim/stock", [{"ProductCode": "200001", "DCCode": "DCCL01", "Quantity": 4}])
    guid = submit(seko, order("700001", [("SKU-A", 1), ("200001", 2)]))["GUID"]
    seko.control("POST", "_sim/faults", {"quirks": True})

    status = body_of(call(seko, "GET", "salesorders/v4/700001/status"))
    assert status == {"Response": {"CallStatus": {"Success": True, "Code": 0, "Message": {}},
                                   "GUID": guid, "Status": "To Be Picked"}}
    product = body_of(call(seko, "GET", "products/v4/200001"))["Response"]["ProductMaster"]
    assert product == {"ProductCode": 200001, "Currency": "gbp"}
    failed = body_of(call(seko, "GET", "salesorders/v4/NOPE/status"))["Response"]
    assert failed["GUID"] == {} and failed["CallStatus"]["Message"] == NO_RESULTS

    stock = body_of(call(seko, "GET", "stock/v3/quantity", params={"dc": "DCCL01"}))["Response"]
    lines = stock["List"]["StockQuantityLineItem"]
    assert isinstance(lines, list)
    assert all("FreeQuantity" in line and "Quantity" not in line for line in lines)
    assert {"ProductCode": "SKU-C", "DCCode": "DCCL01", "LocationType": "Available Stock",
            "FreeQuantity": 0} in lines
    assert {"ProductCode": 200001, "DCCode": "DCCL01", "LocationType": "Available Stock",
            "FreeQuantity": 2} in lines
    single = body_of(call(seko, "GET", "stock/v3/quantity", params={"productCodes": "SKU-B"}))["Response"]
    assert single["List"]["StockQuantityLineItem"] == {"ProductCode": "SKU-B", "DCCode": "DCCL01",
                                                       "LocationType": "Available Stock", "FreeQuantity": 5}

    seko.control("POST", "_sim/warehouse/advance", {"orders": "all", "missing_tracking_rate": 1})
    poll = body_of(call(seko, "GET", "dispatches/v1/status/2020-01-01T00:00:00/2099-01-01T00:00:00"))
    assert poll["Response"]["List"]["DispatchLineItem"] == {"DCCode": "DCCL01", "GUID": guid}

    # A two-line dispatch arrives whole, as one record ("each dispatch is a separate part"),
    # with the value quirks: numeric codes, {} for empty.
    seko.control("POST", "_sim/push/flush")
    [record] = receiver.records()
    assert (record["MessagePart"], record["MessageTotal"]) == (1, 1)
    assert record["SalesOrderNumber"] == 700001 and record["TrackingNumber"] == {}
    assert [line["ProductCode"] for line in record["List"]["DispatchLineItem"]] == ["SKU-A", 200001]
    whole = body_of(call(seko, "GET", "salesorders/v4/700001/dispatch"))["Response"]["DispatchConfirmation"]
    assert len(whole["List"]["DispatchLineItem"]) == 2


def test_reset_clears_everything(seko: RunningSimulator, receiver: Receiver) -> None:
    seed(seko)
    configure_push(seko, receiver)
    seko.control("POST", "_sim/faults", {"quirks": True})
    submit_body = copy.deepcopy(order("SO-1"))
    assert body_of(call(seko, "POST", "salesorders/v4/submit", json_body=submit_body))["Response"]
    seko.control("POST", "_sim/reset")
    state = seko.control("GET", "_sim/state")
    assert state["products"] == state["orders_total"] == state["stock_rows"] == state["pending_pushes"] == 0
    assert seko.control("GET", "_sim/faults") == {}
    assert seko.control("GET", "_sim/config")["push_url"] != receiver.url
