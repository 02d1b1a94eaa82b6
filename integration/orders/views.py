"""Orders: a list with filters, and each order's timeline of every message in and out and
every status change, with "retransmit now" for those allowed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from exceptions.models import ExceptionEvent
from integration.models import Dispatch, Order
from integration.orders import flow as order_flow
from integration.orders.filters import OrderFilter
from integration.shared.redaction import mask_secrets, pretty
from integration.shared.roles import can, require, require_or_exception_owner

SYSTEM_NAMES = {"seko": "Seko", "bluecherry": "Blue Cherry"}
# What a row of the list shows (templates/orders/_list_results.html) and nothing else: an order
# carries thirteen timestamps and Blue Cherry's whole document, each parsed or decoded per row.
LIST_FIELDS = ("ord_num", "status", "customer", "location", "ship_via", "created_at", "sent_at", "dispatched_at",
               "problems")
TIMELINE_MESSAGES = 300  # the newest exchanges shown on one order; older ones are in the admin


@dataclass
class KeysetPage:
    """One page of a newest-first list, addressed by the id it continues from (no COUNT(*), and
    the same cost on page 1 and page 10,000)."""

    rows: list[Any]
    newer: int | None  # pass as ?before= for the page of newer rows
    older: int | None  # pass as ?after= for the page of older rows


def keyset_page(queryset, request: HttpRequest, size: int) -> KeysetPage:
    try:
        after = int(request.GET["after"]) if request.GET.get("after") else None
        before = int(request.GET["before"]) if request.GET.get("before") else None
    except ValueError:
        after = before = None  # a mangled link shows the first page rather than an error
    if before is not None:
        rows = list(queryset.filter(pk__gt=before).order_by("pk")[: size + 1])
        has_newer = len(rows) > size
        rows = list(reversed(rows[:size]))
        return KeysetPage(rows, rows[0].pk if has_newer and rows else None, rows[-1].pk if rows else None)
    if after is not None:
        queryset = queryset.filter(pk__lt=after)
    rows = list(queryset.order_by("-pk")[: size + 1])
    has_older = len(rows) > size
    rows = rows[:size]
    return KeysetPage(rows, rows[0].pk if after is not None and rows else None, rows[-1].pk if has_older else None)


@require_GET
@require("view_orders")
def order_list(request: HttpRequest) -> HttpResponse:
    filterset = OrderFilter(request.GET, queryset=Order.objects.only(*LIST_FIELDS))
    page = keyset_page(filterset.qs, request, settings.DASHBOARD_PAGE_SIZE)
    context = {"filter": filterset, "page": page}
    partial = request.htmx and not request.htmx.boosted
    return render(request, "orders/_list_results.html" if partial else "orders/list.html", context)


@dataclass
class TimelineEntry:
    at: datetime
    what: str  # "status" | "message" | "exception"
    title: str
    note: str = ""
    detail: dict[str, str] | None = None
    css: str = ""


def timeline(order: Order) -> list[TimelineEntry]:
    """Status changes, messages in and out, and the history of its exceptions, oldest first."""
    entries = [
        TimelineEntry(e.at, "status", f"{e.from_status or '—'} → {e.to_status}" if e.from_status != e.to_status
                      else e.to_status, e.note, css=f"st-{e.to_status}")
        for e in order.events.all()
    ]
    for m in order.messages.order_by("-created_at", "-id")[:TIMELINE_MESSAGES]:
        failed = bool(m.error) or (m.status_code or 0) >= 400
        entries.append(TimelineEntry(
            m.created_at, "message",
            f"{'→' if m.direction == 'out' else '←'} {SYSTEM_NAMES.get(m.system, m.system)} {m.operation} "
            f"{m.status_code or ''}".strip(),
            m.error, css="bad" if failed else "",
            detail={"url": f"{m.method} {mask_secrets(m.url)}", "request": pretty(m.request_body),
                    "response": pretty(m.response_body), "took": f"{m.duration_ms} ms"},
        ))
    for ev in ExceptionEvent.objects.filter(exception__order=order).select_related("exception", "actor"):
        who = ev.actor.username if ev.actor else "the integration"
        entries.append(TimelineEntry(ev.at, "exception", f"{ev.exception.kind}: {ev.action} by {who}", ev.note,
                                     css="exc"))
    return sorted(entries, key=lambda e: e.at)


@dataclass(frozen=True)
class BlueCherryStatus:
    status: str
    how_known: str


def bluecherry_status(order: Order, posted: Dispatch | None) -> BlueCherryStatus:
    """What Blue Cherry holds for the order now. ``bc_status`` is only what the last pull saw
    (RELEASED for every order we send), so what we told it since (the pick ticket moves it to
    PICKING, the posted shipment to INVOICED) is the better answer when there is one."""
    if order.status == Order.Status.CANCELLED or order.bc_status == "CANCELLED":
        return BlueCherryStatus(order.bc_status or "CANCELLED", "cancelled in Blue Cherry")
    if posted is not None:
        when = f" {posted.posted_at:%Y-%m-%d %H:%M}" if posted.posted_at else ""
        return BlueCherryStatus("INVOICED", f"shipment {posted.bc_ship_num or posted.dispatch_id} posted{when}")
    if order.pick_ticket_at is not None:
        return BlueCherryStatus("PICKING", f"pick ticket told {order.pick_ticket_at:%Y-%m-%d %H:%M}")
    return BlueCherryStatus(order.bc_status, "as Blue Cherry last returned it")


@require_GET
@require_or_exception_owner("view_orders", ord_num_kwarg="ord_num")  # the data team opens the orders its SKUs hold
def order_detail(request: HttpRequest, ord_num: str) -> HttpResponse:
    order = get_object_or_404(Order, ord_num=ord_num)
    context = {
        "order": order,
        "bluecherry": bluecherry_status(order, order.dispatches.filter(status=Dispatch.Status.POSTED)
                                        .order_by("-posted_at", "-id").first()),
        "lines": order.lines.all(),
        "can_view_items": can(request.user, "view_items"),
        "open_exceptions": order.exceptions.filter(status="open"),
        "timeline": timeline(order),
        "can_retransmit": can(request.user, "retransmit_orders") and order.status in order_flow.RETRANSMITTABLE,
        "raw": pretty_json(order.raw),
    }
    return render(request, "orders/detail.html", context)


@require_POST
@require("retransmit_orders")
def order_retransmit(request: HttpRequest, ord_num: str) -> HttpResponse:
    order = get_object_or_404(Order, ord_num=ord_num)
    try:
        after = order_flow.retransmit_order(order, who=request.user.username)
    except order_flow.ActionRefused as refused:
        messages.error(request, str(refused))
    else:
        outcome = {
            Order.Status.SENT: "sent to Seko",
            Order.Status.QUARANTINED: "checked again and still quarantined: see its problems",
            Order.Status.REJECTED: "sent, and Seko rejected it: see its exception",
            Order.Status.RECEIVED: "not sent yet (Seko did not answer); the workers retry it",
            Order.Status.CANCELLED: "cancelled (Blue Cherry has it cancelled)",
        }.get(after.status, after.get_status_display())
        level = messages.success if after.status == Order.Status.SENT else messages.warning
        level(request, f"Order {order.ord_num} re-fetched from Blue Cherry: {outcome}.")
    return redirect("order_detail", ord_num=ord_num)


def pretty_json(value: Any) -> str:
    return pretty(json.dumps(value))
