"""Blue Cherry order -> Seko pick slip: pure mapping and consolidation of repeated SKUs."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from integration.orders.mapper import consolidate_lines, map_order
from tests.factories import BlueCherryOrderFactory, LineFactory


def test_order_maps_to_the_seko_submit_body():
    order = BlueCherryOrderFactory(ord_num="SO-100234", currency="gbp")
    body, lines = map_order(order, dc_code="DCCL01", courier_name="RoyalMail", courier_service="TPN24")
    assert body["SalesOrderHeader"] == {"DCCode": "DCCL01"}
    assert body["SalesOrder"]["SalesOrderNumber"] == "SO-100234"
    assert body["SalesOrder"]["CourierName"] == "RoyalMail"
    assert body["SalesOrder"]["CourierService"] == "TPN24"
    assert body["SalesOrder"]["CurrencyCode"] == "GBP"
    delivery = body["DeliveryDetails"]
    assert (delivery["FirstName"], delivery["LastName"]) == ("Ana", "Silva")
    assert (delivery["Line1"], delivery["City"], delivery["PostcodeZip"], delivery["CountryCode"]) == (
        "23 Victoria Street", "Windsor", "SL4 1HE", "GB")
    assert body["List"]["SalesOrderLineItem"] == [{
        "LineNumber": 1, "ProductCode": "10023-NAVY-M", "EAN": "5056000000017", "Quantity": 2,
        "UnitPrice": 30.0, "CurrencyCode": "GBP", "VAT": 0,
    }]
    assert lines[0].covers == (1,)


def test_repeated_skus_become_one_seko_line_remembering_the_blue_cherry_lines():
    order = BlueCherryOrderFactory(lines=[
        LineFactory(line_no=1, sku="A", qty_ordered=1, unit_price="10.00"),
        LineFactory(line_no=2, sku="B", qty_ordered=2, unit_price="5.00"),
        LineFactory(line_no=3, sku="A", qty_ordered=3, unit_price="20.00"),
    ])
    body, lines = map_order(order, dc_code="D", courier_name="C", courier_service="S")
    seko_lines = body["List"]["SalesOrderLineItem"]
    assert [(s["LineNumber"], s["ProductCode"], s["Quantity"]) for s in seko_lines] == [(1, "A", 4), (2, "B", 2)]
    assert [line.covers for line in lines] == [(1, 3), (2,)]
    assert lines[0].unit_price == Decimal("17.50")  # (1*10 + 3*20) / 4


@given(st.lists(st.tuples(st.sampled_from(["A", "B", "C", "D"]), st.integers(1, 50),
                          st.decimals(min_value=0, max_value=500, places=2)), min_size=1, max_size=12))
def test_consolidation_keeps_quantities_and_covers_every_line_once(raw_lines):
    lines = [{"line_no": i + 1, "sku": s, "qty_ordered": q, "unit_price": str(p)}
             for i, (s, q, p) in enumerate(raw_lines)]
    result = consolidate_lines(lines)
    assert len({line.sku for line in result}) == len(result)
    assert sum(line.quantity for line in result) == sum(q for _, q, _ in raw_lines)
    assert sorted(n for line in result for n in line.covers) == list(range(1, len(lines) + 1))
    for line in result:
        assert line.quantity == sum(q for s, q, _ in raw_lines if s == line.sku)
