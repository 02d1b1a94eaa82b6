"""The dispatch data contract and the shipment mapping: pure, no database."""

from __future__ import annotations

from typing import Any

import pytest

from exceptions import catalogue
from integration.dispatches.mapper import map_shipment, split_back
from integration.dispatches.rules import OrderView, validate_dispatch

CARRIERS = {("RoyalMail", "TPN24"): "RMNDAY", ("DPD", "12"): "DPDNXT"}


def confirmation(**changes: Any) -> dict[str, Any]:
    body = {
        "SalesOrderNumber": "SO-1", "DispatchId": "DSP-1", "DispatchDate": "2026-11-27T16:40:00Z",
        "CourierName": "RoyalMail", "CourierService": "TPN24", "TrackingNumber": "JD1GB",
        "List": {"DispatchLineItem": [{"LineNumber": 1, "ProductCode": "A", "Quantity": 2}]},
    }
    body.update(changes)
    return body


def lines(*items: dict[str, Any]) -> dict[str, Any]:
    return {"List": {"DispatchLineItem": list(items)}}


def order(*order_lines: tuple[int, str, int], **changes: Any) -> OrderView:
    rows = [{"line_no": n, "sku": sku, "qty_ordered": qty, "qty_shipped": 0, "qty_cancelled": 0}
            for n, sku, qty in order_lines or [(1, "A", 2)]]
    return OrderView(**{"ord_num": "SO-1", "sent": True, "ship_via": "RMNDAY", "lines": rows, **changes})


def kinds(problems: list) -> list[str]:
    return [p.kind for p in problems]


def test_a_complete_confirmation_for_a_sent_order_passes():
    assert validate_dispatch(confirmation(), order(), CARRIERS) == []


@pytest.mark.parametrize("field", ["TrackingNumber", "DispatchDate", "CourierName"])
@pytest.mark.parametrize("empty", ["", None, {}, "   "])
def test_a_missing_date_carrier_or_tracking_number_is_incomplete(field, empty):
    problems = validate_dispatch(confirmation(**{field: empty}), order(), CARRIERS)
    assert kinds(problems) == [catalogue.DISPATCH_INCOMPLETE.code]
    assert "missing" in problems[0].message


def test_an_unreadable_dispatch_date_is_incomplete_and_quoted():
    problems = validate_dispatch(confirmation(DispatchDate="yesterday"), order(), CARRIERS)
    assert kinds(problems) == [catalogue.DISPATCH_INCOMPLETE.code] and "'yesterday'" in problems[0].message


def test_a_carrier_service_without_a_mapping_back_is_incomplete_when_the_orders_own_ship_via_has_none_either():
    problems = validate_dispatch(confirmation(CourierService="XX"), order(ship_via="GONE"), CARRIERS)
    assert kinds(problems) == [catalogue.DISPATCH_INCOMPLETE.code] and "RoyalMail" in problems[0].message


def test_our_own_courier_with_a_service_no_mapping_names_goes_with_the_orders_own_ship_via():
    assert validate_dispatch(confirmation(CourierService="XX"), order(), CARRIERS) == []


def test_a_courier_without_its_service_maps_back_through_the_orders_own_ship_via():
    assert validate_dispatch(confirmation(CourierService=""), order(), CARRIERS, ("RoyalMail", "TPN24")) == []


def test_every_problem_is_listed_at_once():
    problems = validate_dispatch(confirmation(TrackingNumber="", CourierName="", **lines(
        {"ProductCode": "Z", "Quantity": 1})), order(), CARRIERS)
    assert sorted(kinds(problems)) == sorted([catalogue.DISPATCH_INCOMPLETE.code] * 2
                                             + [catalogue.DISPATCH_LINE_MISMATCH.code])


@pytest.mark.parametrize(("view", "words"), [
    (None, "never sent"),
    (OrderView(ord_num="SO-1", sent=False), "never accepted"),
    (OrderView(ord_num="SO-1", sent=True, cancelled=True), "cancelled"),
])
def test_a_confirmation_for_an_order_we_did_not_send_is_an_unknown_order(view, words):
    problems = validate_dispatch(confirmation(), view, CARRIERS)
    assert kinds(problems) == [catalogue.DISPATCH_UNKNOWN_ORDER.code] and words in problems[0].message


def test_a_sku_not_on_the_order_is_a_line_mismatch():
    problems = validate_dispatch(confirmation(**lines({"ProductCode": "B", "Quantity": 1})), order(), CARRIERS)
    assert kinds(problems) == [catalogue.DISPATCH_LINE_MISMATCH.code] and "SKU B" in problems[0].message


def test_lot_lines_are_summed_before_the_open_quantity_is_compared():
    ok = lines({"ProductCode": "A", "LotNo": "L1", "Quantity": 1}, {"ProductCode": "A", "LotNo": "L2", "Quantity": 1})
    assert validate_dispatch(confirmation(**ok), order(), CARRIERS) == []
    over = lines({"ProductCode": "A", "LotNo": "L1", "Quantity": 2}, {"ProductCode": "A", "LotNo": "L2", "Quantity": 1})
    problems = validate_dispatch(confirmation(**over), order(), CARRIERS)
    assert kinds(problems) == [catalogue.DISPATCH_LINE_MISMATCH.code]
    assert "ships 3, but only 2 is open" in problems[0].message


def test_what_was_already_shipped_or_cancelled_is_not_open():
    view = order((1, "A", 2))
    view.lines[0]["qty_cancelled"] = 1
    assert kinds(validate_dispatch(confirmation(), view, CARRIERS)) == [catalogue.DISPATCH_LINE_MISMATCH.code]


@pytest.mark.parametrize("quantity", [-1, 1.5, "two", None, True])
def test_a_quantity_that_is_not_a_whole_number_of_at_least_zero_is_a_line_mismatch(quantity):
    problems = validate_dispatch(confirmation(**lines({"ProductCode": "A", "Quantity": quantity})), order(), CARRIERS)
    assert kinds(problems) == [catalogue.DISPATCH_LINE_MISMATCH.code]


def test_a_confirmation_without_lines_is_a_line_mismatch():
    assert kinds(validate_dispatch(confirmation(**lines()), order(), CARRIERS)) == [
        catalogue.DISPATCH_LINE_MISMATCH.code]


def test_a_zero_line_is_kept_and_passes():
    assert validate_dispatch(confirmation(**lines({"ProductCode": "A", "Quantity": 0})), order(), CARRIERS) == []


def test_an_order_already_dispatched_is_not_dispatched_again():
    problems = validate_dispatch(confirmation(), order(dispatched=True), CARRIERS)
    assert kinds(problems) == [catalogue.DISPATCH_LINE_MISMATCH.code] and "already dispatched" in problems[0].message


# --- the shipment ----------------------------------------------------------------------------

def test_a_consolidated_sku_is_split_back_across_its_lines_in_order_filling_each():
    view = order((1, "A", 2), (2, "B", 1), (3, "A", 3))
    outcomes = split_back({"A": 4, "B": 1}, view.lines)
    assert [(o.line_no, o.shipped, o.cancelled) for o in outcomes] == [(1, 2, 0), (2, 1, 0), (3, 2, 1)]


def test_the_shipment_maps_ship_via_back_and_ships_short_with_the_remainder_cancelled():
    view = order((1, "A", 2), (2, "B", 1))
    body, outcomes = map_shipment(confirmation(**lines({"ProductCode": "A", "Quantity": 2},
                                                      {"ProductCode": "B", "Quantity": 0})), view, "RMNDAY")
    assert body == {
        "ord_num": "SO-1", "wms_dispatch_id": "DSP-1", "ship_date": "2026-11-27T16:40:00Z", "carrier": "RoyalMail",
        "ship_via": "RMNDAY", "tracking_numbers": ["JD1GB"], "cancel_remainder": True,
        "lines": [{"line_no": 1, "sku": "A", "qty_shipped": 2}, {"line_no": 2, "sku": "B", "qty_shipped": 0}],
    }
    assert [o.cancelled for o in outcomes] == [0, 1]
