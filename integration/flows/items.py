"""Flow 1, item master (so far: the mirror). Blue Cherry's items are pulled with a cursor into
``Item`` rows, which order pre-validation reads. A SKU that becomes LIVE releases every order
that was quarantined for it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from integration import cursors
from integration.clients import bluecherry_client
from integration.clients.errors import NotFound
from integration.models import Item

log = logging.getLogger(__name__)

CURSOR = "items"


def pull_items() -> tuple[int, int]:
    """Pull new and changed items; returns (seen, applied)."""
    with bluecherry_client() as client:
        return cursors.pull(CURSOR, lambda since: client.iter_items(updated_since=since), apply_item)


def apply_item(payload: dict[str, Any]) -> bool:
    """Upsert one item from Blue Cherry; False when this version was already applied."""
    sku = str(payload.get("sku") or "").strip()
    try:
        updated_at = cursors.parse_timestamp(payload.get("updated_at"))
    except ValueError as error:
        raise cursors.MalformedRecord(str(error), key=sku) from error
    if not sku:
        raise cursors.MalformedRecord("the item has no sku")
    existing = Item.objects.filter(sku=sku).first()
    if existing is not None and existing.bc_updated_at >= updated_at:
        return False
    became_live = payload.get("status") == Item.BCStatus.LIVE and (
        existing is None or existing.bc_status != Item.BCStatus.LIVE
    )
    Item.objects.update_or_create(
        sku=sku,
        defaults={
            "upc": str(payload.get("upc") or ""),
            "description": " ".join(
                p for p in (payload.get("style_name"), payload.get("color_name"), payload.get("size")) if p
            ),
            "style": str(payload.get("style") or ""),
            "color_code": str(payload.get("color_code") or ""),
            "size": str(payload.get("size") or ""),
            "bc_status": str(payload.get("status") or ""),
            "bc_updated_at": updated_at,
            "raw": payload,
        },
    )
    if became_live:
        from integration.flows.orders import release_orders_blocked_by_sku

        release_orders_blocked_by_sku(sku)
    return True


def sku_statuses(skus: Iterable[str]) -> dict[str, str | None]:
    """Blue Cherry status of each SKU, from the mirror; a SKU the mirror lacks is fetched
    directly (it may have been created since the last pull). None: Blue Cherry does not know it."""
    wanted = set(skus)
    known = dict(Item.objects.filter(sku__in=wanted).values_list("sku", "bc_status"))
    missing = wanted - known.keys()
    if missing:
        client = bluecherry_client()
        for sku in sorted(missing):
            try:
                payload = client.get_item(sku)
            except NotFound:
                known[sku] = None
                continue
            apply_item(payload)
            known[sku] = str(payload.get("status") or "")
    return known
