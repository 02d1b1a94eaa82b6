"""The Stock page: per SKU the free (sellable) stock, the units held in location types not for
sale, the buffer and why, the last published figure, drift.

Sized for 100,000 SKUs: keyset pages on (sku, dc_code), no COUNT over the table on every load
(PITFALLS.md), filters that use the unique index.
"""

from __future__ import annotations

from django.conf import settings
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from integration.models import AtsPublication, StockPosition, StockSnapshot
from integration.shared.roles import require
from integration.stock.flow import buffer_params

PAGE_SIZE = 100
# What a row shows (templates/stock/positions.html), and nothing else: a hundred rows of every
# column cost nine timestamps parsed a row, and each row's publication carried the figures of its
# whole batch (every SKU of it), decoded once a row: more than the rest of the page together.
SHOWN_FIELDS = ("sku", "dc_code", "free", "held", "buffer", "buffer_reason", "velocity", "available", "published_qty",
                "publish_error", "last_correction", "bc_drift", "publication__status")


@require("view_stock")
def stock_positions(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    show = request.GET.get("show", "")
    after = request.GET.get("after", "")
    rows = StockPosition.objects.select_related("publication").only(*SHOWN_FIELDS).order_by("sku", "dc_code")
    if q:
        rows = rows.filter(sku__istartswith=q)
    if show == "drift":
        rows = rows.filter(Q(last_correction__gt=settings.STOCK_DRIFT_TOLERANCE)
                           | Q(last_correction__lt=-settings.STOCK_DRIFT_TOLERANCE)
                           | Q(bc_drift__gt=settings.STOCK_DRIFT_TOLERANCE)
                           | Q(bc_drift__lt=-settings.STOCK_DRIFT_TOLERANCE))
    elif show == "unpublished":
        rows = rows.filter(Q(published_qty__isnull=True) | ~Q(publication__status=AtsPublication.Status.APPLIED))
    elif show == "held":
        rows = rows.filter(buffer__gt=0)
    elif show == "not_for_sale":
        rows = rows.filter(held_units__gt=0)
    if after:
        rows = rows.filter(sku__gt=after)
    page = list(rows[: PAGE_SIZE + 1])
    for position in page:  # Seko's location types not for sale, largest first
        position.held_by_type = sorted((position.held or {}).items(), key=lambda item: (-item[1], item[0]))
    next_after = page[PAGE_SIZE - 1].sku if len(page) > PAGE_SIZE else ""
    params = buffer_params()
    context = {
        "positions": page[:PAGE_SIZE],
        "next_after": next_after,
        "q": q,
        "show": show,
        "params": params,
        "sellable_types": [t.strip() for t in settings.SEKO_SELLABLE_LOCATION_TYPES.split(",") if t.strip()],
        "lag_minutes": round(params.lag_hours * 60, 1),
        "settings": {
            "window_hours": settings.STOCK_VELOCITY_WINDOW_HOURS,
            "push_minutes": settings.STOCK_PUSH_INTERVAL_MINUTES,
            "cycle_minutes": settings.BLUECHERRY_BATCH_CYCLE_MINUTES,
            "tolerance": settings.STOCK_DRIFT_TOLERANCE,
        },
        "snapshot": StockSnapshot.objects.filter(finished_at__isnull=False).first(),
        "queued": AtsPublication.objects.filter(status=AtsPublication.Status.QUEUED).count(),
        "failed": AtsPublication.objects.filter(status=AtsPublication.Status.FAILED).count(),
        "last_publication": AtsPublication.objects.defer("positions", "errors").first(),
    }
    return render(request, "stock/positions.html", context)
