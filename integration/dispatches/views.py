"""Screens of the dispatch flow: the CX overdue page, and a quarantined dispatch's form where
ops fill in a missing dispatch date, carrier or tracking number and release it (which posts it)."""

from __future__ import annotations

from datetime import UTC

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from exceptions import catalogue
from exceptions.models import IntegrationException
from exceptions.services import ActionRefused
from integration.dispatches import flow as dispatch_flow
from integration.dispatches import overdue as overdue_monitor
from integration.dispatches import overdue_words
from integration.models import Dispatch, Order
from integration.shared.roles import can, may_act_on_exception, require


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
    """Orders released in Blue Cherry and not dispatched within their SLA, wherever they are, oldest first."""
    return _overdue_page(request)


def _overdue_page(request: HttpRequest, *, refused: str = "", refused_order: str = "",
                  kept: dict[str, str] | None = None, status: int = 200) -> HttpResponse:
    now = timezone.now()
    rows = overdue_monitor.overdue_orders(now)
    alert_ids = {
        e.order_id: e.pk for e in IntegrationException.objects.filter(
            kind="dispatch.overdue", status="open", order_id__in=[r.order.pk for r in rows])
    }
    shipping = overdue_words.shipping_of([r.order for r in rows])
    may_promise = may_act_on_exception(request.user, catalogue.DISPATCH_OVERDUE.owner.value)
    context = {
        "rows": [{"item": r, "url": order_url(request, r.order.ord_num), "stage": r.stage,
                  "alert_url": reverse("exception_detail", args=[alert_ids[r.order.pk]])
                  if r.order.pk in alert_ids else "",
                  "shipping": shipping[r.order.ord_num]}
                 for r in rows],
        "may_promise": may_promise,
        "refused": refused, "refused_order": refused_order, "kept": kept or {},
        "poll_within": overdue_words.poll_collects_within(),
        "recheck_minutes": settings.OVERDUE_RECHECK_MINUTES,
    }
    return render(request, "dispatches/overdue.html", context, status=status)


@require_POST
@require("view_overdue")
def overdue_promise(request: HttpRequest, ord_num: str) -> HttpResponse:
    """CX records the later dispatch time agreed with the customer (the row's form)."""
    order = get_object_or_404(Order, ord_num=ord_num)
    kept = {"until": request.POST.get("until", ""), "note": request.POST.get("note", "")}
    if not may_act_on_exception(request.user, catalogue.DISPATCH_OVERDUE.owner.value):
        return _overdue_page(request, refused="Only CX, ops and integration admins may promise a new dispatch time. "
                                              "Nothing was changed.", refused_order=ord_num, kept=kept, status=403)
    until = parse_datetime(kept["until"]) if kept["until"] else None
    if until is None:
        return _overdue_page(request, refused="Give the new promised time as a date and time (UTC). Nothing was "
                                              "changed.", refused_order=ord_num, kept=kept, status=400)
    if timezone.is_naive(until):
        until = timezone.make_aware(until, UTC)
    try:
        done = overdue_monitor.promise_later(order, request.user, until, kept["note"])
    except ActionRefused as refused:
        return _overdue_page(request, refused=str(refused), refused_order=ord_num, kept=kept, status=409)
    messages.success(request, done)
    return redirect("overdue")


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
        _, refusals = dispatch_flow.read_fill(fill)
        if refusals:  # nothing is released; what was typed stays in the form to be corrected
            for why in refusals:
                messages.error(request, f"Not released: {why}")
            return render(request, "dispatches/detail.html", _detail_context(request, dispatch, fill), status=400)
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
    return render(request, "dispatches/detail.html", _detail_context(request, dispatch))


def _detail_context(request: HttpRequest, dispatch: Dispatch, typed: dict[str, str] | None = None) -> dict:
    """The dispatch as it is checked, and its release form: what was typed (when it was refused)
    or the values it holds now, with the order's own values offered beside each field."""
    effective = dispatch.effective
    held = {key: dispatch_flow.text(effective.get(key)) for key in dispatch_flow.FILLABLE}
    shown = typed if typed is not None else held
    offers = dispatch_flow.offered_values(dispatch) if dispatch.status == Dispatch.Status.QUARANTINED else {}
    return {
        "dispatch": dispatch,
        "effective": effective,
        "lines": (effective.get("List") or {}).get("DispatchLineItem") or [],
        "fill": held,
        "release_fields": [{"key": key, "label": label, "hint": hint, "value": shown.get(key, ""),
                            "offers": offers.get(key, [])} for key, label, hint in RELEASE_FIELDS],
        "order_url": order_url(request, dispatch.ord_num) if dispatch.order_id else "",
    }


# The release form's fields (dispatch_flow.FILLABLE), as people know them.
RELEASE_FIELDS = (
    ("DispatchDate", "Dispatch date (UTC)", "YYYY-MM-DD, or YYYY-MM-DD HH:MM"),
    ("CourierName", "Carrier (Seko courier name)", ""),
    ("CourierService", "Carrier service (Seko courier service)", ""),
    ("TrackingNumber", "Tracking number", ""),
)
