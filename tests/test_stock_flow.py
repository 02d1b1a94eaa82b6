"""Stock flow end to end, over real HTTP to both simulators (flow 4 in DESIGN.md)."""

from __future__ import annotations

import time

import pytest
from django.utils import timezone

from exceptions import catalogue
from exceptions.models import IntegrationException
from integration.clients.seko import parse_push
from integration.models import (
    AtsPublication,
    MessageLog,
    Order,
    OrderLine,
    StockBufferOverride,
    StockMovement,
    StockPosition,
    StockSnapshot,
)
from integration.stock import flow as stock
from tests.factories import BlueCherryItemFactory, WarehouseMappingFactory
from tests.helpers import configure

pytestmark = pytest.mark.django_db

SKUS = ["10023-NAVY-S", "10023-NAVY-M", "10023-NAVY-L"]
DC = "DCCL01"


@pytest.fixture
def world(bluecherry, seko, settings):
    """The 3PL location mapped to Seko's DC, the SKUs known to Blue Cherry, stock at Seko, and
    Blue Cherry applying ATS batches at once (its cycle is minutes in production)."""
    configure(settings, STOCK_PUSH_INTERVAL_MINUTES=5, BLUECHERRY_BATCH_CYCLE_MINUTES=10, STOCK_SAFETY_FACTOR=2.0,
              STOCK_BUFFER_MIN=0, STOCK_BUFFER_MAX=25, STOCK_VELOCITY_WINDOW_HOURS=6, STOCK_DRIFT_TOLERANCE=2)
    stocked_at_both(bluecherry, seko)
    return bluecherry, seko


def stocked_at_both(bluecherry, seko) -> None:
    """UK3PL mapped to DCCL01, the SKUs known to Blue Cherry (which applies ATS batches at once) and
    to Seko, with 40 of each at Seko."""
    WarehouseMappingFactory()
    bluecherry.control("POST", "_sim/items", [BlueCherryItemFactory(sku=sku, upc="") for sku in SKUS])
    bluecherry.control("POST", "_sim/faults", {"batch_cycle_seconds": 0})
    seko.control("POST", "_sim/dcs", [DC])
    seko.control("POST", "_sim/products", [{"ProductCode": sku, "ProductDescription": sku} for sku in SKUS])
    set_seko_stock(seko, {sku: 40 for sku in SKUS})


def set_seko_stock(seko, quantities: dict[str, int]) -> None:
    seko.control("POST", "_sim/stock", [{"ProductCode": s, "DCCode": DC, "Quantity": q} for s, q in quantities.items()])


def adjust(seko, sku: str, delta: int) -> list:
    """Move stock in the warehouse; returns the StockAdjustment records Seko would push."""
    seko.control("POST", "_sim/warehouse/adjust", [{"ProductCode": sku, "DCCode": DC, "Quantity": delta}])
    outbox = [p for p in seko.control("GET", "_sim/pushes")["pushes"] if p["kind"] == "StockAdjustment"]
    return parse_push({"Responses": [{"Response": {"StockAdjustment": p["record"]}} for p in outbox[-1:]]})


def position(sku: str) -> StockPosition:
    return StockPosition.objects.get(sku=sku, dc_code=DC)


def bc_inventory(bluecherry) -> dict[str, dict]:
    return {row["sku"]: row for row in bluecherry.control("GET", "inventory?location=UK3PL&page_size=500")["results"]}


def follow_until_settled(timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while AtsPublication.objects.filter(status=AtsPublication.Status.QUEUED).exists():
        assert time.monotonic() < deadline, "Blue Cherry never applied the batch"
        time.sleep(0.2)
        stock.follow_publications()


def open_drift(prefix: str) -> list[IntegrationException]:
    return list(IntegrationException.objects.filter(kind=catalogue.STOCK_DRIFT.code, status="open",
                                                    trace_key__startswith=prefix))


def sold(sku: str, qty: int, *, hours_ago: float = 1.0, sent: bool = False) -> Order:
    """An order line in our database, as the order flow would have left it."""
    when = timezone.now() - timezone.timedelta(hours=hours_ago)
    order = Order.objects.create(
        ord_num=f"SO-{Order.objects.count() + 1}", bc_status="RELEASED", bc_updated_at=when, location="UK3PL",
        ship_via="RMNDAY", order_date=when, status=Order.Status.SENT if sent else Order.Status.RECEIVED,
        seko_dc_code=DC if sent else "", sent_at=timezone.now() if sent else None,
    )
    OrderLine.objects.create(order=order, line_no=1, sku=sku, qty_ordered=qty)
    return order


def test_a_stock_adjustment_is_applied_once_however_often_it_is_delivered(world):
    _, seko = world
    stock.take_snapshot()
    records = adjust(seko, "10023-NAVY-M", -3)
    first = stock.apply_stock_adjustments(records + records)  # repeated inside one delivery too
    again = stock.apply_stock_adjustments(records)
    assert (first.applied, first.repeats) == (1, 1)
    assert (again.applied, again.repeats) == (0, 1)
    assert position("10023-NAVY-M").free == 37
    assert StockMovement.objects.count() == 1


def test_an_unreadable_adjustment_is_kept_raw_on_an_exception_and_the_rest_applied(world):
    _, seko = world
    stock.take_snapshot()
    good = adjust(seko, "10023-NAVY-S", 5)
    bad = {"InterfaceRecordId": "999", "SequenceNumber": 1, "ProductCode": "10023-NAVY-L", "DCCode": DC,
           "Quantity": "a few"}
    result = stock.apply_stock_adjustments([*good, bad])
    assert (result.applied, result.unreadable) == (1, 1)
    assert position("10023-NAVY-S").free == 45 and position("10023-NAVY-L").free == 40
    exc = IntegrationException.objects.get(kind=catalogue.STOCK_ADJUSTMENT_UNREADABLE.code)
    assert "Quantity 'a few' is not a whole number" in exc.message and '"a few"' in exc.response_payload


def test_a_movement_the_snapshot_already_counted_is_not_applied_again(world):
    _, seko = world
    records = adjust(seko, "10023-NAVY-M", -4)  # happened before the snapshot was read
    time.sleep(1.1)  # AdjustmentDate has whole seconds
    stock.take_snapshot()
    assert position("10023-NAVY-M").free == 36
    result = stock.apply_stock_adjustments(records)  # the push arrives late
    assert result.already_in_snapshot == 1
    assert position("10023-NAVY-M").free == 36


def test_a_snapshot_corrects_a_missed_movement_records_it_and_raises_drift_until_it_agrees(world):
    _, seko = world
    stock.take_snapshot()
    set_seko_stock(seko, {"10023-NAVY-L": 31, "10023-NAVY-S": 39})  # moved, and no push came
    result = stock.take_snapshot()
    assert (result.skus_corrected, result.units_corrected, result.drifted) == (2, 10, 1)
    assert position("10023-NAVY-L").free == 31 and position("10023-NAVY-L").last_correction == -9
    snapshot = StockSnapshot.objects.filter(finished_at__isnull=False).first()
    assert snapshot.units_corrected == 10
    [drift] = open_drift("stock:seko:")
    assert drift.sku == "10023-NAVY-L" and "31 free" in drift.message and "was 40" in drift.message
    stock.take_snapshot()
    assert open_drift("stock:seko:") == []


def test_orders_seko_accepted_since_the_snapshot_count_against_free_stock(world):
    _, seko = world
    stock.take_snapshot()
    sold("10023-NAVY-M", 6, sent=True)
    seko.control("POST", "_sim/stock", [{"ProductCode": "10023-NAVY-M", "DCCode": DC, "Quantity": 34}])
    _, figures = stock.compute_figures("UK3PL", DC)
    assert figures["10023-NAVY-M"].free == 34
    assert stock.take_snapshot().skus_corrected == 0  # not drift: we knew


def test_a_snapshot_of_many_skus_is_chunked_under_the_query_cap(world):
    _, seko = world
    codes = [f"STYLE{i:05d}-COLOUR-SIZE" for i in range(400)]
    seko.control("POST", "_sim/products", [{"ProductCode": c, "ProductDescription": c} for c in codes])
    set_seko_stock(seko, {c: i + 1 for i, c in enumerate(codes)})
    result = stock.take_snapshot(product_codes=codes)
    assert result.skus == 400
    calls = MessageLog.objects.filter(system="seko", operation="stock")
    assert calls.count() >= 3
    assert all(c.status_code == 200 for c in calls)
    assert StockPosition.objects.get(sku=codes[399]).free == 400


def test_only_changed_figures_are_pushed_to_blue_cherry(world):
    bluecherry, seko = world
    stock.take_snapshot()
    first = stock.publish_available()
    assert (first.changed, first.pushed, first.batches) == (3, 3, 1)
    follow_until_settled()
    assert stock.publish_available().pushed == 0
    stock.apply_stock_adjustments(adjust(seko, "10023-NAVY-S", -5))
    second = stock.publish_available()
    assert second.pushed == 1
    assert AtsPublication.objects.order_by("-posted_at").first().positions == {"10023-NAVY-S": 35}
    follow_until_settled()
    assert bc_inventory(bluecherry)["10023-NAVY-S"]["channel_available"] == 35


def test_work_orders_and_wip_in_blue_cherry_never_count(world):
    bluecherry, _ = world
    bluecherry.control("POST", "_sim/inventory", [{"sku": s, "location": "UK3PL", "on_hand": 40, "wip": 500}
                                                  for s in SKUS])
    stock.take_snapshot()
    stock.publish_available()
    follow_until_settled()
    row = bc_inventory(bluecherry)["10023-NAVY-M"]
    assert row["ats"] == 540  # Blue Cherry's own figure counts the WIP...
    assert row["channel_available"] == 40  # ...what the channels see is Seko's free stock only


def test_the_buffer_follows_recent_sales_and_a_per_sku_override(world):
    bluecherry, _ = world
    sold("10023-NAVY-M", 24)  # 4 per hour over the 6-hour window
    sold("10023-NAVY-M", 100, hours_ago=30)  # outside the window: not recent
    StockBufferOverride.objects.create(sku="10023-NAVY-L", buffer=7)
    stock.take_snapshot()
    stock.publish_available()
    fast = position("10023-NAVY-M")
    # 4/h x (5 + 10 min) x 2 = 2 units
    assert (fast.velocity, fast.buffer, fast.buffer_reason, fast.available) == (4.0, 2, "velocity", 38)
    assert (position("10023-NAVY-L").buffer, position("10023-NAVY-L").buffer_reason) == (7, "override")
    assert position("10023-NAVY-S").available == 40
    follow_until_settled()
    assert bc_inventory(bluecherry)["10023-NAVY-M"]["channel_available"] == 38


def test_a_failed_batch_raises_sync_failed_resends_the_rest_and_closes_on_the_next_success(world):
    bluecherry, seko = world
    seko.control("POST", "_sim/products", [{"ProductCode": "NEW-SKU", "ProductDescription": "new"}])
    set_seko_stock(seko, {"NEW-SKU": 10})  # Blue Cherry has no such item yet
    stock.take_snapshot()
    stock.publish_available()
    follow_until_settled()
    assert AtsPublication.objects.get().status == AtsPublication.Status.FAILED
    failed = IntegrationException.objects.get(kind=catalogue.STOCK_SYNC_FAILED.code, status="open")
    assert "unknown SKU 'NEW-SKU'" in failed.message
    assert position("NEW-SKU").publish_error and position("10023-NAVY-M").published_qty is None
    assert stock.publish_available().pushed == 3  # the others again, not the refused SKU
    follow_until_settled()
    failed.refresh_from_db()
    assert failed.status == "resolved"
    assert bc_inventory(bluecherry)["10023-NAVY-M"]["channel_available"] == 40
    bluecherry.control("POST", "_sim/items", [BlueCherryItemFactory(sku="NEW-SKU", upc="")])
    stock.take_snapshot()  # a refused SKU is tried again after a snapshot
    assert stock.publish_available().pushed == 1
    follow_until_settled()
    assert bc_inventory(bluecherry)["NEW-SKU"]["channel_available"] == 10


def test_figures_are_recorded_when_blue_cherry_does_not_take_the_batch(world):
    # A sent position's figure is written with its batch; one whose batch failed still gets it.
    bluecherry, _ = world
    sold("10023-NAVY-M", 24)
    stock.take_snapshot()
    bluecherry.control("POST", "_sim/faults", {"error_rate": 1, "endpoints": ["ats-updates"],
                                               "batch_cycle_seconds": 0})
    result = stock.publish_available()
    assert (result.changed, result.pushed) == (3, 0) and result.error
    assert not AtsPublication.objects.exists()
    fast = position("10023-NAVY-M")
    assert (fast.velocity, fast.buffer, fast.buffer_reason, fast.available) == (4.0, 2, "velocity", 38)
    assert fast.computed_at is not None and fast.published_qty is None and fast.publication_id is None
    bluecherry.control("POST", "_sim/faults", {"batch_cycle_seconds": 0})
    assert stock.publish_available().pushed == 3
    fast = position("10023-NAVY-M")
    assert (fast.available, fast.published_qty, fast.buffer_reason) == (38, 38, "velocity")
    assert fast.publication_id == AtsPublication.objects.get().pk


def test_the_audit_finds_a_figure_blue_cherry_never_applied_and_the_next_push_fixes_it(world):
    bluecherry, _ = world
    stock.take_snapshot()
    stock.publish_available()
    follow_until_settled()
    assert stock.audit_bluecherry().drifted == 0
    bluecherry.control("POST", "_sim/inventory", [{"sku": "10023-NAVY-S", "location": "UK3PL",
                                                   "channel_available": 90}])
    assert stock.audit_bluecherry().drifted == 1
    [drift] = open_drift("stock:bluecherry:")
    assert "channel_available 90" in drift.message and "applied 40" in drift.message
    assert stock.publish_available().pushed == 1
    follow_until_settled()
    assert stock.audit_bluecherry().drifted == 0
    assert open_drift("stock:bluecherry:") == []


def test_adjustment_parts_stored_by_the_webhook_are_applied_once_and_marked(world):
    from integration.models import PushPart

    _, seko = world
    stock.take_snapshot()
    [record] = adjust(seko, "10023-NAVY-L", -2)
    part = PushPart.objects.create(type=PushPart.STOCK, interface_record_id=record.fields["InterfaceRecordId"],
                                   sequence_number=str(record.fields["SequenceNumber"]), message_part=1,
                                   message_group_id="g", ref="10023-NAVY-L", fields=record.fields)
    assert stock.apply_pending_stock_parts() == 1
    assert stock.apply_pending_stock_parts() == 0
    stock.apply_stock_parts([part])  # a stale copy handed over again: nothing happens
    part.refresh_from_db()
    assert part.applied_at is not None
    assert position("10023-NAVY-L").free == 38


def test_the_stock_page_shows_the_buffer_and_why_to_ops_and_refuses_other_roles(world, client):
    from django.contrib.auth.models import Group, User

    sold("10023-NAVY-M", 24)
    stock.take_snapshot()
    stock.publish_available()
    assert client.get("/stock/").status_code == 302  # anonymous: to the login page
    finance = User.objects.create_user("fin", password="x")
    finance.groups.add(Group.objects.get_or_create(name="finance")[0])
    client.force_login(finance)
    assert client.get("/stock/").status_code == 403
    ops = User.objects.create_user("op", password="x")
    ops.groups.add(Group.objects.get_or_create(name="ops")[0])
    client.force_login(ops)
    page = client.get("/stock/?q=10023-NAVY-M").content.decode()
    assert "10023-NAVY-M" in page and "10023-NAVY-S" not in page
    assert "4.0/h \u00d7 15.0 min \u00d7 2.0" in page


def test_a_stock_adjustment_push_taken_by_the_dispatch_processing_moves_the_position_once(world):
    import json

    from integration.dispatches import intake
    from integration.models import InboundPush

    _, seko = world
    stock.take_snapshot()
    [record] = adjust(seko, "10023-NAVY-S", -6)
    body = json.dumps({"Responses": [{"Response": {"StockAdjustment": record.fields}}]})
    for _ in range(2):  # Seko delivers it twice
        intake.take_push(InboundPush.objects.create(body=body))
    assert position("10023-NAVY-S").free == 34
    assert StockMovement.objects.count() == 1
