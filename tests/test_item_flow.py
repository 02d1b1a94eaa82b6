"""The item master end to end, over real HTTP to both simulators (flow 1 in DESIGN.md)."""

from __future__ import annotations

import pytest

from exceptions import catalogue
from exceptions.models import IntegrationException
from integration.items import flow as items
from integration.models import Item, MessageLog, Order
from tests.factories import BlueCherryItemFactory, BlueCherryOrderFactory, LineFactory, valid_upc
from tests.test_order_flow import release, run_flow, world  # noqa: F401  (world is a fixture)

pytestmark = pytest.mark.django_db

Sync = Item.SyncStatus


def ready_item(sku: str, n: int, **fields) -> dict:
    return BlueCherryItemFactory(**{"sku": sku, "upc": valid_upc(n), "status": "PENDING_WMS", **fields})


def seko_product(seko, sku: str) -> dict | None:
    products = seko.control("GET", "products/v4/all")["List"]["ProductMaster"] or []
    return next((p for p in products if p["ProductCode"] == sku), None)


def operations(sku: str) -> list[str]:
    return list(MessageLog.objects.filter(system="seko", request_body__contains=f'"{sku}"')
                .order_by("id").values_list("operation", flat=True))


def open_item_exceptions(sku: str) -> dict[str, IntegrationException]:
    return {e.kind: e for e in IntegrationException.objects.filter(trace_key=f"sku:{sku}", status="open")}


def test_a_ready_item_becomes_a_seko_product_and_only_then_live_in_blue_cherry(systems):
    bluecherry, seko = systems
    bluecherry.control("POST", "_sim/items", [ready_item("10023-NAVY-M", 1)])
    items.sync_items()
    product = seko_product(seko, "10023-NAVY-M")
    assert product["EAN"] == valid_upc(1) and product["ProductDescription"] == "Training Tee Navy M"
    assert product["GrossWeight"] == 0.25 and product["HTSCode"] == "6109100010"
    assert bluecherry.control("GET", "items/10023-NAVY-M")["status"] == "LIVE"
    item = Item.objects.get(sku="10023-NAVY-M")
    assert (item.sync_status, item.bc_status) == (Sync.LIVE, "LIVE")
    assert item.seko_acknowledged_at is not None and item.live_at is not None and item.is_sellable
    items.sync_items()  # going LIVE moved updated_at in Blue Cherry: that is not a change for Seko
    assert operations("10023-NAVY-M") == ["submit_product"]


def test_an_invalid_item_is_not_sent_and_its_exception_names_every_problem_until_fixed(systems):
    bluecherry, seko = systems
    bluecherry.control("POST", "_sim/items", [ready_item("BAD-1", 2, upc="5056000000017", hs_number="",
                                                         country_of_origin="UK1")])
    items.sync_items()
    item = Item.objects.get(sku="BAD-1")
    assert item.sync_status == Sync.INVALID and item.seko_acknowledged_at is None
    assert seko_product(seko, "BAD-1") is None
    assert bluecherry.control("GET", "items/BAD-1")["status"] == "PENDING_WMS"
    exc = open_item_exceptions("BAD-1")[catalogue.ITEM_INVALID.code]
    assert exc.owner == "data" and exc.sku == "BAD-1"
    assert [p["field"] for p in exc.problems] == ["upc", "hs_number", "country_of_origin"]
    assert "check digit" in exc.message and "HS code" in exc.message and "'UK1'" in exc.message
    items.sync_items()  # nothing changed: not checked again, not counted again
    exc.refresh_from_db()
    assert exc.occurrences == 1

    bluecherry.control("POST", "_sim/items", [{"sku": "BAD-1", "upc": valid_upc(2), "hs_number": "6109100010",
                                               "country_of_origin": "PT"}])
    items.sync_items()
    assert Item.objects.get(sku="BAD-1").sync_status == Sync.LIVE
    assert seko_product(seko, "BAD-1") is not None
    exc.refresh_from_db()
    assert exc.status == "resolved"


def test_submit_of_a_product_seko_already_has_falls_back_to_update(systems):
    bluecherry, seko = systems
    seko.control("POST", "_sim/products", [{"ProductCode": "10023-NAVY-M", "ProductDescription": "old name"}])
    bluecherry.control("POST", "_sim/items", [ready_item("10023-NAVY-M", 3)])
    items.sync_items()
    assert operations("10023-NAVY-M") == ["submit_product", "update_product"]
    assert seko_product(seko, "10023-NAVY-M")["ProductDescription"] == "Training Tee Navy M"
    assert Item.objects.get(sku="10023-NAVY-M").sync_status == Sync.LIVE


def test_update_of_a_product_seko_no_longer_has_falls_back_to_submit(systems):
    bluecherry, seko = systems
    bluecherry.control("POST", "_sim/items", [ready_item("10023-NAVY-M", 4)])
    items.sync_items()
    seko.control("POST", "_sim/reset")  # Seko loses the product it acknowledged
    bluecherry.control("POST", "_sim/items", [{"sku": "10023-NAVY-M", "style_name": "Training Tee II"}])
    items.sync_items()
    assert operations("10023-NAVY-M") == ["submit_product", "update_product", "submit_product"]
    assert seko_product(seko, "10023-NAVY-M")["ProductDescription"] == "Training Tee II Navy M"
    assert Item.objects.get(sku="10023-NAVY-M").sync_status == Sync.LIVE


def test_a_seko_refusal_is_item_sync_failed_with_sekos_message_and_the_item_stays_unsellable(systems, monkeypatch):
    bluecherry, _ = systems
    # Seko has rules of its own; let one item past ours to meet Seko's currency rule.
    monkeypatch.setattr(items, "validate_item", lambda item: [])
    bluecherry.control("POST", "_sim/items", [ready_item("10023-NAVY-M", 5, currency="POUND")])
    items.sync_items()
    item = Item.objects.get(sku="10023-NAVY-M")
    assert item.sync_status == Sync.FAILED and not item.is_sellable
    exc = open_item_exceptions("10023-NAVY-M")[catalogue.ITEM_SYNC_FAILED.code]
    assert "The field Currency must be a string with a maximum length of 3." in exc.message
    assert exc.owner == "data" and '"POUND"' in exc.request_payload
    assert bluecherry.control("GET", "items/10023-NAVY-M")["status"] == "PENDING_WMS"


def test_seko_outages_are_retried_later_not_failed(systems, settings):
    bluecherry, seko = systems
    settings.HTTP_MAX_RETRIES = 0
    settings.TRANSIENT_ALERT_AFTER = 2
    seko.control("POST", "_sim/faults", {"error_rate": 1.0, "endpoints": ["products/v4/submit"]})
    bluecherry.control("POST", "_sim/items", [ready_item("10023-NAVY-M", 6)])
    items.sync_items()
    item = Item.objects.get(sku="10023-NAVY-M")
    assert (item.sync_status, item.sync_attempts) == (Sync.PENDING, 1) and item.next_attempt_at
    Item.objects.update(next_attempt_at=None)  # backoff elapsed
    items.sync_items()
    alert = IntegrationException.objects.get(kind=catalogue.TRANSPORT_SEKO_UNAVAILABLE.code, status="open")
    seko.control("POST", "_sim/faults", {})
    Item.objects.update(next_attempt_at=None)
    items.sync_items()
    assert Item.objects.get(sku="10023-NAVY-M").sync_status == Sync.LIVE
    alert.refresh_from_db()
    assert alert.status == "resolved"


def test_a_blue_cherry_outage_after_seko_said_yes_does_not_send_to_seko_again(systems, settings):
    bluecherry, _ = systems
    settings.HTTP_MAX_RETRIES = 0
    bluecherry.control("POST", "_sim/faults", {"error_rate": 1.0, "endpoints": ["/status"]})
    bluecherry.control("POST", "_sim/items", [ready_item("10023-NAVY-M", 7)])
    items.sync_items()
    item = Item.objects.get(sku="10023-NAVY-M")
    assert item.sync_status == Sync.SENT and item.seko_acknowledged_at and not item.is_sellable
    assert IntegrationException.objects.filter(kind=catalogue.TRANSPORT_BLUECHERRY_UNAVAILABLE.code,
                                               status="open").exists()
    bluecherry.control("POST", "_sim/faults", {})
    items.sync_items()
    assert Item.objects.get(sku="10023-NAVY-M").sync_status == Sync.LIVE
    assert operations("10023-NAVY-M") == ["submit_product"]


def test_draft_and_discontinued_items_are_not_sent(systems):
    bluecherry, seko = systems
    bluecherry.control("POST", "_sim/items", [ready_item("D-1", 8, status="DRAFT"),
                                              ready_item("D-2", 9, status="DISCONTINUED")])
    items.sync_items()
    assert set(Item.objects.values_list("sync_status", flat=True)) == {Sync.NOT_READY}
    assert seko_product(seko, "D-1") is None and seko_product(seko, "D-2") is None


def test_a_change_arriving_while_an_item_is_being_sent_is_sent_after_it(systems):
    bluecherry, seko = systems
    bluecherry.control("POST", "_sim/items", [ready_item("10023-NAVY-M", 11)])
    items.pull_items()
    token, batch = items.claim_pending_items(10)
    outcomes = [items._send_one(client, row) for client in [items.seko_client()] for row in batch]
    bluecherry.control("POST", "_sim/items", [{"sku": "10023-NAVY-M", "weight_kg": "0.300"}])
    items.pull_items()  # the new version lands while the first is at Seko
    items._record_outcomes(token, batch, outcomes)
    assert Item.objects.get(sku="10023-NAVY-M").sync_status == Sync.PENDING
    items.sync_items()
    assert seko_product(seko, "10023-NAVY-M")["GrossWeight"] == 0.3
    assert Item.objects.get(sku="10023-NAVY-M").sync_status == Sync.LIVE


# --- Gating orders on Seko's acknowledgement ---------------------------------------------------

def test_an_order_for_a_sku_live_in_blue_cherry_but_unknown_to_seko_is_held_then_released(world):
    bluecherry, seko = world
    # LIVE in Blue Cherry already, but with no UPC: Seko never gets it, so it is not sellable.
    bluecherry.control("POST", "_sim/items", [BlueCherryItemFactory(sku="10023-NAVY-XS", upc="", status="LIVE")])
    seko.control("POST", "_sim/stock", [{"ProductCode": "10023-NAVY-XS", "DCCode": "DCCL01", "Quantity": 5}])
    release(bluecherry, BlueCherryOrderFactory(ord_num="SO-G", lines=[LineFactory(line_no=1, sku="10023-NAVY-XS")]))
    run_flow()
    order = Order.objects.get(ord_num="SO-G")
    assert order.status == Order.Status.QUARANTINED
    exc = IntegrationException.objects.get(trace_key="order:SO-G", status="open")
    assert exc.kind == catalogue.ORDER_SKU_NOT_LIVE.code and "Seko has not acknowledged" in exc.message
    assert "SO-G" not in {o["SalesOrderNumber"] for o in seko.control("GET", "_sim/orders")["orders"]}

    bluecherry.control("POST", "_sim/items", [{"sku": "10023-NAVY-XS", "upc": valid_upc(12)}])
    run_flow()  # the item flow gets Seko's yes, which releases the order, which is then sent
    assert Order.objects.get(ord_num="SO-G").status == Order.Status.SENT
    exc.refresh_from_db()
    assert exc.status == "resolved"


def test_orders_for_items_going_live_in_the_same_run_are_not_held(world):
    bluecherry, seko = world
    bluecherry.control("POST", "_sim/items", [ready_item("10023-NAVY-XS", 13)])
    seko.control("POST", "_sim/stock", [{"ProductCode": "10023-NAVY-XS", "DCCode": "DCCL01", "Quantity": 5}])
    release(bluecherry, BlueCherryOrderFactory(ord_num="SO-N", lines=[LineFactory(line_no=1, sku="10023-NAVY-XS")]))
    run_flow()
    order = Order.objects.get(ord_num="SO-N")
    assert order.status == Order.Status.SENT
    assert not order.events.filter(to_status=Order.Status.QUARANTINED).exists()


def test_bulk_apply_reads_and_writes_per_batch_not_per_item(systems, django_assert_max_num_queries):
    records = [ready_item(f"S-{n:04d}", 100 + n, updated_at="2026-11-27T08:00:00Z") for n in range(300)]
    with django_assert_max_num_queries(12):
        applied, unreadable = items.apply_items(records)
    assert (applied, unreadable) == (300, [])
    assert Item.objects.filter(sync_status=Sync.PENDING).count() == 300


def test_an_unreadable_item_record_is_named_and_the_rest_are_taken(systems):
    applied, unreadable = items.apply_items([ready_item("OK-1", 200), {"sku": "NO-TIME", "updated_at": "soon"},
                                             ["not", "an", "object"]])
    assert applied == 1
    assert [error.key for _, error in unreadable] == ["NO-TIME", ""]
