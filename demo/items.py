"""The item master in the demo (issue 4): when the items have settled, the audit of both
item masters, and the ``items`` block of the headless report, counted from the simulators.

``--preloaded-product-rate``: a share of the items are put at Seko as products before the item
flow first runs, as happens when a brand moves to the integration with a warehouse already
stocked (loaded by hand or by an earlier system). Their submit is then answered "already
exists" in Seko's documented words, and the flow must update them and still set them LIVE."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from demo.launcher import RunningSimulator
from demo.seed import bluecherry_items
from exceptions import catalogue
from exceptions.models import IntegrationException
from integration.items.audit import run_item_audit
from integration.items.mapper import map_product
from integration.items.rules import validate_item
from integration.models import Item

Sync = Item.SyncStatus
FOR_THE_WAREHOUSE = ("PENDING_WMS", "LIVE")
# Set by ``preload_products`` in the headless run's process, read by its report.
_preloaded: list[str] = []


def preload_products(bluecherry: RunningSimulator, seko: RunningSimulator, rate: float, seed: int) -> list[str]:
    """Put a share ``rate`` of Blue Cherry's items at Seko directly (``_sim/products``), as an
    older version of what the item flow would send (another description), so the flow's
    update is visible. Only items bound for the warehouse and valid are chosen: what a
    warehouse already holds. Returns their SKUs."""
    _preloaded.clear()
    if rate <= 0:
        return []
    eligible = sorted((item for item in bluecherry_items(bluecherry)
                       if item.get("status") in FOR_THE_WAREHOUSE and not validate_item(item)),
                      key=lambda item: str(item["sku"]))
    chosen = random.Random(f"{seed}:preloaded-products").sample(eligible, round(min(rate, 1.0) * len(eligible)))
    if chosen:
        seko.control("POST", "_sim/products", [
            {**map_product(item), "ProductDescription": f"{map_product(item)['ProductDescription']} (loaded earlier)"}
            for item in chosen])
    _preloaded.extend(sorted(str(item["sku"]) for item in chosen))
    return list(_preloaded)


def settled() -> bool:
    """No item is waiting to be sent or set LIVE (the demo injects no faults, so none waits
    out a backoff)."""
    return not Item.objects.filter(sync_status__in=[Sync.PENDING, Sync.SENDING, Sync.SENT]).exists()


def settle(say: Callable[[str], None]) -> dict[str, int]:
    result = run_item_audit()
    say(f"item-master audit: {result['bluecherry_items']} Blue Cherry items, {result['seko_products']} Seko "
        f"products, {result['findings']} findings")
    return result


def seko_products(seko: RunningSimulator) -> list[dict[str, Any]]:
    return [product for body in seko.pages("products/v4/all", page_size=1000)
            for product in (body.get("List") or {}).get("ProductMaster") or []]


def _open(kind: catalogue.Kind) -> list[IntegrationException]:
    return list(IntegrationException.objects.filter(kind=kind.code, status=IntegrationException.Status.OPEN))


def report(bluecherry: RunningSimulator, seko: RunningSimulator) -> dict[str, int]:
    """``total`` and ``live`` are Blue Cherry's own figures, ``at_seko`` and ``live_at_seko``
    Seko's; ``invalid``, ``failed`` and ``audit_mismatches`` are the open exceptions (one per
    SKU; mismatches count every finding). ``preloaded``: products put at Seko before the flow
    ran; ``preloaded_live``: those LIVE in Blue Cherry, acknowledged by Seko in our mirror and
    holding at Seko what we sent (the update replaced the older version)."""
    items = bluecherry_items(bluecherry)
    products = {str(p.get("ProductCode")): p for p in seko_products(seko)}
    at_seko = set(products)
    live = [item["sku"] for item in items if item["status"] == "LIVE"]
    by_sku = {str(item["sku"]): item for item in items}
    acknowledged = set(Item.objects.filter(sku__in=_preloaded, seko_acknowledged_at__isnull=False)
                       .values_list("sku", flat=True))
    preloaded_live = [
        sku for sku in _preloaded
        if sku in acknowledged and by_sku.get(sku, {}).get("status") == "LIVE" and sku in products
        and products[sku].get("ProductDescription") == map_product(by_sku[sku])["ProductDescription"]
    ]
    return {
        "total": len(items),
        "live": len(live),
        "at_seko": len(at_seko),
        "live_at_seko": sum(1 for sku in live if sku in at_seko),
        "invalid": len(_open(catalogue.ITEM_INVALID)),
        "failed": len(_open(catalogue.ITEM_SYNC_FAILED)),
        "audit_mismatches": sum(len(e.problems or []) for e in _open(catalogue.ITEM_MASTER_MISMATCH)),
        "preloaded": len(_preloaded),
        "preloaded_live": len(preloaded_live),
    }
