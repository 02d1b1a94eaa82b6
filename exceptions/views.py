"""The exception queue and an exception's detail, with the actions a person takes on them.

Actions are POSTs (CSRF-checked), go through exceptions.services (which records who and when),
and redirect back with a message saying what happened: a refused action says why, nothing was
written for it, and what the person typed and ticked is still there when the page comes back.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from exceptions import holds, registry, services
from exceptions.filters import ExceptionFilter
from exceptions.models import IntegrationException
from integration.models import ORDER_DOCUMENT_VIA_RELATION
from integration.shared.csv_stream import csv_download
from integration.shared.redaction import pretty
from integration.shared.roles import can, exception_actors, may_act_on_exception, require

User = get_user_model()
OPEN = IntegrationException.Status.OPEN
RESOLVED = IntegrationException.Status.RESOLVED
KEPT_BULK = "exceptions.bulk_kept"  # session key: a refused bulk action's note, rows and choice


def queue_queryset():
    """Everything one page of the queue shows, in a fixed number of queries whatever its size."""
    return IntegrationException.objects.select_related("order", "assigned_to")


# What a row of the queue does not show, and would decode or carry for every row: the exception's
# payloads and problems, its order's document (they are on the exception's own page).
UNSHOWN_IN_QUEUE = ("problems", "request_payload", "response_payload", *ORDER_DOCUMENT_VIA_RELATION)


def filtered_queue(request: HttpRequest, params: QueryDict | None = None) -> ExceptionFilter:
    """The queue as the person filtered it. Unless asked otherwise it is what is still open and
    not snoozed (a snoozed exception comes back by itself when its time passes)."""
    data = (params if params is not None else request.GET).copy()
    if "status" not in data:
        data["status"] = OPEN  # the queue is what is still open, unless asked
    if data.get("status") == OPEN and "snoozed" not in data:
        data["snoozed"] = "hide"
    if not data.get("o"):
        data["o"] = "-last_seen"
    return ExceptionFilter(data, queryset=queue_queryset(), request=request)


def not_snoozed_now() -> Q:
    return Q(snoozed_until__isnull=True) | Q(snoozed_until__lte=timezone.now())


# The resolved tab counts at most this many: the resolved pile is the whole history (200,000 rows
# in a year), and counting all of it on every load of the queue cost more than the rest of the page.
RESOLVED_COUNTED = 1000


def tab_counts(request: HttpRequest) -> dict[str, Any]:
    """Open, snoozed and resolved counts under the person's other filters: two queries, each
    reading only what it counts (the open ones; at most ``RESOLVED_COUNTED`` resolved ones, then
    ``resolved_more`` says there are more)."""
    data = request.GET.copy()
    for name in ("status", "snoozed", "page", "o"):
        data.pop(name, None)
    base = ExceptionFilter(data, queryset=IntegrationException.objects.all(), request=request).qs.order_by()
    counts: dict[str, Any] = base.filter(status=OPEN).aggregate(
        open=Count("pk", filter=not_snoozed_now()),
        snoozed=Count("pk", filter=Q(snoozed_until__gt=timezone.now())),
    )
    resolved = base.filter(status=RESOLVED).values("pk")[: RESOLVED_COUNTED + 1].count()
    counts["resolved"] = min(resolved, RESOLVED_COUNTED)
    counts["resolved_more"] = resolved > RESOLVED_COUNTED
    return counts


def assignable_users():
    return User.objects.filter(is_active=True, groups__isnull=False).distinct().order_by("username")


def current_tab(filterset: ExceptionFilter) -> str:
    status, snoozed = filterset.data.get("status"), filterset.data.get("snoozed")
    if status == OPEN:
        return "snoozed" if snoozed == "only" else "open" if snoozed == "hide" else ""
    return "resolved" if status == RESOLVED else ""


@require_GET
@require("view_exceptions")
def queue(request: HttpRequest) -> HttpResponse:
    filterset = filtered_queue(request)
    page = Paginator(filterset.qs.defer(*UNSHOWN_IN_QUEUE), settings.DASHBOARD_PAGE_SIZE).get_page(
        request.GET.get("page"))
    current_sort = filterset.data.get("o", "")
    kept = request.session.pop(KEPT_BULK, None) or {}
    context = {
        "filter": filterset, "page": page, "can_act": can(request.user, "act_on_exceptions"),
        "users": assignable_users(), "current_sort": current_sort,
        # Clicking a column header sorts by it; clicking it again reverses.
        "next_sort": {name: f"-{name}" if current_sort == name else name
                      for name in ("kind", "owner", "about", "occurrences", "first_seen", "last_seen")},
        "counts": tab_counts(request), "tab": current_tab(filterset),
        "query": _filters_only(request.GET).urlencode(), "bulk_limit": services.BULK_LIMIT,
        # A refused bulk action comes back with the person's note, rows and choices as they left them.
        "kept_note": kept.get("note", ""), "kept_ids": set(kept.get("ids", [])),
        "kept_until": kept.get("until", ""), "kept_all": kept.get("all_matching", False),
        "offer_withdraw": kept.get("offer_withdraw", False),
        "kept_on_page": sum(1 for exc in page if exc.pk in kept.get("ids", [])), "now": timezone.now(),
    }
    # htmx swaps only the results when a filter changes; a plain request gets the whole page.
    partial = request.htmx and not request.htmx.boosted
    return render(request, "exceptions/_queue_results.html" if partial else "exceptions/queue.html", context)


def _filters_only(params: QueryDict) -> QueryDict:
    data = params.copy()
    data.pop("page", None)
    return data


@require_GET
@require("view_exceptions")
def export(request: HttpRequest) -> StreamingHttpResponse:
    """The queue as filtered, as CSV (every page, not just the one shown)."""
    rows = filtered_queue(request).qs.select_related("resolved_by")
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    return csv_download(_csv_rows(rows), f"exceptions-{stamp}.csv", content_type="text/csv; charset=utf-8")


EXPORT_COLUMNS = ["id", "kind", "title", "owner", "category", "status", "about", "order", "sku", "message",
                  "occurrences", "assigned_to", "first_seen_at", "last_seen_at", "snoozed_until", "resolved_at",
                  "resolved_by", "resolution_note"]


def _csv_rows(rows: QuerySet) -> Iterator[list[Any]]:
    yield EXPORT_COLUMNS
    for exc in rows.iterator(chunk_size=1000):
        kind = exc.kind_info
        yield [
            exc.pk, exc.kind, kind.title if kind else "", exc.owner, exc.category, exc.status, exc.trace_key,
            exc.order.ord_num if exc.order else "", exc.sku, _csv_safe(exc.message), exc.occurrences,
            exc.assigned_to.username if exc.assigned_to else "", _iso(exc.first_seen_at), _iso(exc.last_seen_at),
            _iso(exc.snoozed_until), _iso(exc.resolved_at), exc.resolved_by.username if exc.resolved_by else "",
            _csv_safe(exc.resolution_note),
        ]


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""


def _csv_safe(text: str) -> str:
    """A cell a spreadsheet would run as a formula (the text comes from other systems) is quoted."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


@require_GET
@require("view_exceptions")
def badge(request: HttpRequest) -> HttpResponse:
    """The open count in the nav (refreshed by htmx): what the open tab shows, snoozed left out."""
    count = IntegrationException.objects.filter(Q(status=OPEN) & not_snoozed_now()).count()
    return HttpResponse(str(count) if count else "")


@require_GET
@require("view_exceptions")
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    exception = get_object_or_404(queue_queryset(), pk=pk)
    return render(request, "exceptions/detail.html", _detail_context(request, exception))


def _detail_context(request: HttpRequest, exception: IntegrationException, **extra: Any) -> dict[str, Any]:
    kind = exception.kind_info
    return {
        "exc": exception,
        "kind": kind,
        "request_payload": pretty(exception.request_payload),
        "response_payload": pretty(exception.response_payload),
        "events": exception.events.select_related("actor"),
        "can_act": may_act_on_exception(request.user, exception.owner),
        "may_act_on_some": can(request.user, "act_on_exceptions"),
        "actors": exception_actors(exception.owner),
        "can_retry": services.retry_possible(exception),
        "snoozed": bool(exception.snoozed_until and exception.snoozed_until > timezone.now()),
        "users": assignable_users(),
        "can_view_order": can(request.user, "view_orders"),
        # --- issue 10: the manual's section for this kind, and a held dispatch's release form
        "manual_url": reverse("help") + f"#{exception.kind}",
        "dispatch_url": _dispatch_form_url(request, exception),
        # "Map this code": the mapping form for the code a mapping exception names (admins only).
        "map_code_links": registry.links_for(exception, request.user),
        **extra,
    }


def _dispatch_form_url(request: HttpRequest, exception: IntegrationException) -> str:
    """The form where a quarantined dispatch is filled in and released (issue 10: the playbooks
    of the dispatch kinds send people there), for a user who may act; "" otherwise."""
    prefix = "dispatch:"
    if not exception.trace_key.startswith(prefix) or not can(request.user, "act_on_exceptions"):
        return ""
    try:
        return reverse("dispatch_detail", args=[exception.trace_key[len(prefix):]])
    except NoReverseMatch:  # an id the URL cannot carry (a slash): the Object line still names it
        return ""


@require_POST
@require("act_on_exceptions")
def act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    exception = get_object_or_404(queue_queryset(), pk=pk)
    note = request.POST.get("note", "")
    try:
        if action == "retry":
            done = services.retry(exception, request.user)
        elif action == "resolve":
            done = services.resolve_with_note(exception, request.user, note,
                                              withdraw_order=request.POST.get("then") == holds.WITHDRAW,
                                              set_aside_dispatch=request.POST.get("then") == holds.SET_ASIDE)
        elif action == "assign":
            done = services.assign(exception, request.user, _assignee(request))
        elif action == "snooze":
            done = services.snooze(exception, request.user, _until(request))
        else:
            raise services.ActionRefused(f"Unknown action {action!r}.")
    except services.NotAllowed as refused:
        raise PermissionDenied(str(refused)) from refused
    except services.HeldObjectRefused as refused:
        # The page comes back with the refusal, the choice it leaves, and the note as typed.
        messages.error(request, str(refused))
        context = _detail_context(request, exception, held_refusal=refused.held, kept_note=note)
        return render(request, "exceptions/detail.html", context, status=409)
    except services.ActionRefused as refused:
        messages.error(request, str(refused))
        if action == "resolve":  # keep the note
            return render(request, "exceptions/detail.html",
                          _detail_context(request, exception, kept_note=note), status=409)
    else:
        messages.success(request, done)
    return redirect("exception_detail", pk=pk)


@require_POST
@require("act_on_exceptions")
def bulk(request: HttpRequest) -> HttpResponse:
    action = request.POST.get("action", "")
    note = request.POST.get("note", "")
    all_matching = request.POST.get("all_matching") == "on"
    result = None
    try:
        ids = _selected_ids(request, all_matching)
        assignee = _assignee(request) if action == "assign" else None
        until = _until(request) if action == "snooze" else None
        result = services.bulk(action, ids, request.user, note=note, assignee=assignee, until=until,
                               withdraw_order=request.POST.get("then") == holds.WITHDRAW)
    except ValueError:
        messages.error(request, "The selection was not a list of exception numbers; nothing was done.")
    except services.ActionRefused as refused:
        messages.error(request, str(refused))
    else:
        (messages.success if not result.refused else messages.warning)(request, result.summary(action))
    if result is None or result.refused:
        # Whatever was refused comes back ticked, with the note and the choices as they were.
        kept_ids = list(result.refused) if result is not None else _ints(request.POST.getlist("ids"))
        request.session[KEPT_BULK] = {
            "note": note, "ids": kept_ids, "until": request.POST.get("until", ""),
            "all_matching": all_matching and result is None,
            "offer_withdraw": bool(result is not None and result.held),
        }
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = ""
    return redirect(back or "exception_queue")


def _selected_ids(request: HttpRequest, all_matching: bool) -> list[int]:
    """The ticked rows, or every row the filters match ("select all N matching", across pages)."""
    if not all_matching:
        return [int(pk) for pk in request.POST.getlist("ids")]
    filterset = filtered_queue(request, QueryDict(request.POST.get("query", "")))
    ids = list(filterset.qs.values_list("pk", flat=True)[:services.BULK_LIMIT + 1])
    return ids  # one past the limit, so the service refuses rather than silently doing a part


def _ints(values: list[str]) -> list[int]:
    return [int(v) for v in values if v.isdigit()]


def _until(request: HttpRequest) -> datetime | None:
    """The snooze time from a datetime-local field (UTC, as the dashboard shows times); empty wakes it."""
    text = request.POST.get("until", "").strip()
    if not text:
        return None
    value = parse_datetime(text)
    if value is None:
        raise services.ActionRefused(f"{text!r} is not a date and time (e.g. 2026-12-01 09:00); nothing was done.")
    return timezone.make_aware(value, UTC) if timezone.is_naive(value) else value


def _assignee(request: HttpRequest):
    """The user named in the form: "me", a username, or empty for nobody."""
    name = request.POST.get("assignee", "").strip()
    if not name:
        return None
    if name == "me":
        return request.user
    try:
        return User.objects.get(username=name)
    except User.DoesNotExist:
        raise services.ActionRefused(f"There is no user called {name!r}; nothing was assigned.") from None
