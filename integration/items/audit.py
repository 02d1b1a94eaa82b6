"""Item-master audit: Blue Cherry's item master against Seko's products (DESIGN.md, flow 1
and reconciliation). Here rather than in the items flow because it is a check of both
systems' own records, read from their APIs, not a step of moving items: it catches what the
flow cannot see (a product edited or removed at Seko by hand, a mirror that drifted).

``compare_item_masters`` is pure; ``run_item_audit`` reads both masters in full, then raises
one ``item.master_mismatch`` per SKU listing every finding, and closes those a later audit no
longer finds. Nothing is written until both reads have completed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.utils import timezone

from exceptions import catalogue
from exceptions import services as queue
from exceptions.models import IntegrationException
from integration.items.mapper import describe
from integration.models import SyncCursor
from integration.shared import messagelog
from integration.shared.systems import bluecherry_client, seko_client

AUDIT_NAME = "items.audit"  # its SyncCursor row records when the audit last ran and succeeded

MISSING_AT_SEKO = "missing_at_seko"
EAN_MISMATCH = "ean_mismatch"
DESCRIPTION_MISMATCH = "description_mismatch"
WEIGHT_MISMATCH = "weight_mismatch"
UNKNOWN_IN_BLUECHERRY = "unknown_in_bluecherry"
DISCONTINUED_IN_BLUECHERRY = "discontinued_in_bluecherry"
FINDINGS = (MISSING_AT_SEKO, EAN_MISMATCH, DESCRIPTION_MISMATCH, WEIGHT_MISMATCH, UNKNOWN_IN_BLUECHERRY,
            DISCONTINUED_IN_BLUECHERRY)


@dataclass(frozen=True)
class Finding:
    sku: str
    finding: str  # one of FINDINGS
    message: str
    bluecherry: str = ""
    seko: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"kind": catalogue.ITEM_MASTER_MISMATCH.code, "finding": self.finding, "message": self.message,
                "value": self.sku, "bluecherry": self.bluecherry, "seko": self.seko}


def _text(value: Any) -> str:
    return "" if value is None else " ".join(str(value).split())


def _weight(value: Any) -> Decimal | None:
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def compare_item_masters(bc_items: Iterable[Mapping[str, Any]], seko_products: Iterable[Mapping[str, Any]],
                         weight_tolerance: Decimal = Decimal("0.0005")) -> list[Finding]:
    """Every disagreement between the two masters, by SKU (pure).

    Blue Cherry items that are not for the warehouse yet (DRAFT, or PENDING_WMS not yet at
    Seko) are not findings: the item flow is still to send them."""
    bluecherry = {_text(item.get("sku")): item for item in bc_items if _text(item.get("sku"))}
    seko = {_text(p.get("ProductCode")): p for p in seko_products if _text(p.get("ProductCode"))}
    findings: list[Finding] = []
    for sku in sorted(bluecherry.keys() | seko.keys()):
        item, product = bluecherry.get(sku), seko.get(sku)
        if item is None:
            findings.append(Finding(
                sku, UNKNOWN_IN_BLUECHERRY,
                f"Seko has a product {sku} that Blue Cherry does not know: retire it at Seko, or set the item up.",
                seko=_text(product.get("ProductDescription")) if product else "",
            ))
            continue
        status = _text(item.get("status"))
        if product is None:
            if status == "LIVE":
                findings.append(Finding(
                    sku, MISSING_AT_SEKO,
                    f"{sku} is LIVE in Blue Cherry but Seko has no such product: the warehouse cannot receive "
                    "or pick it.", bluecherry=status,
                ))
            continue
        if status == "DISCONTINUED":
            findings.append(Finding(
                sku, DISCONTINUED_IN_BLUECHERRY,
                f"{sku} is discontinued in Blue Cherry but still a product at Seko.", bluecherry=status,
            ))
            continue
        if status not in ("LIVE", "PENDING_WMS"):
            continue
        findings.extend(_field_findings(sku, item, product, weight_tolerance))
    return findings


def _field_findings(sku: str, item: Mapping[str, Any], product: Mapping[str, Any],
                    tolerance: Decimal) -> list[Finding]:
    found = []
    upc, ean = _text(item.get("upc")), _text(product.get("EAN"))
    if upc != ean:
        found.append(Finding(sku, EAN_MISMATCH,
                             f"{sku}: EAN at Seko is '{ean}', UPC in Blue Cherry is '{upc}'.", upc, ean))
    ours, theirs = describe(item), _text(product.get("ProductDescription"))
    if ours != theirs:
        found.append(Finding(sku, DESCRIPTION_MISMATCH,
                             f"{sku}: description at Seko is '{theirs}', in Blue Cherry '{ours}'.", ours, theirs))
    kg, gross = _weight(item.get("weight_kg")), _weight(product.get("GrossWeight"))
    if kg is None or gross is None or abs(kg - gross) > tolerance:
        found.append(Finding(
            sku, WEIGHT_MISMATCH,
            f"{sku}: weight at Seko is {_text(product.get('GrossWeight')) or 'missing'} kg, in Blue Cherry "
            f"{_text(item.get('weight_kg')) or 'missing'} kg.",
            _text(item.get("weight_kg")), _text(product.get("GrossWeight")),
        ))
    return found


def run_item_audit() -> dict[str, int]:
    """Compare both item masters now; returns counts."""
    cursor, _ = SyncCursor.objects.get_or_create(name=AUDIT_NAME)
    started = timezone.now()
    SyncCursor.objects.filter(pk=cursor.pk).update(last_run_at=started)
    try:
        with bluecherry_client() as bc, seko_client() as seko, messagelog.buffered():
            bc_items = list(bc.iter_items(page_size=500))
            products = list(seko.iter_products())
    except Exception as error:
        SyncCursor.objects.filter(pk=cursor.pk).update(last_error=str(error)[:2000])
        raise
    findings = compare_item_masters(bc_items, products,
                                    Decimal(str(settings.ITEM_AUDIT_WEIGHT_TOLERANCE_KG)))
    by_sku: dict[str, list[Finding]] = {}
    for finding in findings:
        by_sku.setdefault(finding.sku, []).append(finding)
    for sku, found in by_sku.items():
        queue.raise_exception(
            catalogue.ITEM_MASTER_MISMATCH, catalogue.sku_key(sku),
            "Item master audit: " + " ".join(f.message for f in found),
            problems=[f.as_dict() for f in found], sku=sku,
        )
    found_keys = {catalogue.sku_key(sku) for sku in by_sku}
    still_open = set(IntegrationException.objects.filter(
        kind=catalogue.ITEM_MASTER_MISMATCH.code, status=IntegrationException.Status.OPEN,
    ).values_list("trace_key", flat=True))
    closed = sum(queue.auto_resolve(key, [catalogue.ITEM_MASTER_MISMATCH], "A later audit no longer found it")
                 for key in sorted(still_open - found_keys))
    SyncCursor.objects.filter(pk=cursor.pk).update(last_success_at=timezone.now(), last_error="")
    return {"bluecherry_items": len(bc_items), "seko_products": len(products), "findings": len(findings),
            "skus": len(by_sku), "closed": closed}


def open_findings() -> list[dict[str, Any]]:
    """The findings of the open ``item.master_mismatch`` exceptions, one row each (the Items
    page and its CSV)."""
    rows = []
    for exception in IntegrationException.objects.filter(
        kind=catalogue.ITEM_MASTER_MISMATCH.code, status=IntegrationException.Status.OPEN,
    ).order_by("sku"):
        for problem in exception.problems or []:
            rows.append({**problem, "sku": exception.sku, "exception_id": exception.pk,
                         "first_seen_at": exception.first_seen_at, "last_seen_at": exception.last_seen_at})
    return rows
