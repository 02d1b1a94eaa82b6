"""Item onboarding at speed: the benchmark's block through the real simulators at a tiny size,
and what makes the speed safe: LIVE in one Blue Cherry call per batch, claimed so no item is
told twice, batches pipelined at Seko, a worker dying mid-run recovered without a second
product or a second LIVE."""

from __future__ import annotations

import pytest
from django.db import connection

from bench import items as items_bench
from exceptions import catalogue
from exceptions.models import IntegrationException
from integration.clients.errors import NotFound
from integration.items import flow as items
from integration.items.bulkwrite import update_rows, update_sql
from integration.models import Item
from integration.shared.systems import bluecherry_client
from tests.factories import BlueCherryItemFactory, valid_upc

pytestmark = pytest.mark.django_db

Sync = Item.SyncStatus


def ready_item(sku: str, n: int) -> dict:
    return BlueCherryItemFactory(sku=sku, upc=valid_upc(n), status="PENDING_WMS")


def test_the_items_block_at_a_tiny_size_through_the_real_simulators(systems, settings):
    bluecherry, seko = systems
    settings.ITEM_BATCH_SIZE = 20  # several batches, so the pipeline and the LIVE batches are exercised
    report = items_bench.measure(bluecherry, seko, items=80, latency_ms=150)
    assert report["items"] == 80 and report["latency_ms"] == 150 and report["invalid_items"] > 0
    valid = 80 - report["invalid_items"]
    assert report["sync_status"] == {"live": valid, "invalid": report["invalid_items"]}
    assert report["live_in_blue_cherry"] == valid
    assert report["products_accepted"] == valid and report["items_set_live"] == valid
    for name in ("valid_items_not_live", "products_accepted_more_than_once", "items_set_live_more_than_once"):
        assert report[name] == {"value": 0, "target": 0, "met": True}, name
    rate = report["items_per_s"]
    assert rate["target"] == 100 and rate["value"] == pytest.approx(valid / report["elapsed_s"], rel=0.01)
    assert rate["met"] == (rate["value"] >= 100)
    assert report["calls_ms"]["submit_product"]["calls"] == valid
    assert report["calls_ms"]["set_item_statuses"]["calls"] == 80 // 20  # one LIVE call per batch, not per item
    assert report["calls_ms"]["submit_product"]["p50"] >= 150  # the latency was really added
    assert 0 < report["queries"] < 80 * 3


def test_blue_cherry_is_told_live_in_one_call_per_batch_and_a_refused_item_fails_alone(systems, settings):
    bluecherry, _ = systems
    settings.HTTP_MAX_RETRIES = 0
    bluecherry.control("POST", "_sim/faults", {"error_rate": 1.0, "endpoints": ["/status"]})
    bluecherry.control("POST", "_sim/items", [ready_item("KEEP-1", 1), ready_item("GONE-1", 2)])
    items.sync_items()
    assert set(Item.objects.values_list("sync_status", flat=True)) == {Sync.SENT}
    bluecherry.control("POST", "_sim/reset")  # Blue Cherry forgets GONE-1 (and the fault)
    bluecherry.control("POST", "_sim/items", [ready_item("KEEP-1", 1)])
    assert items.set_owed_items_live() == 1
    assert dict(Item.objects.values_list("sku", "sync_status")) == {"KEEP-1": Sync.LIVE, "GONE-1": Sync.FAILED}
    refusal = IntegrationException.objects.get(trace_key="sku:GONE-1", status="open")
    assert refusal.kind == catalogue.ITEM_SYNC_FAILED.code and "does not exist" in refusal.message
    assert bluecherry.control("GET", "_sim/state")["items_set_live"] == 1
    assert not Item.objects.exclude(claim_token="").exists()


def test_two_workers_never_claim_the_same_items_to_set_live_and_a_dead_workers_claim_is_freed(systems, settings):
    bluecherry, _ = systems
    settings.HTTP_MAX_RETRIES = 0
    bluecherry.control("POST", "_sim/faults", {"error_rate": 1.0, "endpoints": ["/status"]})
    bluecherry.control("POST", "_sim/items", [ready_item(f"C-{n}", 10 + n) for n in range(5)])
    items.sync_items()
    first_token, first = items.claim_owed_live(3)
    assert first_token
    second_token, second = items.claim_owed_live(3)
    assert second_token != first_token
    assert len(first) == 3 and len(second) == 2
    assert not {i.pk for i in first} & {i.pk for i in second}
    assert items.claim_owed_live(3)[1] == []  # everything owed is claimed: nothing for a third worker

    settings.ORDER_LEASE_SECONDS = 0  # both workers died holding their claims
    assert items.recover_stale_item_claims() == 5
    bluecherry.control("POST", "_sim/faults", {})
    assert items.set_owed_items_live() == 5
    assert bluecherry.control("GET", "_sim/state")["items_set_live_more_than_once"] == 0


def test_a_worker_dying_mid_run_leaves_nothing_sent_twice_by_submit_and_recovers(systems, settings, monkeypatch):
    bluecherry, seko = systems
    settings.ITEM_BATCH_SIZE = 2
    settings.ITEM_BATCHES_IN_FLIGHT = 2
    bluecherry.control("POST", "_sim/items", [ready_item(f"K-{n}", 30 + n) for n in range(5)])
    real_record = items._record_outcomes

    def dies(*args, **kwargs):
        raise RuntimeError("the worker died before writing the batch's outcomes")

    monkeypatch.setattr(items, "_record_outcomes", dies)
    with pytest.raises(RuntimeError):
        items.sync_items()
    statuses = list(Item.objects.values_list("sync_status", flat=True))
    assert statuses.count(Sync.SENDING) == 4 and statuses.count(Sync.PENDING) == 1  # two batches were out
    at_seko_before = seko.control("GET", "_sim/state")["products_accepted"]
    assert at_seko_before <= 4

    monkeypatch.setattr(items, "_record_outcomes", real_record)
    items.sync_items()  # the lease has not run out: the claimed items are left alone
    assert Item.objects.filter(sync_status=Sync.SENDING).count() == 4
    settings.ORDER_LEASE_SECONDS = 0
    result = items.sync_items()
    assert result["recovered"] == 4
    assert set(Item.objects.values_list("sync_status", flat=True)) == {Sync.LIVE}
    state = seko.control("GET", "_sim/state")
    # Each product Seko took before the crash was taken again as an update, never a second create.
    assert state["products"] == 5 and state["products_accepted"] == 5 + at_seko_before
    assert bluecherry.control("GET", "_sim/state")["items_set_live"] == 5
    assert bluecherry.control("GET", "_sim/state")["items_set_live_more_than_once"] == 0


def test_the_batch_status_call_answers_per_item_and_refuses_a_malformed_request_whole(systems):
    bluecherry, _ = systems
    bluecherry.control("POST", "_sim/items", [ready_item("B-1", 40)])
    with bluecherry_client() as client:
        live, missing = client.set_item_statuses([("B-1", "LIVE", "B-1"), ("NOPE", "LIVE", "NOPE")])
        assert live["sku"] == "B-1" and live["status"] == "LIVE"
        assert isinstance(missing, NotFound) and "NOPE" in missing.remote_message
        with pytest.raises(Exception) as refused:
            client.set_item_statuses([("B-1", "SELLABLE", None)])
    assert getattr(refused.value, "status_code", None) == 422
    assert "updates[0].status" in str(refused.value.details)
    assert bluecherry.control("GET", "items/B-1")["status"] == "LIVE"


def test_update_sql_names_the_fields_and_the_key():
    sql = update_sql(Item, ["sync_status", "claim_token"], "default")
    quote = connection.ops.quote_name
    assert sql == (f"UPDATE {quote('integration_item')} SET {quote('sync_status')} = %s, "
                   f"{quote('claim_token')} = %s WHERE {quote('id')} = %s")


def test_update_rows_writes_only_the_fields_named_each_rows_own_value(db):
    rows = [Item.objects.create(sku=f"U-{n}", bc_status="PENDING_WMS", bc_updated_at="2026-11-27T08:00:00Z",
                                raw={"n": n}) for n in range(3)]
    for n, row in enumerate(rows):
        row.sync_status, row.raw, row.last_error = Sync.SENT, {"n": n * 10}, "not written"
    assert update_rows(Item, rows, ["sync_status", "raw"]) == 3
    assert update_rows(Item, [], ["sync_status"]) == 0
    stored = {i.sku: (i.sync_status, i.raw, i.last_error) for i in Item.objects.all()}
    assert stored == {f"U-{n}": (Sync.SENT, {"n": n * 10}, "") for n in range(3)}
