"""The order services' bodies as Seko's own iHub pages lay them out (tests/fixtures/seko-documented,
made-up values; docs/contracts/seko.md names the page each one follows), read by the Seko client:
first by its pure parsers, then by its methods against a tiny local server that answers with
those bodies and records what the client sent."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from integration.clients.errors import Exchange, NotFound, Rejected
from integration.clients.seko import (
    DispatchRef,
    OrderStatus,
    SekoClient,
    SubmitResult,
    call_status,
    list_items,
    parse_body,
    parse_dispatch_ref,
)
from integration.orders.mapper import map_order
from tests.factories import BlueCherryOrderFactory, LineFactory

DOCUMENTED = Path(__file__).parent / "fixtures" / "seko-documented"
API_KEY = "documented-key"
ORDER_GUID = "6f1c2a9e-3b7d-4e58-9a41-0c2d7be5f913"

RESPONSES = ["sales_order_submit_response", "sales_order_submit_error", "sales_order_cancel_response",
             "sales_order_cancel_refused", "sales_order_status_response", "dispatch_poll_response",
             "order_dispatch_response"]


def documented(name: str) -> str:
    return (DOCUMENTED / f"{name}.json").read_text()


def key_tree(value: Any) -> Any:
    """The layout of a JSON value: the keys of every object, the first item of every list."""
    if isinstance(value, dict):
        return {key: key_tree(item) for key, item in value.items()}
    if isinstance(value, list):
        return [key_tree(value[0])] if value else []
    return None


# --- the pure parsers ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", RESPONSES)
def test_every_documented_answer_has_a_call_status_the_client_reads(name: str) -> None:
    status = call_status(parse_body(documented(name)))
    assert status.code in (0, 100)
    assert status.success is (status.code == 0)


def test_documented_dispatch_poll_gives_guids_and_dcs_but_no_order_numbers() -> None:
    body = parse_body(documented("dispatch_poll_response"))
    assert [parse_dispatch_ref(item) for item in list_items(body, "DispatchLineItem")] == [
        DispatchRef("DCCL01", ORDER_GUID, None),
        DispatchRef("DCCL01", "b83e0d57-61a2-4c9f-8e14-5d7a29c3f0b6", None),
    ]


def test_the_submit_body_we_build_has_the_documented_layout() -> None:
    order = BlueCherryOrderFactory(lines=[LineFactory(line_no=1, sku="A"), LineFactory(line_no=2, sku="B")])
    body, _ = map_order(order, dc_code="DCCL01", courier_name="RoyalMail", courier_service="TPN24")
    assert key_tree(body) == key_tree(json.loads(documented("sales_order_submit")))


# --- the client's methods against a server answering the documented bodies ----------------------


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any


@dataclass
class FakeIhub:
    """Answers ``answers[(method, path)]`` (HTTP status, fixture name) and keeps every request."""

    base_url: str
    answers: dict[tuple[str, str], tuple[int, str]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)

    def answer(self, method: str, path: str, name: str, status: int = 200) -> None:
        self.answers[(method, "/api/" + path)] = (status, name)


@pytest.fixture
def ihub() -> Iterator[FakeIhub]:
    fake = FakeIhub(base_url="")

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            fake.received.append(Received(self.command, url.path, parse_qs(url.query),
                                          json.loads(raw) if raw else None))
            status, name = fake.answers.get((self.command, url.path), (404, ""))
            body = documented(name).encode() if name else b"No HTTP resource was found"
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _serve

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}/api/"
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture
def exchanges() -> list[Exchange]:
    return []


@pytest.fixture
def client(ihub: FakeIhub, exchanges: list[Exchange]) -> Iterator[SekoClient]:
    with SekoClient(ihub.base_url, API_KEY, timeout=(2, 5), max_retries=2, backoff=0.001,
                    on_exchange=exchanges.append) as seko:
        yield seko


def test_the_documented_submit_body_goes_out_as_is_and_its_guid_comes_back(ihub: FakeIhub,
                                                                          client: SekoClient) -> None:
    ihub.answer("POST", "salesorders/v4/submit", "sales_order_submit_response")
    payload = json.loads(documented("sales_order_submit"))
    assert client.submit_order(payload) == SubmitResult(guid=ORDER_GUID, already_existed=False)
    [request] = ihub.received
    assert (request.method, request.path, request.query) == ("POST", "/api/salesorders/v4/submit",
                                                             {"api_key": [API_KEY]})
    assert request.body == payload


def test_a_documented_refusal_keeps_sekos_words_and_is_not_retried(ihub: FakeIhub, client: SekoClient,
                                                                  exchanges: list[Exchange]) -> None:
    ihub.answer("POST", "salesorders/v4/submit", "sales_order_submit_error")
    with pytest.raises(Rejected) as caught:
        client.submit_order(json.loads(documented("sales_order_submit")))
    assert type(caught.value) is Rejected
    assert caught.value.remote_message == (
        "Error Submitting SalesOrder: SO-700123 - Error. Product 20417-OLIVE-M has no free stock.")
    assert (caught.value.code, caught.value.status_code) == (100, 200)  # business errors come as HTTP 200
    assert len(ihub.received) == len(exchanges) == 1


def test_a_cancel_seko_accepts_is_done_and_carries_the_reason_code(ihub: FakeIhub, client: SekoClient) -> None:
    ihub.answer("POST", "salesorders/v3/SO-700123/cancel", "sales_order_cancel_response")
    assert client.cancel_order("SO-700123", reason_code="004") is None
    [request] = ihub.received
    assert request.path == "/api/salesorders/v3/SO-700123/cancel"
    assert request.query == {"api_key": [API_KEY], "reasonCode": ["004"]}


def test_a_cancel_refused_in_a_pick_wave_is_a_refusal_with_sekos_reason(ihub: FakeIhub,
                                                                        client: SekoClient) -> None:
    ihub.answer("POST", "salesorders/v3/SO-700123/cancel", "sales_order_cancel_refused")
    with pytest.raises(Rejected) as caught:
        client.cancel_order("SO-700123")
    assert not isinstance(caught.value, NotFound)  # the order exists: CX must hear Seko said no
    assert caught.value.remote_message == "Error. Dispatch assigned to a pick wave cannot be cancelled"


def test_order_status_reads_the_status_and_the_guid(ihub: FakeIhub, client: SekoClient) -> None:
    ihub.answer("GET", "salesorders/v4/SO-700123/status", "sales_order_status_response")
    assert client.order_status("SO-700123") == OrderStatus(guid=ORDER_GUID, status="Being Picked")


def test_the_dispatch_poll_asks_for_a_utc_window_and_reads_guids(ihub: FakeIhub, client: SekoClient) -> None:
    path = "dispatches/v1/status/2026-03-02T14:00:00/2026-03-02T15:00:00"
    ihub.answer("GET", path, "dispatch_poll_response")
    refs = client.dispatched_orders(datetime(2026, 3, 2, 14, tzinfo=UTC), datetime(2026, 3, 2, 15, tzinfo=UTC),
                                    dc="DCCL01")
    assert [(ref.guid, ref.sales_order_number) for ref in refs] == [
        (ORDER_GUID, None), ("b83e0d57-61a2-4c9f-8e14-5d7a29c3f0b6", None)]
    [request] = ihub.received
    assert request.query == {"api_key": [API_KEY], "status": ["Dispatched"], "dc": ["DCCL01"]}


def test_an_orders_dispatch_keeps_each_lot_line_and_the_zero_line(ihub: FakeIhub, client: SekoClient) -> None:
    ihub.answer("GET", "salesorders/v4/SO-700123/dispatch", "order_dispatch_response")
    confirmation = client.order_dispatch("SO-700123")
    assert (confirmation["DispatchId"], confirmation["CourierService"]) == (
        "0d9f4c61-7e2b-4a83-b5c6-91e0f2a7d348", "Next Day")
    lines = confirmation["List"]["DispatchLineItem"]
    assert [(line["ProductCode"], line.get("LotNo"), line["Quantity"]) for line in lines] == [
        ("20417-OLIVE-S", "L2401", 2), ("20417-OLIVE-S", "L2402", 1), ("20417-OLIVE-M", None, 0)]
