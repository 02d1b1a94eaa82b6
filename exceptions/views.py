"""The exception queue and an exception's detail, with the actions a person takes on them.

Actions are POSTs (CSRF-checked), go through exceptions.services (which records who and when),
and redirect back with a message saying what happened: a refused action says why, and nothing
was written for it.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from exceptions import services
from exceptions.filters import ExceptionFilter
from exceptions.models import IntegrationException
from integration.redaction import pretty
from integration.roles import can, require

User = get_user_model()


def queue_queryset():
    """Everything one page of the queue shows, in a fixed number of queries whatever its size."""
    return IntegrationException.objects.select_related("order", "assigned_to")


def filtered_queue(request: HttpRequest) -> ExceptionFilter:
    data = request.GET.copy()
    if "status" not in data:
        data["status"] = IntegrationException.Status.OPEN  # the queue is what is still open, unless asked
    if not data.get("o"):
        data["o"] = "-last_seen"
    return ExceptionFilter(data, queryset=queue_queryset(), request=request)


def assignable_users():
    return User.objects.filter(is_active=True, groups__isnull=False).distinct().order_by("username")


@require_GET
@require("view_exceptions")
def queue(request: HttpRequest) -> HttpResponse:
    filterset = filtered_queue(request)
    page = Paginator(filterset.qs, settings.DASHBOARD_PAGE_SIZE).get_page(request.GET.get("page"))
    current_sort = filterset.data.get("o", "")
    context = {
        "filter": filterset, "page": page, "can_act": can(request.user, "act_on_exceptions"),
        "users": assignable_users(), "current_sort": current_sort,
        # Clicking a column header sorts by it; clicking it again reverses.
        "next_sort": {name: f"-{name}" if current_sort == name else name
                      for name in ("kind", "owner", "about", "occurrences", "first_seen", "last_seen")},
    }
    # htmx swaps only the results when a filter changes; a plain request gets the whole page.
    partial = request.htmx and not request.htmx.boosted
    return render(request, "exceptions/_queue_results.html" if partial else "exceptions/queue.html", context)


@require_GET
@require("view_exceptions")
def badge(request: HttpRequest) -> HttpResponse:
    """The open count in the nav (refreshed by htmx)."""
    count = IntegrationException.objects.filter(status=IntegrationException.Status.OPEN).count()
    return HttpResponse(str(count) if count else "")


@require_GET
@require("view_exceptions")
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    exception = get_object_or_404(queue_queryset(), pk=pk)
    kind = exception.kind_info
    context = {
        "exc": exception,
        "kind": kind,
        "request_payload": pretty(exception.request_payload),
        "response_payload": pretty(exception.response_payload),
        "events": exception.events.select_related("actor"),
        "can_act": can(request.user, "act_on_exceptions"),
        "users": assignable_users(),
        "can_view_order": can(request.user, "view_orders"),
        # --- issue 10: the manual's section for this kind, and a held dispatch's release form
        "manual_url": reverse("help") + f"#{exception.kind}",
        "dispatch_url": _dispatch_form_url(request, exception),
    }
    return render(request, "exceptions/detail.html", context)


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
    exception = get_object_or_404(IntegrationException.objects.select_related("order"), pk=pk)
    try:
        if action == "retry":
            done = services.retry(exception, request.user)
        elif action == "resolve":
            done = services.resolve_with_note(exception, request.user, request.POST.get("note", ""))
        elif action == "assign":
            done = services.assign(exception, request.user, _assignee(request))
        else:
            raise services.ActionRefused(f"Unknown action {action!r}.")
    except services.ActionRefused as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, done)
    return redirect("exception_detail", pk=pk)


@require_POST
@require("act_on_exceptions")
def bulk(request: HttpRequest) -> HttpResponse:
    action = request.POST.get("action", "")
    try:
        ids = [int(pk) for pk in request.POST.getlist("ids")]
        assignee = _assignee(request) if action == "assign" else None
        result = services.bulk(action, ids, request.user, note=request.POST.get("note", ""), assignee=assignee)
    except ValueError:
        messages.error(request, "The selection was not a list of exception numbers; nothing was done.")
    except services.ActionRefused as refused:
        messages.error(request, str(refused))
    else:
        (messages.success if not result.refused else messages.warning)(request, result.summary(action))
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = ""
    return redirect(back or "exception_queue")


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
