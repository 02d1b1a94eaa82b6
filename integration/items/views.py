"""The Items screen (issue 4): sync status per SKU with filters, the audit findings, and both
as CSV. Keyset pages by SKU (no COUNT over the whole item master on every load); the counts
per status are summed from the counter the database keeps (items/sync_status_counts.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from exceptions import catalogue
from exceptions.models import IntegrationException
from integration.items.audit import AUDIT_NAME, open_findings
from integration.items.sync_status_counts import ITEMS_BY_SYNC_STATUS
from integration.models import Item, Order, SyncCursor
from integration.shared.csv_stream import csv_download
from integration.shared.roles import require, require_or_exception_owner

PAGE_SIZE = 100
HELD_ORDERS_SHOWN = 50
# What Blue Cherry holds for an item and Seko's product needs, as its API names them (item.raw).
BLUECHERRY_FIELDS = (("style_name", "Description"), ("upc", "UPC"), ("hs_number", "HS code"),
                     ("country_of_origin", "Country of origin"), ("weight_kg", "Weight (kg)"),
                     ("retail_price", "Retail price"), ("currency", "Currency"), ("status", "Blue Cherry status"))
Sync = Item.SyncStatus


def filtered_items(params: Any) -> QuerySet[Item]:
    """Items matching the screen's filters: ``q`` (SKU or UPC starts with), ``status`` (sync
    status), ``bc_status`` (Blue Cherry's)."""
    rows = Item.objects.order_by("sku")
    q = (params.get("q") or "").strip()
    if q:
        rows = rows.filter(Q(sku__istartswith=q) | Q(upc__startswith=q))
    if params.get("status") in Sync.values:
        rows = rows.filter(sync_status=params["status"])
    if params.get("bc_status") in Item.BCStatus.values:
        rows = rows.filter(bc_status=params["bc_status"])
    return rows


@require("view_items")
def item_list(request: HttpRequest) -> HttpResponse:
    rows = filtered_items(request.GET)
    after = request.GET.get("after", "")
    if after:
        rows = rows.filter(sku__gt=after)
    page = list(rows.only("sku", "description", "upc", "bc_status", "sync_status", "seko_acknowledged_at",
                          "live_at", "problems", "last_error", "sync_changed_at")[: PAGE_SIZE + 1])
    counts = ITEMS_BY_SYNC_STATUS.counts(connection)
    context = {
        "items": page[:PAGE_SIZE],
        "next_after": page[PAGE_SIZE - 1].sku if len(page) > PAGE_SIZE else "",
        "q": request.GET.get("q", ""),
        "status": request.GET.get("status", ""),
        "bc_status": request.GET.get("bc_status", ""),
        "statuses": [(value, label, counts.get(value, 0)) for value, label in Sync.choices],
        "bc_statuses": Item.BCStatus.values,
        "findings": open_findings(),
        "audit": SyncCursor.objects.filter(name=AUDIT_NAME).first(),
        "pull": SyncCursor.objects.filter(name="items").first(),
        "query": request.GET.urlencode(),
    }
    return render(request, "items/list.html", context)


@require_GET
@require_or_exception_owner("view_items", sku_kwarg="sku")
def item_detail(request: HttpRequest, sku: str) -> HttpResponse:
    """One item: what Blue Cherry holds for it, why it is not LIVE (every problem), the exceptions
    about it and the orders it holds."""
    item = get_object_or_404(Item, sku=sku)
    exceptions = IntegrationException.objects.filter(Q(sku=sku) | Q(trace_key=catalogue.sku_key(sku))) \
        .select_related("order").order_by("-status", "-last_seen_at")[:50]
    held = list(Order.objects.filter(status=Order.Status.QUARANTINED, lines__sku=sku).distinct()
                .order_by("bc_updated_at", "id").only("ord_num", "status", "bc_updated_at")[:HELD_ORDERS_SHOWN + 1])
    context = {
        "item": item,
        "bc": {label: item.raw.get(name, "") for name, label in BLUECHERRY_FIELDS},
        "exceptions": exceptions,
        "held_orders": held[:HELD_ORDERS_SHOWN],
        "more_held": len(held) > HELD_ORDERS_SHOWN,
    }
    return render(request, "items/detail.html", context)


@require("view_items")
def item_export(request: HttpRequest) -> StreamingHttpResponse:
    """The filtered items as CSV, streamed (the whole item master may be asked for)."""

    def rows() -> Iterator[list[Any]]:
        yield ["sku", "description", "upc", "bluecherry_status", "sync_status", "seko_acknowledged_at", "live_at",
               "problems", "last_error"]
        for item in filtered_items(request.GET).iterator(chunk_size=2000):
            yield [item.sku, item.description, item.upc, item.bc_status, item.sync_status,
                   item.seko_acknowledged_at or "", item.live_at or "",
                   " ".join(p.get("message", "") for p in item.problems or []), item.last_error]

    return csv_download(rows(), "items.csv")


@require("view_items")
def finding_export(request: HttpRequest) -> StreamingHttpResponse:
    """The open audit findings as CSV, one row per finding."""

    def rows() -> Iterator[list[Any]]:
        yield ["sku", "finding", "bluecherry", "seko", "message", "first_seen_at", "last_seen_at", "exception_id"]
        for row in open_findings():
            yield [row["sku"], row.get("finding", ""), row.get("bluecherry", ""), row.get("seko", ""),
                   row.get("message", ""), row["first_seen_at"], row["last_seen_at"], row["exception_id"]]

    return csv_download(rows(), "item-audit-findings.csv")
