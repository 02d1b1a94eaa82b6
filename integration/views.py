"""The first screens: a home page with the state of the flows. The full dashboard lives in
exceptions/ and reconciliation/ views as it grows."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from exceptions.models import IntegrationException
from integration.models import Order, SyncCursor


@login_required
def home(request: HttpRequest) -> HttpResponse:
    orders_by_status = dict(Order.objects.values_list("status").annotate(n=Count("id")).order_by())
    open_by_kind = (
        IntegrationException.objects.filter(status=IntegrationException.Status.OPEN)
        .values("kind", "owner")
        .annotate(n=Count("id"))
        .order_by("-n")
    )
    context = {
        "orders_by_status": [(label, orders_by_status.get(value, 0)) for value, label in Order.Status.choices],
        "open_by_kind": open_by_kind,
        "cursors": SyncCursor.objects.order_by("name"),
    }
    return render(request, "home.html", context)


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for the demo supervisor and load balancers: the app answers and the DB is reachable."""
    return JsonResponse({"ok": True, "orders": Order.objects.count()})
