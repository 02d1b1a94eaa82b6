"""The stock slice of Seko as its pages document it: location types, the documented
StockAdjustment (header and lines beside it), status movements, the overnight summary, and the
order-to-stock lag of Retrieve Stock Quantity. Fixture bodies: tests/fixtures/seko-documented/."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from exceptions import catalogue
from exceptions.models import IntegrationException
from integration.clients.seko import list_items, parse_body, parse_push, parse_stock_line
from integration.dispatches import intake
from integration.models import (
    InboundPush,
    Order,
    OrderLine,
    PushPart,
    StockMovement,
    StockPosition,
    StockSnapshot,
)
from integration.stock import flow as stock
from integration.stock import rules as stock_rules
from tests.factories import WarehouseMappingFactory

FIXTURES = Path(__file__).parent / "fixtures" / "seko-documented"
DC = "DCCL01"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


def happening_now(name: str) -> str:
    """A push fixture whose movement happened just now (after the positions were last read)."""
    stamp = timezone.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    return re.sub(r'("(?:StockAdjustmentDate|UtcDate)": )"[^"]*"', rf'\1"{stamp}"', fixture(name))


def take(body: str) -> None:
    intake.take_push(InboundPush.objects.create(body=body))


def position(sku: str) -> StockPosition:
    return StockPosition.objects.get(sku=sku, dc_code=DC)


def read_earlier(**free: int) -> None:
    """Positions as a snapshot an hour ago left them."""
    when = timezone.now() - timedelta(hours=1)
    StockSnapshot.objects.create(dc_code=DC, started_at=when, finished_at=when)
    for sku, units in free.items():
        StockPosition.objects.create(sku=sku.replace("_", "-"), dc_code=DC, free=units, snapshot_at=when)


# --- the client reads every documented body ---------------------------------------------------


def test_documented_stock_quantity_lines_are_read_with_their_location_type():
    lines = [parse_stock_line(item) for item in list_items(parse_body(fixture("stock_quantity.json")),
                                                           "StockQuantityLineItem")]
    assert [(line.product_code, line.location_type, line.quantity) for line in lines[:3]] == [
        ("10023-NAVY-M", "Available Stock", 42), ("10023-NAVY-M", "Quarantine", 3), ("10023-NAVY-M", "QC", 2)]


@pytest.mark.parametrize(("name", "kind", "lines"), [
    ("push_stock_adjustment_increase.json", "Increase", 2),
    ("push_stock_adjustment_decrease.json", "Decrease", 1),
])
def test_a_documented_stock_adjustment_keeps_the_lines_seko_sends_beside_its_header(name, kind, lines):
    [record] = parse_push(fixture(name))
    assert record.type == "StockAdjustment" and record.fields["StockAdjustmentType"] == kind
    items = record.fields["List"]["StockAdjustmentLineItem"]
    assert len(items) == lines and all(item["LineInternalId"] and item["Quantity"] > 0 for item in items)


def test_status_movement_and_overnight_summary_pushes_are_read():
    [movement] = parse_push(fixture("push_stock_status_movement.json"))
    assert movement.type == "StockStatusMovement" and movement.fields["DcCode"] == DC
    [summary] = parse_push(fixture("push_stock_overnight_summary.json"))
    assert summary.type == "StockOvernightSummary"
    assert [line["ProductCode"] for line in summary.fields["List"]["StockOvernightSummaryLineItem"]] == [
        "10023-NAVY-M", "10023-NAVY-L"]


# --- 1. location types -----------------------------------------------------------------------


@pytest.mark.django_db
def test_quarantined_stock_is_never_published_and_the_stock_page_shows_it_held(seko, settings, client):
    from django.contrib.auth.models import Group, User

    WarehouseMappingFactory()
    seko.control("POST", "_sim/stock", [
        {"ProductCode": "10023-NAVY-M", "DCCode": DC, "Quantity": 40},
        {"ProductCode": "10023-NAVY-M", "DCCode": DC, "LocationType": "Quarantine", "Quantity": 5},
        {"ProductCode": "10023-NAVY-M", "DCCode": DC, "LocationType": "Web Stock", "Quantity": 3},
        {"ProductCode": "10023-NAVY-L", "DCCode": DC, "LocationType": "qc ", "Quantity": 4},
    ])
    stock.take_snapshot()
    navy_m, navy_l = position("10023-NAVY-M"), position("10023-NAVY-L")
    assert (navy_m.free, navy_m.held, navy_m.held_units) == (43, {"Quarantine": 5}, 5)
    assert (navy_l.free, navy_l.held) == (0, {"qc": 4})
    _, figures = stock.compute_figures("UK3PL", DC)
    assert figures["10023-NAVY-M"].free == 43 and figures["10023-NAVY-L"].available == 0
    ops = User.objects.create_user("op", password="x")
    ops.groups.add(Group.objects.get_or_create(name="ops")[0])
    client.force_login(ops)
    page = client.get("/stock/?q=10023-NAVY-M").content.decode()
    assert "Quarantine 5" in page


def test_sellable_location_types_are_compared_without_case_or_spaces():
    sellable = stock_rules.sellable_types(" Available Stock , WEB STOCK")
    assert stock_rules.is_sellable("available  stock", sellable) and stock_rules.is_sellable("Web Stock", sellable)
    assert not stock_rules.is_sellable("Quarantine", sellable) and not stock_rules.is_sellable("Cross Dock", sellable)


# --- 2. the documented stock adjustment ------------------------------------------------------


@pytest.mark.django_db
def test_documented_adjustment_lines_are_applied_once_signed_by_type_and_by_location():
    read_earlier(**{"10023_NAVY_M": 10, "10023_NAVY_L": 5})
    StockPosition.objects.filter(sku="10023-NAVY-M").update(held={"Quarantine": 3}, held_units=3)
    for _ in range(2):  # Seko delivers each message twice
        take(happening_now("push_stock_adjustment_increase.json"))
        take(happening_now("push_stock_adjustment_decrease.json"))
    navy_m = position("10023-NAVY-M")
    assert (navy_m.free, navy_m.held, navy_m.held_units) == (14, {"Quarantine": 2}, 2)  # decrease was quarantined
    assert position("10023-NAVY-L").free == 7
    assert StockMovement.objects.filter(kind="adjustment").count() == 3
    assert not IntegrationException.objects.filter(kind=catalogue.STOCK_ADJUSTMENT_UNREADABLE.code).exists()
    assert PushPart.objects.filter(type=PushPart.STOCK, applied_at__isnull=True).count() == 0


@pytest.mark.django_db
def test_an_unreadable_adjustment_line_is_kept_raw_and_the_other_lines_applied():
    read_earlier(**{"10023_NAVY_M": 10, "10023_NAVY_L": 5})
    body = json.loads(happening_now("push_stock_adjustment_increase.json"))
    body["Responses"][0]["Response"]["List"]["StockAdjustmentLineItem"][1]["Quantity"] = "a few"
    take(json.dumps(body))
    assert position("10023-NAVY-M").free == 14 and position("10023-NAVY-L").free == 5
    exc = IntegrationException.objects.get(kind=catalogue.STOCK_ADJUSTMENT_UNREADABLE.code)
    assert "Quantity 'a few' is not a whole number" in exc.message and '"a few"' in exc.response_payload
    assert exc.sku == "10023-NAVY-L"


# --- 3. status movements and the overnight summary ------------------------------------------


@pytest.mark.django_db
def test_a_status_movement_moves_units_from_sellable_to_held_once():
    read_earlier(**{"10023_NAVY_M": 10})
    take(happening_now("push_stock_status_movement.json"))
    take(happening_now("push_stock_status_movement.json"))
    navy_m = position("10023-NAVY-M")
    assert (navy_m.free, navy_m.held, navy_m.held_units) == (7, {"Quarantine": 3}, 3)
    back = json.loads(happening_now("push_stock_status_movement.json"))
    movement = back["Responses"][0]["Response"]["StockStatusMovement"]
    movement.update(FromLocationType="Quarantine", ToLocationType="Available Stock", Quantity=2,
                    MovementID="another-movement", SequenceNumber=878)
    take(json.dumps(back))
    navy_m = position("10023-NAVY-M")
    assert (navy_m.free, navy_m.held) == (9, {"Quarantine": 1})
    assert StockMovement.objects.filter(kind="status_movement").count() == 2


@pytest.mark.django_db
def test_a_status_movement_without_a_movement_id_or_record_id_is_applied_once_however_often_delivered():
    """MovementID is a placeholder on Seko's page and the message has no InterfaceRecordId: the
    movement is named by what it says, so a redelivery is still a repeat and nothing is refused."""
    read_earlier(**{"10023_NAVY_M": 10})
    body = json.loads(happening_now("push_stock_status_movement.json"))
    body["Responses"][0]["Response"]["StockStatusMovement"]["MovementID"] = ""
    take(json.dumps(body))
    take(json.dumps(body))
    navy_m = position("10023-NAVY-M")
    assert (navy_m.free, navy_m.held) == (7, {"Quarantine": 3})
    assert not IntegrationException.objects.filter(kind="stock.adjustment_unreadable").exists()


@pytest.mark.django_db
def test_the_overnight_summary_is_a_snapshot_that_corrects_drift_and_holds_what_is_not_for_sale(settings):
    settings.STOCK_DRIFT_TOLERANCE = 2
    read_earlier(**{"10023_NAVY_M": 38, "10023_NAVY_L": 20, "10023_NAVY_S": 4})
    body = json.loads(fixture("push_stock_overnight_summary.json"))
    stamp = (timezone.now() - timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M:%SZ")
    for line in body["Responses"][0]["Response"]["List"]["StockOvernightSummaryLineItem"]:
        line["AtEndOfDate"] = stamp
    take(json.dumps(body))
    navy_m, navy_l, navy_s = position("10023-NAVY-M"), position("10023-NAVY-L"), position("10023-NAVY-S")
    assert (navy_m.free, navy_m.held) == (38, {"Quarantine": 3, "QC": 2})
    assert (navy_l.free, navy_l.held, navy_l.last_correction) == (6, {"Query": 1}, -14)
    assert navy_s.free == 0  # not in the summary: no stock
    snapshot = StockSnapshot.objects.get(source=StockSnapshot.Source.OVERNIGHT)
    assert (snapshot.skus_corrected, snapshot.drifted) == (2, 2)
    assert IntegrationException.objects.filter(kind=catalogue.STOCK_DRIFT.code, sku="10023-NAVY-L").exists()
    take(json.dumps(body))  # delivered again: taken once
    assert StockSnapshot.objects.filter(source=StockSnapshot.Source.OVERNIGHT).count() == 1


# --- 8. the order-to-stock lag ----------------------------------------------------------------


def sent_order(sku: str, qty: int, minutes_ago: float) -> None:
    when = timezone.now() - timedelta(minutes=minutes_ago)
    order = Order.objects.create(
        ord_num=f"SO-{Order.objects.count() + 1}", bc_status="RELEASED", bc_updated_at=when, location="UK3PL",
        ship_via="RMNDAY", order_date=when, status=Order.Status.SENT, seko_dc_code=DC, sent_at=when)
    OrderLine.objects.create(order=order, line_no=1, sku=sku, qty_ordered=qty)


@pytest.mark.django_db
@pytest.mark.parametrize("seko_shows_the_order", [False, True])
def test_a_snapshot_inside_the_order_lag_neither_counts_the_order_twice_nor_loses_it(seko, settings,
                                                                                     seko_shows_the_order):
    settings.SEKO_ORDER_STOCK_LAG_SECONDS = 300
    WarehouseMappingFactory()
    read_earlier(**{"10023_NAVY_M": 40})
    sent_order("10023-NAVY-M", 6, minutes_ago=1)  # accepted a minute ago: Seko may not show it yet
    seko.control("POST", "_sim/stock", [{"ProductCode": "10023-NAVY-M", "DCCode": DC,
                                         "Quantity": 34 if seko_shows_the_order else 40}])
    result = stock.take_snapshot()
    _, figures = stock.compute_figures("UK3PL", DC)
    assert figures["10023-NAVY-M"].free == 34
    assert result.skus_corrected == 0
    # Outside the lag Seko's figure is the truth again: a real loss is corrected in full.
    settings.SEKO_ORDER_STOCK_LAG_SECONDS = 0
    seko.control("POST", "_sim/stock", [{"ProductCode": "10023-NAVY-M", "DCCode": DC, "Quantity": 30}])
    stock.take_snapshot()
    _, figures = stock.compute_figures("UK3PL", DC)
    assert figures["10023-NAVY-M"].free == 30


def test_inside_the_lag_a_running_figure_seko_cannot_disprove_is_kept_and_the_rest_corrected():
    assert stock_rules.settle_snapshot(running=34, seko=40, unsure=6) == 34  # order not shown yet
    assert stock_rules.settle_snapshot(running=34, seko=34, unsure=6) == 34  # order shown
    assert stock_rules.settle_snapshot(running=34, seko=20, unsure=6) == 20  # a real loss beyond it
    assert stock_rules.settle_snapshot(running=30, seko=40, unsure=6) == 34  # found stock beyond it
    assert stock_rules.settle_snapshot(running=12, seko=40, unsure=0) == 40  # no order in the lag


# --- the simulator speaks the documented shapes ----------------------------------------------


@pytest.mark.django_db
def test_the_simulator_hides_an_accepted_order_for_the_lag_and_pushes_documented_stock_messages(seko):
    from integration.shared.systems import seko_client

    seko.control("POST", "_sim/dcs", [DC])
    seko.control("POST", "_sim/services", [{"CourierName": "RoyalMail", "CourierService": "TPN24"}])
    seko.control("POST", "_sim/products", [{"ProductCode": "SKU-A", "EAN": "5056000000017"}])
    seko.control("POST", "_sim/stock", [{"ProductCode": "SKU-A", "DCCode": DC, "Quantity": 10},
                                         {"ProductCode": "SKU-A", "DCCode": DC, "LocationType": "QC", "Quantity": 2}])
    seko.control("POST", "_sim/stock/config", {"lag_seconds": 300})
    order = {"SalesOrderHeader": {"DCCode": DC},
             "SalesOrder": {"SalesOrderNumber": "SO-LAG", "CourierName": "RoyalMail", "CourierService": "TPN24"},
             "DeliveryDetails": {"Line1": "1 High St", "City": "Windsor", "PostcodeZip": "SL4 1HE",
                                 "CountryCode": "GB"},
             "List": {"SalesOrderLineItem": [{"LineNumber": 1, "ProductCode": "SKU-A", "Quantity": 3}]}}
    with seko_client() as client:
        client.submit_order(order)
        shown = {(line.location_type, line.quantity) for line in client.stock(["SKU-A"], DC)}
        assert shown == {("Available Stock", 10), ("QC", 2)}  # the order is not in the figures yet
        seko.control("POST", "_sim/stock/config", {"lag_seconds": 0})
        assert {(line.location_type, line.quantity) for line in client.stock(["SKU-A"], DC)} == {
            ("Available Stock", 7), ("QC", 2)}
    seko.control("POST", "_sim/warehouse/adjust", [{"ProductCode": "SKU-A", "DCCode": DC, "Quantity": -2},
                                                   {"ProductCode": "SKU-A", "DCCode": DC, "Quantity": 4}])
    seko.control("POST", "_sim/warehouse/move", [{"ProductCode": "SKU-A", "DCCode": DC,
                                                  "FromLocationType": "Available Stock",
                                                  "ToLocationType": "Quarantine", "Quantity": 1}])
    seko.control("POST", "_sim/warehouse/overnight", {"DCCode": DC})
    outbox = seko.control("GET", "_sim/pushes")["pushes"]
    records = parse_push({"Responses": [{"Response": {p["kind"]: p["record"]}} for p in outbox]})
    adjustments = [r.fields for r in records if r.type == "StockAdjustment"]
    assert [a["StockAdjustmentType"] for a in adjustments] == ["Decrease", "Increase"]
    assert [a["List"]["StockAdjustmentLineItem"][0]["Quantity"] for a in adjustments] == [2, 4]
    [movement] = [r.fields for r in records if r.type == "StockStatusMovement"]
    assert (movement["FromLocationType"], movement["ToLocationType"], movement["Quantity"]) == (
        "Available Stock", "Quarantine", 1)
    [summary] = [r.fields for r in records if r.type == "StockOvernightSummary"]
    [line] = summary["List"]["StockOvernightSummaryLineItem"]
    assert (line["QuantityOnHand"], line["QuantityInQC"], line["QuantityInQuarantine"]) == (8, 2, 1)
    state = seko.control("GET", "_sim/state")
    assert (state["adjustment_lines_pushed"], state["status_movements_pushed"]) == (2, 1)
