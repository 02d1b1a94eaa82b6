"""Pre-validation, one rule at a time: each problem is found and named in plain words."""

from __future__ import annotations

from exceptions import catalogue
from integration.orders.rules import Lookups, classify_seko_rejection, validate_order
from tests.factories import BlueCherryOrderFactory, LineFactory, ShipToFactory

LOOKUPS = Lookups(
    warehouses={"UK3PL": "DCCL01"},
    carriers={"RMNDAY": ("RoyalMail", "TPN24")},
    sku_status={"10023-NAVY-M": "LIVE", "10023-NAVY-L": "PENDING_WMS", "10023-NAVY-S": "LIVE"},
    seko_acknowledged=frozenset({"10023-NAVY-M"}),
)


def kinds(order: dict) -> list[str]:
    return [p.kind for p in validate_order(order, LOOKUPS)]


def test_a_complete_order_has_no_problems():
    assert validate_order(BlueCherryOrderFactory(), LOOKUPS) == []


def test_order_for_an_unmapped_location_is_a_warehouse_mapping_problem():
    problems = validate_order(BlueCherryOrderFactory(location="UK9XX"), LOOKUPS)
    assert [p.kind for p in problems] == [catalogue.MAPPING_WAREHOUSE_UNKNOWN.code]
    assert "UK9XX" in problems[0].message


def test_order_with_unknown_ship_via_is_a_carrier_mapping_problem():
    problems = validate_order(BlueCherryOrderFactory(ship_via="ZZFAST"), LOOKUPS)
    assert [p.kind for p in problems] == [catalogue.MAPPING_CARRIER_UNKNOWN.code]
    assert "ZZFAST" in problems[0].message


def test_inactive_mapping_rows_do_not_count():
    lookups = Lookups(warehouses={}, carriers={}, sku_status=LOOKUPS.sku_status,
                      seko_acknowledged=LOOKUPS.seko_acknowledged)
    assert sorted(p.kind for p in validate_order(BlueCherryOrderFactory(), lookups)) == [
        catalogue.MAPPING_CARRIER_UNKNOWN.code, catalogue.MAPPING_WAREHOUSE_UNKNOWN.code,
    ]


def test_each_missing_address_field_is_its_own_problem():
    order = BlueCherryOrderFactory(ship_to=ShipToFactory(city="", postcode="  ", address1=None))
    problems = validate_order(order, LOOKUPS)
    assert [p.kind for p in problems] == [catalogue.ORDER_ADDRESS_INCOMPLETE.code] * 3
    assert {p.value for p in problems} == {"address1", "city", "postcode"}


def test_missing_country_is_a_problem():
    assert kinds(BlueCherryOrderFactory(ship_to=ShipToFactory(country=""))) == [catalogue.ORDER_ADDRESS_INCOMPLETE.code]


def test_a_sku_that_is_not_live_is_named_with_its_status():
    order = BlueCherryOrderFactory(lines=[LineFactory(line_no=1), LineFactory(line_no=2, sku="10023-NAVY-L")])
    problems = validate_order(order, LOOKUPS)
    assert [p.kind for p in problems] == [catalogue.ORDER_SKU_NOT_LIVE.code]
    assert "Line 2" in problems[0].message and "PENDING_WMS" in problems[0].message


def test_a_live_sku_seko_has_not_acknowledged_is_not_sellable():
    order = BlueCherryOrderFactory(lines=[LineFactory(line_no=1, sku="10023-NAVY-S")])
    problems = validate_order(order, LOOKUPS)
    assert [p.kind for p in problems] == [catalogue.ORDER_SKU_NOT_LIVE.code]
    assert "10023-NAVY-S" in problems[0].message and "Seko has not acknowledged" in problems[0].message
    assert problems[0].value == "10023-NAVY-S"


def test_a_sku_blue_cherry_does_not_know_is_not_live():
    problems = validate_order(BlueCherryOrderFactory(lines=[LineFactory(sku="NOPE-1")]), LOOKUPS)
    assert [p.kind for p in problems] == [catalogue.ORDER_SKU_NOT_LIVE.code]
    assert "not known" in problems[0].message


def test_zero_and_negative_quantities_are_problems():
    order = BlueCherryOrderFactory(lines=[LineFactory(line_no=1, qty_ordered=0),
                                          LineFactory(line_no=2, qty_ordered=-1)])
    assert kinds(order) == [catalogue.ORDER_INVALID_LINES.code] * 2


def test_an_order_without_lines_is_a_problem():
    assert kinds(BlueCherryOrderFactory(lines=[])) == [catalogue.ORDER_INVALID_LINES.code]


def test_every_problem_is_reported_at_once():
    order = BlueCherryOrderFactory(location="X", ship_via="Y", ship_to=ShipToFactory(city=""),
                                   lines=[LineFactory(qty_ordered=0, sku="10023-NAVY-L")])
    assert len(validate_order(order, LOOKUPS)) == 5


def test_seko_rejection_messages_map_to_kinds():
    cases = {
        "Error. Invalid Mapping - DC": catalogue.ORDER_REJECTED_MAPPING,
        "Error. Invalid Mapping - CourierService": catalogue.ORDER_REJECTED_MAPPING,
        "Error Submitting SalesOrder: SO-1 - Error. Product 5963405 has no free stock.": catalogue.ORDER_REJECTED_STOCK,
        "Error Submitting SalesOrder: SO-1 - Error. Product X does not exist.": catalogue.ORDER_REJECTED_PRODUCT,
        "The City field is required.; The CountryCode field is required.": catalogue.ORDER_REJECTED_DATA,
        "Error Submitting SalesOrder: SO-1 - Error. Duplicate ProductCode X.": catalogue.ORDER_REJECTED_DATA,
    }
    for message, kind in cases.items():
        assert classify_seko_rejection(message) == kind, message


def test_an_order_record_that_breaks_the_contract_is_named_unreadable():
    from integration.orders.rules import order_record_problems

    assert order_record_problems(BlueCherryOrderFactory()) == []
    assert order_record_problems([1, 2]) == ["expected an object, got list"]
    problems = order_record_problems(BlueCherryOrderFactory(ord_num="", updated_at="yesterday", ship_to="x",
                                                            lines=[LineFactory(line_no=2), LineFactory(line_no=2)]))
    assert problems == ["it has no ord_num", "updated_at 'yesterday' is not an ISO 8601 timestamp",
                        "ship_to is not an object", "line numbers repeat: [2, 2]"]
    assert order_record_problems(BlueCherryOrderFactory(updated_at="2026-13-45T00:00:00Z")) == [
        "updated_at '2026-13-45T00:00:00Z' is not an ISO 8601 timestamp"]
    assert order_record_problems(BlueCherryOrderFactory(lines=[{"sku": "A"}])) == [
        "every line needs an object with a whole-number line_no"]
