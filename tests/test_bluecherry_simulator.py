"""The Blue Cherry simulator over real HTTP, as the integration's client will see it
(contracts/bluecherry.md), plus the control API the other tests rely on."""

from __future__ import annotations

import re
import time
from typing import Any

import requests

from demo.launcher import RunningSimulator

SKU_PATTERN = re.compile(r"^\d{5}-[A-Z]+-(XS|S|M|L|XL)$")
SHIP_VIAS = {"RMNDAY", "RM48", "DPDNXT", "DHLEXP"}


def call(
    sim: RunningSimulator, method: str, path: str, json: Any = None, key: str | None = None, **params: Any
) -> requests.Response:
    headers = {"Ocp-Apim-Subscription-Key": sim.api_key if key is None else key}
    if key == "":
        headers = {}
    return requests.request(
        method, sim.base_url + path, json=json, headers=headers, params=params, timeout=15
    )


def all_pages(sim: RunningSimulator, path: str, **params: Any) -> list[dict[str, Any]]:
    results, page = [], 1
    while page:
        body = call(sim, "GET", path, page=page, page_size=500, **params).json()
        results.extend(body["results"])
        page = body["next_page"]
    return results


def gtin_ok(upc: str) -> bool:
    if len(upc) != 13 or not upc.isdigit():
        return False
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(upc[:12]))
    return (10 - total % 10) % 10 == int(upc[12])


def item(sku: str, **fields: Any) -> dict[str, Any]:
    return {
        "sku": sku,
        "upc": "5056000000017",
        "hs_number": "6109100010",
        "country_of_origin": "PT",
        "retail_price": "30.00",
        "status": "LIVE",
        **fields,
    }


def order(ord_num: str, lines: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    return {
        "ord_num": ord_num,
        "status": "RELEASED",
        "customer": "C1001",
        "location": "UK3PL",
        "ship_via": "RMNDAY",
        "ship_to": {
            "name": "Ana Silva",
            "address1": "23 Victoria Street",
            "city": "Windsor",
            "postcode": "SL4 1HE",
            "country": "GB",
            "email": "ana@example.com",
        },
        "lines": lines,
        **fields,
    }


def seed_order(sim: RunningSimulator, ord_num: str = "SO-200001", status: str = "RELEASED") -> None:
    sim.control("POST", "_sim/items", [item("10023-NAVY-M"), item("10023-NAVY-L", retail_price="12.50")])
    sim.control(
        "POST",
        "_sim/orders",
        [
            order(
                ord_num,
                [
                    {"line_no": 1, "sku": "10023-NAVY-M", "qty_ordered": 2},
                    {"line_no": 2, "sku": "10023-NAVY-L", "qty_ordered": 1},
                ],
                status=status,
            )
        ],
    )


def shipment(ord_num: str = "SO-200001", dispatch: str = "DSP-1", **fields: Any) -> dict[str, Any]:
    return {
        "ord_num": ord_num,
        "wms_dispatch_id": dispatch,
        "ship_date": "2026-11-27T16:40:00Z",
        "carrier": "RoyalMail",
        "ship_via": "RMNDAY",
        "tracking_numbers": ["JD014600003GB"],
        "lines": [
            {"line_no": 1, "sku": "10023-NAVY-M", "qty_shipped": 2},
            {"line_no": 2, "sku": "10023-NAVY-L", "qty_shipped": 0},
        ],
        "cancel_remainder": True,
        **fields,
    }


def test_calls_without_the_right_subscription_key_are_refused(bluecherry: RunningSimulator) -> None:
    for path in ("items", "sales-orders", "_sim/state"):
        for key in ("", "wrong-key"):
            response = call(bluecherry, "GET", path, key=key)
            assert response.status_code == 401
            assert response.json()["error"]["code"] == "unauthorized"
    assert call(bluecherry, "GET", "items").status_code == 200


def test_items_are_paged_by_updated_at_then_sku_and_updated_since_is_inclusive(
    bluecherry: RunningSimulator,
) -> None:
    stamp = "2026-11-27T08:00:00.250000Z"
    bluecherry.control(
        "POST",
        "_sim/items",
        [
            *(item(f"1000{n}-NAVY-M", updated_at=stamp) for n in (5, 3, 1, 4, 2)),
            item("20000-RED-S", updated_at="2026-11-27T07:59:59Z"),
            item("00001-RED-S", updated_at="2026-11-27T08:00:01Z"),
        ],
    )

    first = call(bluecherry, "GET", "items", updated_since=stamp, page_size=2).json()
    assert first["count"] == 6
    assert first["next_page"] == 2
    assert [i["sku"] for i in first["results"]] == ["10001-NAVY-M", "10002-NAVY-M"]
    assert first["results"][0]["updated_at"] == stamp
    last = call(bluecherry, "GET", "items", updated_since=stamp, page_size=2, page=3).json()
    assert [i["sku"] for i in last["results"]] == ["10005-NAVY-M", "00001-RED-S"]
    assert last["next_page"] is None

    # The same instant with an offset, and the status filter as a comma list.
    same = call(bluecherry, "GET", "items", updated_since="2026-11-27T08:00:00.25+00:00", status="LIVE,DRAFT")
    assert same.json()["count"] == 6
    assert call(bluecherry, "GET", "items", status="BOGUS").status_code == 400
    assert call(bluecherry, "GET", "items/10001-NAVY-M").json()["upc"] == "5056000000017"
    missing = call(bluecherry, "GET", "items/NOPE")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


def test_item_status_change_is_validated_and_moves_updated_at(bluecherry: RunningSimulator) -> None:
    bluecherry.control(
        "POST", "_sim/items", [item("10023-NAVY-M", status="PENDING_WMS", updated_at="2026-01-01T00:00:00Z")]
    )
    bad = call(bluecherry, "POST", "items/10023-NAVY-M/status", {"status": "SELLABLE"})
    assert bad.status_code == 422
    assert bad.json()["error"]["details"][0]["field"] == "status"

    live = call(bluecherry, "POST", "items/10023-NAVY-M/status", {"status": "LIVE", "wms_reference": "P-1"})
    assert live.status_code == 200
    assert live.json()["status"] == "LIVE"
    assert live.json()["updated_at"] > "2026-01-01T00:00:00.000000Z"
    assert call(bluecherry, "POST", "items/NOPE/status", {"status": "LIVE"}).status_code == 404


def test_generate_creates_exactly_the_asked_data_and_plants_the_default_mix(
    bluecherry: RunningSimulator,
) -> None:
    request = {"items": 120, "orders": 300, "seed": 7}
    summary = bluecherry.control("POST", "_sim/generate", request)
    assert (summary["items"], summary["orders"]) == (120, 300)
    assert len(set(summary["ord_nums"])) == 300
    assert len(set(summary["skus"])) == 120
    state = bluecherry.control("GET", "_sim/state")
    assert state["items"] == 120
    assert state["orders_by_status"] == {"RELEASED": 300}

    items = {i["sku"]: i for i in all_pages(bluecherry, "items")}
    orders = {o["ord_num"]: o for o in all_pages(bluecherry, "sales-orders", status="RELEASED")}
    assert len(items) == 120
    assert set(orders) == set(summary["ord_nums"])
    assert len({o["updated_at"] for o in orders.values()}) == 1  # one timestamp per generate call

    faults = summary["faults"]
    for kind in (
        "bad_ship_via",
        "bad_location",
        "sku_not_live",
        "missing_address",
        "repeated_sku",
        "invalid_item",
    ):
        assert faults[kind], f"the default mix plants {kind}"
    for ord_num in faults["bad_ship_via"]:
        assert orders[ord_num]["ship_via"] == "ZZFAST"
    for ord_num in faults["bad_location"]:
        assert orders[ord_num]["location"] == "UK9XX"
    for ord_num in faults["missing_address"]:
        ship_to = orders[ord_num]["ship_to"]
        assert not all(ship_to[key] for key in ("address1", "city", "postcode"))
    for ord_num in faults["repeated_sku"]:
        skus = [line["sku"] for line in orders[ord_num]["lines"]]
        assert len(skus) != len(set(skus))
    for ord_num in faults["sku_not_live"]:
        # New items wait for the warehouse (PENDING_WMS) and go LIVE through the item flow; the
        # planted SKU is one that never will: a DRAFT.
        assert any(items[line["sku"]]["status"] == "DRAFT" for line in orders[ord_num]["lines"])
    for sku in faults["invalid_item"]:
        bad = items[sku]
        assert bad["status"] == "PENDING_WMS"
        assert (
            not gtin_ok(bad["upc"])
            or not bad["hs_number"]
            or not re.fullmatch(r"[A-Z]{2}", bad["country_of_origin"])
        )

    planted = {ord_num for kind, ord_nums in faults.items() if kind != "invalid_item" for ord_num in ord_nums}
    clean = [o for ord_num, o in orders.items() if ord_num not in planted]
    assert len(clean) > 250
    for o in clean:
        assert o["ship_via"] in SHIP_VIAS
        assert o["location"] == "UK3PL"
        assert all(o["ship_to"][key] for key in ("address1", "city", "postcode", "country"))
        assert 1 <= len(o["lines"]) <= 4
        assert len({line["sku"] for line in o["lines"]}) == len(o["lines"])
        for line in o["lines"]:
            assert 1 <= line["qty_ordered"] <= 3
            assert items[line["sku"]]["status"] == "PENDING_WMS"
            assert line["unit_price"] == items[line["sku"]]["retail_price"]
    for sku, i in items.items():
        assert SKU_PATTERN.match(sku)
        if sku not in faults["invalid_item"]:
            assert gtin_ok(i["upc"])
            assert i["hs_number"]
            assert re.fullmatch(r"[A-Z]{2}", i["country_of_origin"])
            assert i["currency"] == "GBP"

    # The same seed on an empty simulator gives the same data.
    bluecherry.control("POST", "_sim/reset")
    again = bluecherry.control("POST", "_sim/generate", request)
    assert (again["ord_nums"], again["skus"], again["faults"]) == (
        summary["ord_nums"],
        summary["skus"],
        summary["faults"],
    )
    first_order = call(bluecherry, "GET", f"sales-orders/{summary['ord_nums'][0]}").json()
    assert first_order["lines"] == orders[summary["ord_nums"][0]]["lines"]


def test_generate_with_item_status_live_gives_clean_orders_live_items_and_plants_drafts(
    bluecherry: RunningSimulator,
) -> None:
    summary = bluecherry.control("POST", "_sim/generate", {"items": 60, "orders": 80, "seed": 5,
                                                           "item_status": "LIVE"})
    items = {i["sku"]: i for i in all_pages(bluecherry, "items")}
    orders = {o["ord_num"]: o for o in all_pages(bluecherry, "sales-orders", status="RELEASED")}
    planted = {ord_num for kind, ord_nums in summary["faults"].items() if kind != "invalid_item"
               for ord_num in ord_nums}
    for ord_num in summary["faults"]["sku_not_live"]:
        assert any(items[line["sku"]]["status"] == "DRAFT" for line in orders[ord_num]["lines"])
    for ord_num, order in orders.items():
        if ord_num not in planted:
            assert all(items[line["sku"]]["status"] == "LIVE" for line in order["lines"])


def test_generate_adds_other_statuses_only_when_asked_and_continues_numbering(
    bluecherry: RunningSimulator,
) -> None:
    first = bluecherry.control(
        "POST",
        "_sim/generate",
        {"items": 10, "orders": 5, "seed": 1, "mix": {}, "statuses": {"OPEN": 2, "HELD": 1}},
    )
    assert first["ord_nums"] == [f"SO-{n}" for n in range(100001, 100006)]
    assert first["extra_ord_nums"] == {"OPEN": ["SO-100006", "SO-100007"], "HELD": ["SO-100008"]}
    second = bluecherry.control("POST", "_sim/generate", {"items": 0, "orders": 2, "seed": 2, "mix": {}})
    assert second["ord_nums"] == ["SO-100009", "SO-100010"]
    state = bluecherry.control("GET", "_sim/state")
    assert state["orders_by_status"] == {"RELEASED": 7, "OPEN": 2, "HELD": 1}
    assert state["items"] == 10
    released = call(bluecherry, "GET", "sales-orders", status="RELEASED", page_size=500).json()["results"]
    first_batch = [o["updated_at"] for o in released if o["ord_num"] in first["ord_nums"]]
    assert len(set(first_batch)) == 1
    assert released[-1]["ord_num"] == "SO-100010"  # (updated_at, ord_num) order


def test_pick_ticket_moves_a_released_order_to_picking_and_a_repeat_is_a_no_op(
    bluecherry: RunningSimulator,
) -> None:
    seed_order(bluecherry)
    sent = call(bluecherry, "POST", "sales-orders/SO-200001/pick-ticket", {"wms_reference": "guid-1"})
    assert sent.status_code == 200
    assert sent.json()["status"] == "PICKING"

    repeat = call(bluecherry, "POST", "sales-orders/SO-200001/pick-ticket", {"wms_reference": "guid-1"})
    assert repeat.status_code == 200
    assert repeat.json()["updated_at"] == sent.json()["updated_at"]
    assert bluecherry.control("GET", "_sim/orders/SO-200001")["wms_reference"] == "guid-1"

    other = call(bluecherry, "POST", "sales-orders/SO-200001/pick-ticket", {"wms_reference": "guid-2"})
    assert other.status_code == 409
    missing = call(bluecherry, "POST", "sales-orders/SO-200001/pick-ticket", {})
    assert missing.status_code == 422
    assert missing.json()["error"]["details"][0]["field"] == "wms_reference"
    assert (
        call(bluecherry, "POST", "sales-orders/SO-999999/pick-ticket", {"wms_reference": "x"}).status_code
        == 404
    )

    seed_order(bluecherry, "SO-200002")
    bluecherry.control("POST", "_sim/orders/SO-200002/cancel")
    cancelled = call(bluecherry, "POST", "sales-orders/SO-200002/pick-ticket", {"wms_reference": "guid-3"})
    assert cancelled.status_code == 409
    assert "CANCELLED" in cancelled.json()["error"]["message"]


def test_shipment_raises_one_invoice_and_notification_and_a_repeat_returns_the_same_numbers(
    bluecherry: RunningSimulator,
) -> None:
    seed_order(bluecherry)
    call(bluecherry, "POST", "sales-orders/SO-200001/pick-ticket", {"wms_reference": "guid-1"})

    created = call(bluecherry, "POST", "shipments", shipment())
    assert created.status_code == 201
    numbers = created.json()
    assert numbers["order_status"] == "INVOICED"
    assert numbers["ship_num"].startswith("SH-")
    assert numbers["invoice_num"].startswith("IN-")

    assert bluecherry.control("GET", "_sim/state")["duplicate_posts_refused"] == 0
    repeat = call(bluecherry, "POST", "shipments", shipment())
    assert repeat.status_code == 200
    assert repeat.json() == numbers
    state = bluecherry.control("GET", "_sim/state")  # the second post is counted: the net was needed
    assert (state["duplicate_posts_refused"], state["dispatches_posted_more_than_once"]) == (1, ["DSP-1"])

    detail = bluecherry.control("GET", "_sim/orders/SO-200001")
    assert detail["status"] == "INVOICED"
    assert [(line["qty_shipped"], line["qty_cancelled"]) for line in detail["lines"]] == [(2, 0), (0, 1)]
    assert len(detail["shipments"]) == len(detail["invoices"]) == len(detail["notifications"]) == 1
    assert detail["invoices"][0]["amount"] == "60.00"
    assert detail["notifications"][0]["recipient"] == "ana@example.com"

    listed = call(bluecherry, "GET", "shipments", ord_num="SO-200001").json()
    assert listed["count"] == 1
    assert listed["results"][0]["tracking_numbers"] == ["JD014600003GB"]
    assert call(bluecherry, "GET", "shipments", ship_date="2026-11-27").json()["count"] == 1
    assert call(bluecherry, "GET", "shipments", ship_date="2026-11-26").json()["count"] == 0
    invoices = call(bluecherry, "GET", "invoices", invoice_date="2026-11-27").json()
    assert [i["invoice_num"] for i in invoices["results"]] == [numbers["invoice_num"]]
    assert bluecherry.control("GET", "_sim/notifications")["count"] == 1


def test_shipment_that_does_not_match_the_order_or_hits_a_cancelled_one_is_refused(
    bluecherry: RunningSimulator,
) -> None:
    seed_order(bluecherry)
    unknown_line = shipment(lines=[{"line_no": 9, "sku": "10023-NAVY-M", "qty_shipped": 1}])
    response = call(bluecherry, "POST", "shipments", unknown_line)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_failed"
    assert response.json()["error"]["details"][0]["field"] == "lines[0].line_no"

    unknown_sku = shipment(lines=[{"sku": "99999-RED-S", "qty_shipped": 1}])
    assert call(bluecherry, "POST", "shipments", unknown_sku).status_code == 422

    too_many = shipment(lines=[{"line_no": 1, "sku": "10023-NAVY-M", "qty_shipped": 3}])
    response = call(bluecherry, "POST", "shipments", too_many)
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "lines[0].qty_shipped"

    incomplete = call(bluecherry, "POST", "shipments", {"ord_num": "SO-200001"})
    assert incomplete.status_code == 422
    fields = {d["field"] for d in incomplete.json()["error"]["details"]}
    assert {"wms_dispatch_id", "ship_date", "carrier", "lines"} <= fields

    bluecherry.control("POST", "_sim/orders/SO-200001/cancel")
    cancelled = call(bluecherry, "POST", "shipments", shipment())
    assert cancelled.status_code == 409
    state = bluecherry.control("GET", "_sim/state")
    assert (state["shipments"], state["invoices"], state["notifications"]) == (0, 0, 0)


def test_editing_an_order_moves_updated_at_and_merges_the_address(bluecherry: RunningSimulator) -> None:
    seed_order(bluecherry)
    before = call(bluecherry, "GET", "sales-orders/SO-200001").json()
    edited = bluecherry.control(
        "PATCH", "_sim/orders/SO-200001", {"ship_via": "DPDNXT", "ship_to": {"city": "Slough"}}
    )
    assert edited["ship_via"] == "DPDNXT"
    assert edited["ship_to"]["city"] == "Slough"
    assert edited["ship_to"]["address1"] == "23 Victoria Street"
    assert edited["updated_at"] > before["updated_at"]
    later = call(bluecherry, "GET", "sales-orders", updated_since=edited["updated_at"]).json()
    assert [o["ord_num"] for o in later["results"]] == ["SO-200001"]

    relined = bluecherry.control(
        "PATCH", "_sim/orders/SO-200001", {"lines": [{"line_no": 1, "sku": "10023-NAVY-L", "qty_ordered": 4}]}
    )
    assert [(line["sku"], line["qty_ordered"], line["unit_price"]) for line in relined["lines"]] == [
        ("10023-NAVY-L", 4, "12.50")
    ]
    assert relined["updated_at"] > edited["updated_at"]
    missing = call(bluecherry, "GET", "sales-orders/SO-404404")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


def test_ats_update_is_applied_only_after_the_batch_cycle(bluecherry: RunningSimulator) -> None:
    bluecherry.control(
        "POST",
        "_sim/items",
        [
            item("10023-NAVY-M", inventory=[{"location": "UK3PL", "on_hand": 10, "wip": 5}]),
            item("10023-NAVY-L", inventory=[{"location": "UK3PL", "on_hand": 3, "wip": 0}]),
        ],
    )
    positions = [{"sku": "10023-NAVY-M", "available_qty": 8}, {"sku": "10023-NAVY-L", "available_qty": 0}]
    queued = call(
        bluecherry,
        "POST",
        "inventory/ats-updates",
        {"location": "UK3PL", "as_of": "2026-11-27T10:00:00Z", "positions": positions},
    )
    assert queued.status_code == 202
    assert queued.json()["accepted"] == 2
    batch_id = queued.json()["batch_id"]
    status = call(bluecherry, "GET", f"inventory/ats-updates/{batch_id}").json()
    assert status["status"] == "QUEUED"  # the default cycle is 60 seconds
    assert status["applied_at"] is None

    bluecherry.control("POST", "_sim/faults", {"batch_cycle_seconds": 1})
    bad = call(
        bluecherry,
        "POST",
        "inventory/ats-updates",
        {
            "location": "UK3PL",
            "as_of": "2026-11-27T10:00:00Z",
            "positions": [{"sku": "NOPE", "available_qty": 1}, {"sku": "10023-NAVY-M", "available_qty": -2}],
        },
    )
    bad_id = bad.json()["batch_id"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status = call(bluecherry, "GET", f"inventory/ats-updates/{batch_id}").json()
        failed = call(bluecherry, "GET", f"inventory/ats-updates/{bad_id}").json()
        if status["status"] != "QUEUED" and failed["status"] != "QUEUED":
            break
        time.sleep(0.2)
    assert status["status"] == "APPLIED"
    assert status["applied_at"]
    assert failed["status"] == "FAILED"
    assert len(failed["errors"]) == 2

    rows = {r["sku"]: r for r in call(bluecherry, "GET", "inventory", location="UK3PL").json()["results"]}
    assert rows["10023-NAVY-M"]["ats"] == 15  # Blue Cherry's own figure counts WIP
    assert rows["10023-NAVY-M"]["channel_available"] == 8  # the failed batch changed nothing
    assert rows["10023-NAVY-L"]["channel_available"] == 0
    assert rows["10023-NAVY-M"]["channel_available_as_of"] == "2026-11-27T10:00:00.000000Z"

    malformed = call(
        bluecherry,
        "POST",
        "inventory/ats-updates",
        {"location": "UK3PL", "positions": [{"sku": "10023-NAVY-M", "available_qty": "8"}]},
    )
    assert malformed.status_code == 422
    assert {d["field"] for d in malformed.json()["error"]["details"]} == {
        "as_of",
        "positions[0].available_qty",
    }


def test_injected_faults_hit_only_the_chosen_api_endpoints(bluecherry: RunningSimulator) -> None:
    seed_order(bluecherry)
    bluecherry.control("POST", "_sim/faults", {"error_rate": 1, "endpoints": ["pick-ticket"]})
    failed = call(bluecherry, "POST", "sales-orders/SO-200001/pick-ticket", {"wms_reference": "guid-1"})
    assert failed.status_code == 500
    assert call(bluecherry, "GET", "sales-orders/SO-200001").json()["status"] == "RELEASED"  # no effect
    assert bluecherry.control("GET", "_sim/state")["orders"] == 1  # never on _sim/

    bluecherry.control("POST", "_sim/faults", {"rate_limit_rate": 1})
    limited = call(bluecherry, "GET", "items")
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "1"

    bluecherry.control(
        "POST", "_sim/faults", {"timeout_rate": 1, "hang_seconds": 0.2, "endpoints": ["items"]}
    )
    started = time.monotonic()
    assert call(bluecherry, "GET", "items").status_code == 504
    assert time.monotonic() - started >= 0.2
    assert call(bluecherry, "GET", "sales-orders").status_code == 200

    bluecherry.control("POST", "_sim/faults", {"error_rate": 0.5, "seed": 3})
    codes = [call(bluecherry, "GET", "items").status_code for _ in range(20)]
    assert set(codes) == {200, 500}

    cleared = bluecherry.control("POST", "_sim/faults", {})
    assert cleared["error_rate"] == 0 and cleared["batch_cycle_seconds"] == 60
    assert call(bluecherry, "GET", "items").status_code == 200
    assert call(bluecherry, "POST", "_sim/faults", {"error_rate": 2}).status_code == 422
