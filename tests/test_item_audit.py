"""The item-master audit: each finding (pure), and raising and closing them over real HTTP."""

from __future__ import annotations

import pytest

from exceptions import catalogue
from exceptions.models import IntegrationException
from integration.items import audit as item_audit
from integration.items import flow as items
from integration.items.audit import compare_item_masters
from integration.items.mapper import map_product
from tests.factories import BlueCherryItemFactory, valid_upc

ITEM = BlueCherryItemFactory(upc=valid_upc(1))
PRODUCT = map_product(ITEM)


def findings(bc: list[dict], seko: list[dict]) -> list[tuple[str, str]]:
    return [(f.sku, f.finding) for f in compare_item_masters(bc, seko)]


def test_matching_masters_have_no_findings():
    assert findings([ITEM], [PRODUCT]) == []


def test_a_live_item_missing_at_seko_is_a_finding_but_a_pending_one_is_not():
    assert findings([ITEM], []) == [("10023-NAVY-M", "missing_at_seko")]
    assert findings([{**ITEM, "status": "PENDING_WMS"}], []) == []


def test_a_different_ean_is_a_finding_naming_both():
    found = compare_item_masters([ITEM], [{**PRODUCT, "EAN": valid_upc(2)}])
    assert [(f.finding, f.bluecherry, f.seko) for f in found] == [("ean_mismatch", valid_upc(1), valid_upc(2))]


def test_a_different_description_is_a_finding():
    assert findings([ITEM], [{**PRODUCT, "ProductDescription": "Training Tee"}]) == [
        ("10023-NAVY-M", "description_mismatch")]


def test_a_different_weight_is_a_finding_but_the_same_weight_written_differently_is_not():
    assert findings([ITEM], [{**PRODUCT, "GrossWeight": 0.3}]) == [("10023-NAVY-M", "weight_mismatch")]
    assert findings([ITEM], [{**PRODUCT, "GrossWeight": "0.2500"}]) == []
    assert findings([ITEM], [{**PRODUCT, "GrossWeight": None}]) == [("10023-NAVY-M", "weight_mismatch")]


def test_a_product_blue_cherry_does_not_know_is_a_finding():
    assert findings([], [PRODUCT]) == [("10023-NAVY-M", "unknown_in_bluecherry")]


def test_a_product_discontinued_in_blue_cherry_is_a_finding():
    assert findings([{**ITEM, "status": "DISCONTINUED"}], [PRODUCT]) == [("10023-NAVY-M", "discontinued_in_bluecherry")]


def test_every_finding_of_a_sku_is_listed():
    found = findings([ITEM], [{**PRODUCT, "EAN": "", "GrossWeight": 9, "ProductDescription": "x"}])
    assert found == [("10023-NAVY-M", "ean_mismatch"), ("10023-NAVY-M", "description_mismatch"),
                     ("10023-NAVY-M", "weight_mismatch")]


@pytest.mark.django_db
def test_the_audit_raises_one_exception_per_sku_and_closes_it_once_no_longer_found(bluecherry, seko):
    bluecherry.control("POST", "_sim/items", [
        BlueCherryItemFactory(sku="A-1", upc=valid_upc(3), status="PENDING_WMS"),
        BlueCherryItemFactory(sku="A-2", upc=valid_upc(4), status="PENDING_WMS"),
    ])
    items.sync_items()
    seko.control("POST", "_sim/products", [{**map_product(bluecherry.control("GET", "items/A-1")),
                                            "EAN": valid_upc(5), "GrossWeight": 1.0},
                                           {"ProductCode": "STRAY", "ProductDescription": "Not ours"}])
    result = item_audit.run_item_audit()
    assert result["findings"] == 3 and result["skus"] == 2
    open_by_key = {e.trace_key: e for e in IntegrationException.objects.filter(
        kind=catalogue.ITEM_MASTER_MISMATCH.code, status="open")}
    assert set(open_by_key) == {"sku:A-1", "sku:STRAY"}
    a1 = open_by_key["sku:A-1"]
    assert a1.owner == "data" and [p["finding"] for p in a1.problems] == ["ean_mismatch", "weight_mismatch"]
    assert {row["finding"] for row in item_audit.open_findings()} == {"ean_mismatch", "weight_mismatch",
                                                                     "unknown_in_bluecherry"}

    # Someone puts A-1 right at Seko; STRAY is still there.
    seko.control("POST", "_sim/products", [map_product(bluecherry.control("GET", "items/A-1"))])
    item_audit.run_item_audit()
    a1.refresh_from_db()
    assert a1.status == "resolved" and a1.events.last().action == "auto-resolved"
    assert IntegrationException.objects.get(trace_key="sku:STRAY", status="open").occurrences == 2
