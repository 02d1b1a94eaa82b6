"""A reply that is not the system's own envelope (a proxy's or gateway's HTML error page with a
4xx status) is never taken as the system refusing the request: it is ``Transient``, tried again
later, where the same status with the system's own refusal stays ``Rejected``."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from integration.clients.bluecherry import BlueCherryClient
from integration.clients.errors import Exchange, NotFound, Rejected, Transient
from integration.clients.seko import SekoClient
from integration.models import Order
from tests.factories import BlueCherryOrderFactory
from tests.test_order_flow import release, run_flow, seko_orders, world  # noqa: F401  (a fixture)

PROXY_PAGE = b"<html><body><h1>400 Bad Request</h1>nginx</body></html>"


@pytest.fixture
def answering() -> Iterator[tuple[str, dict]]:
    """A server answering every request with ``reply["status"]`` and ``reply["body"]``."""
    reply: dict = {"status": 400, "body": PROXY_PAGE}

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(reply["status"])
            self.send_header("Content-Length", str(len(reply["body"])))
            self.end_headers()
            self.wfile.write(reply["body"])

        do_GET = do_POST = do_PUT = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", reply
    server.shutdown()
    server.server_close()


PRODUCT = {"ProductCode": "SKU-1", "Description": "Tee", "Barcode": "5012345678900"}


@pytest.mark.parametrize("status", [400, 404, 405, 413])
def test_a_proxy_page_from_seko_is_transient_not_a_refusal(answering, status):
    base_url, reply = answering
    reply["status"] = status
    exchanges: list[Exchange] = []
    client = SekoClient(base_url, "key", max_retries=0, on_exchange=exchanges.append)
    with pytest.raises(Transient, match="without iHub's answer"):
        client.submit_product(PRODUCT)
    assert exchanges[-1].status_code == status and "nginx" in exchanges[-1].response_body


def test_seko_refusing_in_its_own_envelope_is_still_a_refusal(answering):
    base_url, reply = answering
    reply["body"] = json.dumps({"CallStatus": {"Success": False, "Message": "Invalid product code",
                                               "Code": 1}}).encode()
    with pytest.raises(Rejected, match="Invalid product code"):
        SekoClient(base_url, "key", max_retries=0).submit_product(PRODUCT)


@pytest.mark.parametrize("status", [400, 404, 409, 422])
def test_a_proxy_page_from_blue_cherry_is_transient_not_a_refusal(answering, status):
    base_url, reply = answering
    reply["status"] = status
    with pytest.raises(Transient, match="without Blue Cherry's answer"):
        BlueCherryClient(base_url, "key", max_retries=0).get_sales_order("SO-1")


def test_blue_cherry_refusing_in_its_own_envelope_is_still_a_refusal(answering):
    base_url, reply = answering
    reply["status"], reply["body"] = 404, json.dumps({"error": {"code": "not_found",
                                                               "message": "No order SO-1"}}).encode()
    with pytest.raises(NotFound, match="No order SO-1"):
        BlueCherryClient(base_url, "key", max_retries=0).get_sales_order("SO-1")
    reply["status"], reply["body"] = 422, json.dumps({"error": {"code": "validation_failed",
                                                               "message": "qty too high"}}).encode()
    with pytest.raises(Rejected, match="qty too high"):
        BlueCherryClient(base_url, "key", max_retries=0).get_sales_order("SO-1")


# --- the flows, against the simulators answering with a proxy's page ---------------------------

@pytest.mark.django_db
def test_orders_met_by_seko_proxy_pages_wait_and_go_once_seko_answers(world):
    bluecherry, seko = world
    seko.control("POST", "_sim/faults", {"proxy_page_rate": 1.0, "seed": 3,
                                         "endpoints": ["salesorders/v4/submit"]})
    release(bluecherry, *(BlueCherryOrderFactory(ord_num=f"SO-PX{n}") for n in range(4)))
    run_flow()
    assert set(Order.objects.values_list("status", flat=True)) == {Order.Status.RECEIVED}  # waiting, not refused
    assert not Order.objects.exclude(last_error="").filter(last_error__contains="rejected").exists()
    assert seko_orders(seko) == {}
    seko.control("POST", "_sim/faults", {})
    run_flow()
    assert set(Order.objects.values_list("status", flat=True)) == {Order.Status.SENT}
    assert seko.control("GET", "_sim/submit-attempts")["accepted_more_than_once"] == []


def test_the_simulators_answer_proxy_pages_in_html_without_an_envelope(bluecherry, seko):
    seko.control("POST", "_sim/faults", {"proxy_page_rate": 1.0})
    bluecherry.control("POST", "_sim/faults", {"proxy_page_rate": 1.0})
    for sim, path, auth in ((seko, "reference/v1/dcs", {"params": {"api_key": seko.api_key}}),
                            (bluecherry, "items", {"headers": {"Ocp-Apim-Subscription-Key": bluecherry.api_key}})):
        reply = requests.get(f"{sim.base_url}{path}", timeout=10, **auth)
        assert reply.status_code in (400, 404, 502) and reply.headers["Content-Type"].startswith("text/html")
        assert "<html>" in reply.text
