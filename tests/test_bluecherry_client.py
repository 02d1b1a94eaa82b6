"""The Blue Cherry client over real HTTP against the Blue Cherry simulator."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, date, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from integration.clients.bluecherry import BlueCherryClient
from integration.clients.errors import Exchange, MalformedPayload, NotFound, Rejected, Transient, Unauthorized
from integration.clients.http import utc_iso
from integration.shared.systems import bluecherry_client
from tests.helpers import assert_rate_limit_is_retried_after_the_time_asked

SECRET = "SECRET-KEY-123"
NO_MIX = {"mix": {kind: 0 for kind in ("bad_ship_via", "bad_location", "sku_not_live", "missing_address",
                                       "repeated_sku", "invalid_item")}}


@pytest.fixture
def exchanges() -> list[Exchange]:
    return []


@pytest.fixture
def client(bluecherry, exchanges: list[Exchange]) -> BlueCherryClient:
    with BlueCherryClient(bluecherry.base_url, bluecherry.api_key, timeout=(2, 5), max_retries=2,
                          backoff=0.001, on_exchange=exchanges.append) as client:
        yield client


def faults(bluecherry, **config: object) -> None:
    bluecherry.control("POST", "_sim/faults", config)


def seed_order(bluecherry, ord_num: str = "SO-100234", status: str = "RELEASED", **fields: object) -> None:
    bluecherry.control("POST", "_sim/items", [{"sku": "10023-NAVY-M", "upc": "5056000000017"},
                                              {"sku": "10023-NAVY-L", "upc": "5056000000024"}])
    bluecherry.control("POST", "_sim/orders", [{
        "ord_num": ord_num, "status": status, "ship_to": {"name": "Ana Silva", "city": "Windsor"},
        "lines": [{"line_no": 1, "sku": "10023-NAVY-M", "qty_ordered": 2},
                  {"line_no": 2, "sku": "10023-NAVY-L", "qty_ordered": 1}],
        **fields,
    }])


def shipment(ord_num: str = "SO-100234", dispatch_id: str = "DSP-55121", **fields: object) -> dict:
    return {"ord_num": ord_num, "wms_dispatch_id": dispatch_id, "ship_date": "2026-11-27T16:40:00Z",
            "carrier": "RoyalMail", "ship_via": "RMNDAY", "tracking_numbers": ["JD014600003GB"],
            "lines": [{"line_no": 1, "sku": "10023-NAVY-M", "qty_shipped": 2},
                      {"line_no": 2, "sku": "10023-NAVY-L", "qty_shipped": 0}],
            "cancel_remainder": True, **fields}


def test_datetimes_are_sent_in_utc_with_z() -> None:
    paris_summer = timezone(timedelta(hours=2))
    assert utc_iso(datetime(2026, 11, 27, 10, 0, tzinfo=paris_summer)) == "2026-11-27T08:00:00Z"
    with pytest.raises(ValueError):
        utc_iso(datetime(2026, 11, 27, 10, 0))


def test_every_page_of_orders_and_items_is_read(bluecherry, client: BlueCherryClient,
                                                exchanges: list[Exchange]) -> None:
    bluecherry.control("POST", "_sim/generate", {"items": 23, "orders": 45, "seed": 3, **NO_MIX})
    orders = list(client.iter_sales_orders("RELEASED", page_size=10))
    assert len({o["ord_num"] for o in orders}) == len(orders) == 45
    # The generator gives the orders one instant: asked again from it once, then by page number.
    assert [e.url.rsplit("page=", 1)[1].split("&")[0] for e in exchanges] == ["1", "1", "2", "3", "4", "5"]
    assert len(list(client.iter_items(page_size=7))) == 23
    assert list(client.iter_sales_orders("SHIPPED")) == []


def test_only_what_changed_since_the_cursor_is_listed(bluecherry, client: BlueCherryClient,
                                                      exchanges: list[Exchange]) -> None:
    bluecherry.control("POST", "_sim/items", [
        {"sku": "OLD", "updated_at": "2026-01-01T00:00:00Z", "status": "PENDING_WMS"},
        {"sku": "NEW", "updated_at": "2026-01-02T00:00:00Z", "status": "PENDING_WMS"},
        {"sku": "NEW-LIVE", "updated_at": "2026-01-02T00:00:00Z", "status": "LIVE"},
    ])
    since = datetime(2026, 1, 2, 1, 0, tzinfo=timezone(timedelta(hours=2)))  # 2026-01-01T23:00Z
    assert [i["sku"] for i in client.iter_items(updated_since=since, status="PENDING_WMS")] == ["NEW"]
    assert "updated_since=2026-01-01T23%3A00%3A00Z" in exchanges[-1].url
    assert {i["sku"] for i in client.iter_items(updated_since=since)} == {"NEW", "NEW-LIVE"}
    seed_order(bluecherry, "SO-OLD", updated_at="2026-01-01T00:00:00Z")
    seed_order(bluecherry, "SO-NEW", updated_at="2026-01-03T00:00:00Z")
    assert [o["ord_num"] for o in client.iter_sales_orders("RELEASED", updated_since=since)] == ["SO-NEW"]


def test_item_is_read_and_set_live(bluecherry, client: BlueCherryClient) -> None:
    bluecherry.control("POST", "_sim/items", [{"sku": "10023-NAVY-M", "status": "PENDING_WMS"}])
    assert client.get_item("10023-NAVY-M")["status"] == "PENDING_WMS"
    assert client.set_item_status("10023-NAVY-M", "LIVE", "10023-NAVY-M")["status"] == "LIVE"
    assert client.get_item("10023-NAVY-M")["status"] == "LIVE"


def test_unknown_order_or_item_is_not_found(bluecherry, client: BlueCherryClient,
                                            exchanges: list[Exchange]) -> None:
    with pytest.raises(NotFound) as caught:
        client.get_sales_order("SO-NOPE")
    assert (caught.value.status_code, caught.value.code) == (404, "not_found")
    assert caught.value.remote_message == "Sales order 'SO-NOPE' does not exist."
    with pytest.raises(NotFound):
        client.set_item_status("NOPE", "LIVE", "x")
    assert len(exchanges) == 2


def test_pick_ticket_moves_the_order_to_picking_and_a_repeat_is_harmless(
        bluecherry, client: BlueCherryClient, exchanges: list[Exchange]) -> None:
    seed_order(bluecherry)
    assert client.pick_ticket("SO-100234", "guid-1")["status"] == "PICKING"
    assert client.pick_ticket("SO-100234", "guid-1")["status"] == "PICKING"
    assert client.get_sales_order("SO-100234")["status"] == "PICKING"
    with pytest.raises(Rejected) as caught:
        client.pick_ticket("SO-100234", "guid-2")
    assert (caught.value.status_code, caught.value.code) == (409, "conflict")
    assert "already has pick ticket" in str(caught.value)
    assert [e.status_code for e in exchanges] == [200, 200, 200, 409]


def test_shipment_is_created_once_and_a_repeat_returns_the_same_numbers(
        bluecherry, client: BlueCherryClient, exchanges: list[Exchange]) -> None:
    seed_order(bluecherry)
    first = client.create_shipment(shipment())
    again = client.create_shipment(shipment())
    assert first == again and first["ship_num"] and first["invoice_num"]
    assert [e.status_code for e in exchanges] == [201, 200]
    [posted] = list(client.iter_shipments(ord_num="SO-100234"))
    assert posted["ship_num"] == first["ship_num"]
    assert list(client.iter_shipments(ship_date=date(2026, 11, 26))) == []
    assert [i["invoice_num"] for i in client.iter_invoices()] == [first["invoice_num"]]
    assert len(bluecherry.control("GET", "_sim/notifications")["results"]) == 1


def test_invalid_shipment_is_rejected_with_the_fields_at_fault(bluecherry, client: BlueCherryClient,
                                                               exchanges: list[Exchange]) -> None:
    seed_order(bluecherry)
    with pytest.raises(Rejected) as caught:
        client.create_shipment(shipment(carrier="", lines=[{"line_no": 1, "qty_shipped": -1}]))
    error = caught.value
    assert type(error) is Rejected
    assert (error.status_code, error.code, error.remote_message) == (422, "validation_failed",
                                                                     "The shipment is not valid.")
    assert {d["field"] for d in error.details} == {"carrier", "lines[0].qty_shipped"}
    assert str(error) == "Blue Cherry rejected shipments: The shipment is not valid."
    assert len(exchanges) == 1 and exchanges[0].error == str(error)


def test_shipping_more_than_is_open_is_rejected(bluecherry, client: BlueCherryClient) -> None:
    seed_order(bluecherry)
    with pytest.raises(Rejected) as caught:
        client.create_shipment(shipment(lines=[{"line_no": 1, "sku": "10023-NAVY-M", "qty_shipped": 5}]))
    assert caught.value.status_code == 422 and caught.value.details


def test_shipment_of_a_cancelled_order_is_a_conflict(bluecherry, client: BlueCherryClient) -> None:
    seed_order(bluecherry, status="CANCELLED")
    with pytest.raises(Rejected) as caught:
        client.create_shipment(shipment())
    assert (caught.value.status_code, caught.value.code) == (409, "conflict")


def test_ats_update_is_queued_and_then_applied(bluecherry, client: BlueCherryClient) -> None:
    seed_order(bluecherry)
    bluecherry.control("POST", "_sim/inventory", [{"sku": "10023-NAVY-M", "location": "UK3PL", "on_hand": 9}])
    faults(bluecherry, batch_cycle_seconds=3600)
    batch = client.post_ats_update("UK3PL", datetime.now(UTC), [{"sku": "10023-NAVY-M", "available_qty": 7}])
    assert batch["accepted"] == 1
    assert client.ats_batch(batch["batch_id"])["status"] == "QUEUED"
    faults(bluecherry, batch_cycle_seconds=0)
    assert client.ats_batch(batch["batch_id"])["status"] == "APPLIED"
    [position] = [p for p in client.iter_inventory("UK3PL") if p["sku"] == "10023-NAVY-M"]
    assert position["channel_available"] == 7
    with pytest.raises(NotFound):
        client.ats_batch("ATS-NOPE")


def test_wrong_key_is_unauthorized_not_retried_and_never_shown(
        bluecherry, exchanges: list[Exchange], caplog: pytest.LogCaptureFixture) -> None:
    client = BlueCherryClient(bluecherry.base_url, SECRET, max_retries=2, backoff=0.001,
                              on_exchange=exchanges.append)
    with caplog.at_level(logging.DEBUG), pytest.raises(Unauthorized) as caught:
        list(client.iter_items())
    assert [e.status_code for e in exchanges] == [401]
    texts = [str(caught.value), *(e.url + e.error + e.request_body + e.response_body for e in exchanges),
             *(r.getMessage() for r in caplog.records)]
    assert all(SECRET not in text for text in texts)


def test_server_errors_are_retried_then_transient(bluecherry, client: BlueCherryClient,
                                                  exchanges: list[Exchange]) -> None:
    faults(bluecherry, error_rate=1)
    with pytest.raises(Transient) as caught:
        client.get_sales_order("SO-1")
    assert [e.status_code for e in exchanges] == [500, 500, 500]
    assert caught.value.retry_after is None


def test_intermittent_errors_do_not_break_paging(bluecherry, exchanges: list[Exchange]) -> None:
    bluecherry.control("POST", "_sim/generate", {"items": 10, "orders": 60, "seed": 5, **NO_MIX})
    faults(bluecherry, error_rate=0.3, rate_limit_rate=0.1, seed=11)
    client = BlueCherryClient(bluecherry.base_url, bluecherry.api_key, max_retries=8, backoff=0.001,
                              on_exchange=exchanges.append, max_retry_after=0.01)
    assert len({o["ord_num"] for o in client.iter_sales_orders("RELEASED", page_size=5)}) == 60
    assert len(exchanges) > 12
    assert {e.status_code for e in exchanges} == {200, 500, 429}


def test_rate_limit_is_retried_after_the_time_asked(bluecherry, exchanges: list[Exchange]) -> None:
    assert_rate_limit_is_retried_after_the_time_asked(bluecherry, BlueCherryClient, lambda c: c.get_item("X"),
                                                      exchanges)


def test_a_rejection_is_not_retried(bluecherry, client: BlueCherryClient, exchanges: list[Exchange]) -> None:
    with pytest.raises(Rejected):
        client.set_item_status("X", "NOT-A-STATUS", "ref")
    assert [e.status_code for e in exchanges] == [422]


def test_timeout_is_transient_and_a_read_is_retried(bluecherry, exchanges: list[Exchange]) -> None:
    faults(bluecherry, timeout_rate=1, hang_seconds=3)
    client = BlueCherryClient(bluecherry.base_url, bluecherry.api_key, timeout=(2, 1), max_retries=1,
                              backoff=0.001, on_exchange=exchanges.append)
    started = time.monotonic()
    with pytest.raises(Transient, match="ReadTimeout"):
        client.get_sales_order("SO-1")
    assert time.monotonic() - started < 2.9
    assert len(exchanges) == 2


def test_ats_update_is_not_resent_after_a_timeout(bluecherry, exchanges: list[Exchange]) -> None:
    faults(bluecherry, timeout_rate=1, hang_seconds=3)
    client = BlueCherryClient(bluecherry.base_url, bluecherry.api_key, timeout=(2, 1), max_retries=2,
                              backoff=0.001, on_exchange=exchanges.append)
    with pytest.raises(Transient):
        client.post_ats_update("UK3PL", datetime.now(UTC), [{"sku": "A", "available_qty": 1}])
    assert len(exchanges) == 1


@pytest.mark.django_db
def test_factory_reads_settings_at_call_time_and_logs_every_exchange(bluecherry, settings) -> None:
    from integration.models import MessageLog

    settings.HTTP_MAX_RETRIES = 0
    seed_order(bluecherry)
    assert bluecherry_client().get_sales_order("SO-100234")["ord_num"] == "SO-100234"
    settings.BLUECHERRY_API_KEY = SECRET
    with pytest.raises(Unauthorized):
        bluecherry_client().get_sales_order("SO-100234")
    rows = list(MessageLog.objects.order_by("id").values_list("system", "operation", "status_code", "url"))
    assert rows == [("bluecherry", "get_sales_order", 200, bluecherry.base_url + "sales-orders/SO-100234"),
                    ("bluecherry", "get_sales_order", 401, bluecherry.base_url + "sales-orders/SO-100234")]


@pytest.fixture
def odd_server():
    """A server answering 200 with whatever body the test puts in ``bodies[path]``."""
    bodies: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = bodies.get(self.path.split("?")[0], b"")
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api/v1/", bodies
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(("body", "says"), [
    (b"<html>Gateway</html>", "not JSON"),
    (b'{"items": []}', "no results list"),
    (b'{"results": [], "next_page": 1}', "next_page 1 after page 1"),
])
def test_unreadable_page_is_malformed_and_logged(odd_server, body: bytes, says: str) -> None:
    base_url, bodies = odd_server
    bodies["/api/v1/items"] = body
    exchanges: list[Exchange] = []
    client = BlueCherryClient(base_url, SECRET, max_retries=2, on_exchange=exchanges.append)
    with pytest.raises(MalformedPayload, match=says) as caught:
        list(client.iter_items())
    assert len(exchanges) == 1 and says in exchanges[0].error
    assert caught.value.exchange is exchanges[0]


def test_a_pull_sees_every_row_when_rows_leave_the_list_while_it_is_read(bluecherry, client):
    """Issue 9: orders picked by another worker while a pull pages through RELEASED orders must
    not push unseen ones onto a page already read (page numbers alone skipped them)."""
    bluecherry.control("POST", "_sim/generate", {"orders": 450, "items": 20, "seed": 4, **NO_MIX})
    seen: list[str] = []
    for record in client.iter_sales_orders(status="RELEASED", page_size=100):
        seen.append(record["ord_num"])
        if len(seen) == 100:  # the first page read: 60 of it leave the list meanwhile
            for ord_num in seen[:60]:
                client.pick_ticket(ord_num, f"GUID-{ord_num}")
    assert len(seen) == len(set(seen)) == 450


def test_a_pull_over_one_instant_longer_than_a_page_sees_each_row_once_and_ends(bluecherry, client, exchanges):
    bluecherry.control("POST", "_sim/generate", {"orders": 250, "items": 20, "seed": 5, **NO_MIX})
    records = list(client.iter_sales_orders(status="RELEASED", page_size=40))
    assert len({r["updated_at"] for r in records}) == 1  # the generator gives them one instant
    assert len(records) == len({r["ord_num"] for r in records}) == 250
    assert len(exchanges) <= 7 + 1  # seven pages, and one asked again from that instant
