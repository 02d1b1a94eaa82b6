"""Screens of the dispatch flow: the CX overdue page, and a quarantined dispatch's form where
ops fill in a missing carrier or tracking number and release it (which posts it)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from exceptions import alerts
from exceptions.models import IntegrationException
from integration import overdue as overdue_words
from integration.flows import dispatches as dispatch_flow
from integration.models import Dispatch
from integration.roles import can, require


def order_url(request: HttpRequest, ord_num: str) -> str:
    """The order's page with its timeline, for a user who may see it ("" otherwise)."""
    if not can(request.user, "view_orders"):
        return ""
    try:
        return reverse("order_detail", args=[ord_num])
    except NoReverseMatch:  # the orders screens are not installed
        return ""


@require_GET
@require("view_overdue")
def overdue(request: HttpRequest) -> HttpResponse:
    """Orders sent for fulfilment and not dispatched within their SLA, oldest first."""
    now = timezone.now()
    rows = alerts.overdue_orders(now)
    statuses = {
        e.order_id: (e.problems[0].get("value") if e.problems else "")
        for e in IntegrationException.objects.filter(kind="dispatch.overdue", status="open",
                                                     order_id__in=[r.order.pk for r in rows])
    }
    shipping = overdue_words.shipping_of([r.order for r in rows])
    context = {
        "rows": [{"item": r, "url": order_url(request, r.order.ord_num),
                  "seko_status": overdue_words.seko_status_in_words(statuses.get(r.order.pk, "")),
                  "shipping": shipping[r.order.ord_num]}
                 for r in rows],
    }
    return render(request, "dispatches/overdue.html", context)


@require_http_methods(["GET", "POST"])
@require("act_on_exceptions")
def dispatch_detail(request: HttpRequest, dispatch_id: str) -> HttpResponse:
    dispatch = get_object_or_404(Dispatch.objects.select_related("order"), dispatch_id=dispatch_id)
    if request.method == "POST":
        if dispatch.status != Dispatch.Status.QUARANTINED:
            messages.info(request, f"Dispatch {dispatch.dispatch_id} is {dispatch.get_status_display().lower()}; "
                                   "nothing to release.")
            return redirect("dispatch_detail", dispatch_id=dispatch.dispatch_id)
        fill = {key: request.POST.get(key, "") for key in dispatch_flow.FILLABLE}
        result = dispatch_flow.release_dispatch(dispatch, request.user, fill)
        if result.status == Dispatch.Status.POSTED:
            messages.success(request, f"Dispatch {result.dispatch_id} posted to Blue Cherry as shipment "
                                      f"{result.bc_ship_num} (invoice {result.bc_invoice_num}).")
        elif result.status == Dispatch.Status.QUARANTINED:
            messages.error(request, "Still not posted: " + " ".join(p["message"] for p in result.problems))
        else:
            messages.info(request, f"Blue Cherry did not answer; the dispatch will be posted on its own "
                                   f"({result.last_error}).")
        return redirect("dispatch_detail", dispatch_id=result.dispatch_id)
    effective = dispatch.effective
    context = {
        "dispatch": dispatch,
        "effective": effective,
        "lines": (effective.get("List") or {}).get("DispatchLineItem") or [],
        "fill": {key: dispatch_flow.text(effective.get(key)) for key in dispatch_flow.FILLABLE},
        "order_url": order_url(request, dispatch.ord_num) if dispatch.order_id else "",
    }
    return render(request, "dispatches/detail.html", context)
