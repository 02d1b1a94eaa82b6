"""The reconciliation's comparison, pure: dicts in, totals and difference lines out."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from reconciliation import rules

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
DAY = date(2026, 11, 27)
PRICES = {"SO-1": {"A": Decimal("30.00"), "B": Decimal("10.00")}}


def dispatch(**changes) -> dict:
    body = {"DispatchId": "DSP-1", "DispatchDate": "2026-11-27T16:40:00Z", "List": {"DispatchLineItem": [
        {"ProductCode": "A", "Quantity": 2}, {"ProductCode": "B", "Quantity": 1}]}}
    return {**body, **changes}


def shipment(**changes) -> dict:
    body = {"ship_num": "SH-1", "ord_num": "SO-1", "wms_dispatch_id": "DSP-1", "ship_date": "2026-11-27T16:40:00Z",
            "invoice_num": "IN-1", "lines": [{"line_no": 1, "sku": "A", "qty_shipped": 2},
                                             {"line_no": 2, "sku": "B", "qty_shipped": 1}]}
    return {**body, **changes}


def invoice(**changes) -> dict:
    body = {"invoice_num": "IN-1", "ord_num": "SO-1", "ship_num": "SH-1", "invoice_date": "2026-11-27",
            "amount": "70.00", "lines": [{"sku": "A", "qty": 2}, {"sku": "B", "qty": 1}]}
    return {**body, **changes}


def sent(**changes) -> dict:
    return {"SO-1": {"sent_at": datetime(2026, 11, 27, 9, tzinfo=UTC), "units": 3, "value": Decimal("70.00"),
                     "sla_hours": 24, "seko_status": None, **changes}}


def run(*, sent_rows=None, dispatches=None, shipments=(), invoices=(), now=NOW) -> dict:
    return rules.reconcile(sent=sent_rows if sent_rows is not None else sent(),
                           dispatches=dispatches if dispatches is not None else {"SO-1": dispatch()},
                           shipments=list(shipments), invoices=list(invoices), prices=PRICES, now=now)


def kinds(result: dict) -> list[str]:
    return [d["kind"] for d in result["differences"]]


def test_a_dispatched_shipped_and_invoiced_order_balances_in_orders_units_and_value():
    result = run(shipments=[shipment()], invoices=[invoice()])
    assert result["differences"] == []
    totals = result["days"][DAY]
    assert [totals[f"{c}_orders"] for c in ("sent", "dispatched", "shipped", "invoiced")] == [1, 1, 1, 1]
    assert [totals[f"{c}_units"] for c in ("sent", "dispatched", "shipped", "invoiced")] == [3, 3, 3, 3]
    assert {totals[f"{c}_value"] for c in ("sent", "dispatched", "shipped", "invoiced")} == {Decimal("70.00")}


def test_a_dispatch_without_a_shipment_is_a_difference_on_the_dispatch_day():
    result = run()
    assert kinds(result) == [rules.DISPATCHED_NOT_SHIPPED]
    assert result["differences"][0]["day"] == DAY and result["differences"][0]["seko_value"] == Decimal("70.00")


def test_a_shipment_without_a_seko_dispatch_is_a_difference():
    result = run(dispatches={}, shipments=[shipment(wms_dispatch_id="BY-HAND")], invoices=[invoice()])
    assert kinds(result) == [rules.SHIPPED_NOT_DISPATCHED]


def test_a_quantity_shipped_in_blue_cherry_unlike_the_dispatch_names_the_sku():
    edited = shipment(lines=[{"line_no": 1, "sku": "A", "qty_shipped": 1},
                             {"line_no": 2, "sku": "B", "qty_shipped": 1}])
    result = run(shipments=[edited], invoices=[invoice()])
    assert kinds(result) == [rules.QUANTITY_MISMATCH]
    assert "A Seko 2, Blue Cherry 1" in result["differences"][0]["message"]


def test_an_invoiced_value_beyond_the_tolerance_is_a_value_mismatch_and_a_rounding_is_not():
    assert kinds(run(shipments=[shipment()], invoices=[invoice(amount="70.01")])) == []
    assert kinds(run(shipments=[shipment()], invoices=[invoice(amount="75.00")])) == [rules.VALUE_MISMATCH]


def test_two_invoices_for_one_order_are_invoiced_twice_on_the_later_invoice_day():
    by_hand = invoice(invoice_num="IN-2", ship_num=None, invoice_date="2026-11-28")
    result = run(shipments=[shipment()], invoices=[invoice(), by_hand])
    assert kinds(result) == [rules.INVOICED_TWICE]
    assert result["differences"][0]["day"] == date(2026, 11, 28) and result["differences"][0]["invoice_num"] == "IN-2"


def test_the_same_invoice_read_twice_is_not_invoiced_twice():
    assert kinds(run(shipments=[shipment()], invoices=[invoice(), invoice()])) == []


def test_an_invoice_with_neither_shipment_nor_dispatch_is_a_difference():
    result = run(sent_rows={}, dispatches={}, invoices=[invoice(ship_num=None)])
    assert kinds(result) == [rules.INVOICED_NOT_SHIPPED]


def test_a_shipment_without_its_invoice_is_a_difference():
    assert kinds(run(shipments=[shipment(invoice_num=None)])) == [rules.SHIPPED_NOT_INVOICED]


def test_a_sent_order_is_a_difference_only_past_its_sla_and_not_once_seko_cancelled_it():
    assert kinds(run(dispatches={}, now=datetime(2026, 11, 27, 20, tzinfo=UTC))) == []
    assert kinds(run(dispatches={})) == [rules.NOT_DISPATCHED_PAST_SLA]
    assert kinds(run(sent_rows=sent(seko_status="Cancelled"), dispatches={})) == []


def test_an_order_sent_today_and_dispatched_tomorrow_counts_on_each_day_without_a_difference():
    late = dispatch(DispatchDate="2026-11-28T08:00:00Z")
    result = run(dispatches={"SO-1": late}, shipments=[shipment(ship_date="2026-11-28T08:00:00Z")],
                 invoices=[invoice(invoice_date="2026-11-28")])
    assert result["differences"] == []
    assert result["days"][DAY]["sent_orders"] == 1 and result["days"][DAY]["dispatched_orders"] == 0
    assert result["days"][date(2026, 11, 28)]["dispatched_orders"] == 1


def test_iHub_quirks_in_a_dispatch_are_read_a_single_line_object_and_a_sku_over_two_lots():
    one = dispatch(List={"DispatchLineItem": {"ProductCode": "A", "Quantity": "2"}})
    assert rules.dispatch_lines(one) == {"A": 2}
    lots = dispatch(List={"DispatchLineItem": [{"ProductCode": "A", "Quantity": 1}, {"ProductCode": "A", "Quantity": 1},
                                               {"ProductCode": "B", "Quantity": 0}]})
    assert rules.dispatch_lines(lots) == {"A": 2}
