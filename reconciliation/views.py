"""The Reconciliation screens (finance, integration admins): days with totals and a status,
a day's difference lines, a month-end summary, CSV of a day or a month, and a run on demand."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.db.models import QuerySet, Sum
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST
from django_q.tasks import async_task

from exceptions import catalogue
from exceptions.models import IntegrationException
from integration.models import SyncCursor
from integration.shared.csv_stream import csv_download
from integration.shared.roles import require
from reconciliation import rules
from reconciliation.models import Difference, ReconciliationDay, ReconciliationRun
from reconciliation.run import CURSOR, business_today, run_in_progress

DAYS_SHOWN = 62
MAX_RANGE_DAYS = 93  # an on-demand run longer than a quarter is a mistake, not a request
COLUMNS = ("sent", "dispatched", "shipped", "invoiced")
CSV_LINE_FIELDS = ("day", "kind", "description", "ord_num", "dispatch_id", "ship_num", "invoice_num", "seko_units",
                   "bc_units", "seko_value", "bc_value", "message", "exception_id", "exception_status")
CSV_DAY_FIELDS = ("day", *rules.TOTAL_FIELDS, "differences", "status", "reconciled_at")


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Http404("not a day") from None


def _month(value: str) -> tuple[date, date]:
    try:
        first = date.fromisoformat(f"{value}-01")
    except ValueError:
        raise Http404("not a month") from None
    return first, (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)


def _columns(row: Any) -> list[dict[str, Any]]:
    """The four columns of a day (or a month's sums) for the templates."""
    return [{"name": c, "orders": row[f"{c}_orders"], "units": row[f"{c}_units"], "value": row[f"{c}_value"]}
            for c in COLUMNS]


@require("view_reconciliation")
def day_list(request: HttpRequest) -> HttpResponse:
    days = list(ReconciliationDay.objects.order_by("-day")[:DAYS_SHOWN])
    month_list = sorted({d.day.strftime("%Y-%m") for d in days}, reverse=True)
    return render(request, "reconciliation/days.html", {
        "days": days, "kind": catalogue.RECON_DISCREPANCY.code, "months": month_list,
        "runs": ReconciliationRun.objects.all()[:5],
        "cursor": SyncCursor.objects.filter(name=CURSOR).first(),
        "running": run_in_progress(),
        "business_zone": settings.BUSINESS_TIME_ZONE, "today": business_today(),
        "date_from": request.GET.get("date_from", ""), "date_to": request.GET.get("date_to", ""),
    })


@require("view_reconciliation")
def day_detail(request: HttpRequest, day: str) -> HttpResponse:
    row = ReconciliationDay.objects.filter(day=_day(day)).first()
    if row is None:
        raise Http404("this day has not been reconciled")
    lines = row.lines.select_related("exception").order_by("kind", "ord_num")
    return render(request, "reconciliation/day.html", {
        "day": row, "columns": _columns(row.__dict__), "lines": lines,
    })


def month_summary(first: date, last: date) -> dict[str, Any]:
    """The month-end figures: sums of each column, days balanced or not, differences by kind and
    whether each is still open."""
    days = ReconciliationDay.objects.filter(day__range=(first, last)).order_by("day")
    sums = days.aggregate(**{f: Sum(f) for f in (*rules.TOTAL_FIELDS, "differences")})
    # SQLite sums decimals without their places: money is always shown with two.
    sums = {k: (Decimal(v or 0).quantize(Decimal("0.01")) if k.endswith("value") else (v or 0))
            for k, v in sums.items()}
    lines = list(Difference.objects.filter(day__day__range=(first, last)).order_by()
                 .values_list("kind", "ord_num", "exception_id"))
    by_kind = Counter(kind for kind, _, _ in lines)
    # The month's exceptions looked up by key: joined in SQL, SQLite walked every open exception
    # of the whole history (the status index) to find the month's few.
    open_ids = set(IntegrationException.objects.filter(
        pk__in={exception_id for _, _, exception_id in lines if exception_id},
        status=IntegrationException.Status.OPEN).values_list("pk", flat=True))
    still_open = len({ord_num for _, ord_num, exception_id in lines if exception_id in open_ids})
    day_rows = list(days)
    return {
        "first": first, "last": last, "days": day_rows, "sums": sums, "columns": _columns(sums),
        "reconciled_days": len(day_rows), "balanced_days": sum(1 for d in day_rows if d.balanced),
        "by_kind": [(kind, rules.KINDS[kind], by_kind[kind]) for kind in rules.KINDS if by_kind.get(kind)],
        "orders_open": still_open,
        "unreconciled_days": (last - first).days + 1 - len(day_rows),
    }


@require("view_reconciliation")
def month_detail(request: HttpRequest, month: str) -> HttpResponse:
    first, last = _month(month)
    return render(request, "reconciliation/month.html", {"month": month, **month_summary(first, last)})


def _line_rows(lines: QuerySet[Difference]) -> Iterator[list[Any]]:
    yield list(CSV_LINE_FIELDS)
    for line in lines.select_related("day", "exception").order_by("day__day", "ord_num", "kind").iterator():
        yield [line.day.day.isoformat(), line.kind, rules.KINDS.get(line.kind, ""), line.ord_num, line.dispatch_id,
               line.ship_num, line.invoice_num, _blank(line.seko_units), _blank(line.bc_units),
               _blank(line.seko_value), _blank(line.bc_value), line.message, line.exception_id or "",
               line.exception.status if line.exception else ""]


def _day_rows(days: QuerySet[ReconciliationDay]) -> Iterator[list[Any]]:
    yield list(CSV_DAY_FIELDS)
    for row in days.order_by("day"):
        yield [row.day.isoformat(), *[getattr(row, f) for f in rules.TOTAL_FIELDS], row.differences,
               "balanced" if row.balanced else "differences", row.reconciled_at.isoformat()]


def _blank(value: Any) -> Any:
    return "" if value is None else value


@require("view_reconciliation")
def day_export(request: HttpRequest, day: str) -> StreamingHttpResponse:
    """A day's difference lines as CSV (``?totals=1``: the day's totals instead)."""
    when = _day(day)
    if request.GET.get("totals"):
        return csv_download(_day_rows(ReconciliationDay.objects.filter(day=when)), f"reconciliation-{when}-totals.csv")
    return csv_download(_line_rows(Difference.objects.filter(day__day=when)), f"reconciliation-{when}.csv")


@require("view_reconciliation")
def month_export(request: HttpRequest, month: str) -> StreamingHttpResponse:
    """A month's difference lines as CSV (``?totals=1``: one row of totals per day instead)."""
    first, last = _month(month)
    if request.GET.get("totals"):
        return csv_download(_day_rows(ReconciliationDay.objects.filter(day__range=(first, last))),
                            f"reconciliation-{month}-totals.csv")
    return csv_download(_line_rows(Difference.objects.filter(day__day__range=(first, last))),
                        f"reconciliation-{month}.csv")


@require_POST
@require("view_reconciliation")
def run_now(request: HttpRequest) -> HttpResponse:
    """Reconcile a date range on demand: handed to a worker (a month takes a while)."""
    try:
        date_from = date.fromisoformat(request.POST.get("date_from", ""))
        date_to = date.fromisoformat(request.POST.get("date_to", "") or request.POST.get("date_from", ""))
    except ValueError:
        messages.error(request, "Give the first and last day as YYYY-MM-DD.")
        return redirect("recon_days")
    if date_to < date_from or (date_to - date_from).days >= MAX_RANGE_DAYS:
        messages.error(request, f"The last day must be on or after the first, at most {MAX_RANGE_DAYS} days on.")
        return _back_with(date_from, date_to)
    running = run_in_progress()
    if running is not None:
        # Queued now, the task would find the lock taken and do nothing: say so, keep the days.
        messages.error(request, f"Not started: a reconciliation of {running.date_from} to {running.date_to} is "
                                f"running (started {timezone.localtime(running.started_at):%Y-%m-%d %H:%M}). "
                                "Press Reconcile again once it has finished.")
        return _back_with(date_from, date_to)
    async_task("integration.tasks.reconcile", date_from.isoformat(), date_to.isoformat(), "page",
               request.user.get_username(), task_name="reconcile")
    messages.success(request, f"Reconciliation of {date_from} to {date_to} started; refresh in a minute.")
    return redirect("recon_days")


def _back_with(date_from: date, date_to: date) -> HttpResponse:
    """Back to the page with the days the person gave still in the form."""
    return redirect(f"{reverse('recon_days')}?{urlencode({'date_from': date_from, 'date_to': date_to})}")
