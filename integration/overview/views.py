"""The overview (home) and the health check."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from integration.models import Order
from integration.overview import figures as overview
from integration.shared import worker_health
from integration.shared.roles import require


def overview_context() -> dict:
    flows, backlog = overview.flow_health()
    chart, sent_total, dispatched_total = overview.sent_vs_dispatched_chart()
    orders_by_status = overview.orders_by_status()
    by_owner = overview.open_exceptions_by("owner")
    return {
        "open_total": sum(row["n"] for row in by_owner),
        "flows": flows,
        "backlog": backlog,
        "by_kind": overview.kinds_with_titles(overview.open_exceptions_by("kind")),
        "by_owner": by_owner,
        "chart": chart, "sent_total": sent_total, "dispatched_total": dispatched_total,
        "chart_hours": overview.CHART_HOURS,
        "oldest": overview.oldest_open(),
        "orders_by_status": [(value, label, orders_by_status.get(value, 0)) for value, label in Order.Status.choices],
        "workers": worker_health.workers_state(),
    }


@require_GET
@require("view_overview")
def home(request: HttpRequest) -> HttpResponse:
    # htmx refreshes the live panels every 30 s with the same view, rendering only the partial.
    template = "_overview_live.html" if request.htmx else "home.html"
    return render(request, template, overview_context())


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for the demo supervisor and load balancers: the app answers and the DB is
    reachable. Cheap on purpose (no COUNT over a large table): it is polled often."""
    Order.objects.exists()
    return JsonResponse({"ok": True})


@require_GET
def healthz_workers(request: HttpRequest) -> JsonResponse:
    """For the company's monitor: 200 while the workers' heartbeat is recent, 503 saying how old it
    is (or that there never was one) otherwise. Open like /healthz: it tells only the beat's age."""
    state = worker_health.workers_state()
    return JsonResponse({
        "ok": state.healthy,
        "last_beat": state.last_beat.isoformat() if state.last_beat else None,
        "age_seconds": int(state.age.total_seconds()) if state.age is not None else None,
        "healthy_within_seconds": int(state.healthy_within.total_seconds()),
        "message": state.summary,
    }, status=200 if state.healthy else 503)
