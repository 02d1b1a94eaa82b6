"""The item master in the demo (issue 4): when the items have settled, the audit of both
item masters, and the ``items`` block of the headless report, counted from the simulators."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from exceptions import catalogue
from exceptions.models import IntegrationException
from integration.demo.seed import bluecherry_items
from integration.models import Item
from reconciliation.item_audit import run_item_audit
from simulators.launcher import RunningSimulator

Sync = Item.SyncStatus


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
    products, page = [], 1
    while page:
        body = seko.control("GET", f"products/v4/all?page={page}&pageSize=1000")
        products.extend((body.get("List") or {}).get("ProductMaster") or [])
        page = body.get("NextPage")
    return products


def _open(kind: catalogue.Kind) -> list[IntegrationException]:
    return list(IntegrationException.objects.filter(kind=kind.code, status=IntegrationException.Status.OPEN))


def report(bluecherry: RunningSimulator, seko: RunningSimulator) -> dict[str, int]:
    """``total`` and ``live`` are Blue Cherry's own figures, ``at_seko`` and ``live_at_seko``
    Seko's; ``invalid``, ``failed`` and ``audit_mismatches`` are the open exceptions (one per
    SKU; mismatches count every finding)."""
    items = bluecherry_items(bluecherry)
    at_seko = {str(p.get("ProductCode")) for p in seko_products(seko)}
    live = [item["sku"] for item in items if item["status"] == "LIVE"]
    return {
        "total": len(items),
        "live": len(live),
        "at_seko": len(at_seko),
        "live_at_seko": sum(1 for sku in live if sku in at_seko),
        "invalid": len(_open(catalogue.ITEM_INVALID)),
        "failed": len(_open(catalogue.ITEM_SYNC_FAILED)),
        "audit_mismatches": sum(len(e.problems or []) for e in _open(catalogue.ITEM_MASTER_MISMATCH)),
    }
