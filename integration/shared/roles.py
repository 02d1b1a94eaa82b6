"""Who may do what: the permission matrix, one place, enforced on every view and API call.

Roles are Django groups (DESIGN.md). A superuser may do everything. docs/permissions.md is
written from this table; a test checks they agree.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from rest_framework.permissions import BasePermission

OPS = "ops"
CX = "cx"
FINANCE = "finance"
DATA = "data"
ADMIN = "integration-admin"
ALL_GROUPS = (OPS, CX, FINANCE, DATA, ADMIN)

# capability -> the groups that have it. Screens and API endpoints name a capability.
MATRIX: dict[str, frozenset[str]] = {
    "view_overview": frozenset(ALL_GROUPS),
    "view_exceptions": frozenset(ALL_GROUPS),
    "act_on_exceptions": frozenset({OPS, CX, DATA, ADMIN, FINANCE}),
    "view_orders": frozenset({OPS, CX, FINANCE, ADMIN}),
    "retransmit_orders": frozenset({OPS, ADMIN}),
    "view_mappings": frozenset({OPS, ADMIN}),
    "edit_mappings": frozenset({ADMIN}),
    "view_items": frozenset({DATA, OPS, ADMIN}),
    "view_stock": frozenset({OPS, DATA, ADMIN}),
    "view_overdue": frozenset({CX, OPS, ADMIN}),
    "view_reconciliation": frozenset({FINANCE, ADMIN}),
    "view_api_schema": frozenset(ALL_GROUPS),
    # --- issue 10: the operations manual at /help/, for everyone who runs the integration
    "view_help": frozenset(ALL_GROUPS),
}

# Acting on an exception: its owner group, or these groups, which may act on every kind (ops
# runs the queue day to day; integration admins answer for the integration as a whole).
ACT_ON_ANY_EXCEPTION: frozenset[str] = frozenset({OPS, ADMIN})


# What each capability lets a person do, in words, for docs/permissions.md (``manage.py permissions``).
DESCRIPTIONS: dict[str, str] = {
    "view_overview": "See the overview: flow health, open exceptions, sent vs dispatched.",
    "view_exceptions": "See the exception queue and each exception's detail.",
    "act_on_exceptions": (
        "Retry, resolve with a note, assign and snooze exceptions, one at a time or in bulk: only the kinds the "
        "person's group owns (each kind's owner is in docs/exception-kinds.md), except that "
        + " and ".join(sorted(f"`{g}`" for g in ACT_ON_ANY_EXCEPTION))
        + " may act on every kind (anyone else gets 403)."
    ),
    "view_orders": ("See orders and each order's timeline of messages and status changes. Without it, a person "
                    "whose group owns an exception about an order (open or closed) may still open that order's page "
                    "and no other: `data` opens the orders its SKUs hold (`order.sku_not_live`), never the list."),
    "retransmit_orders": "Re-fetch an order from Blue Cherry, re-validate it and send it now.",
    "view_mappings": "See the cross-reference tables (warehouses, carriers/services) and export them as CSV.",
    "edit_mappings": "Create, edit, deactivate and CSV-import cross-reference rows (which releases blocked orders).",
    "view_items": ("See the item master's sync status, audit findings and each item's page (its problems, the "
                   "orders it holds). Without it, the owner of an exception about a SKU may open that item's page."),
    "view_stock": "See stock positions, buffers, last published values and drift.",
    "view_overdue": "See orders overdue for fulfilment.",
    "view_reconciliation": "See the daily reconciliation and export it.",
    "view_api_schema": "Read the API's OpenAPI schema and its interactive docs.",
    "view_help": "Read the operations manual (/help/): flows, every exception kind's playbook, checklists.",
}


def user_groups(user: Any) -> set[str]:
    if not getattr(user, "is_authenticated", False):
        return set()
    cached = getattr(user, "_role_names", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True))
        user._role_names = cached  # one query per request, however many checks
    return cached


def can(user: Any, capability: str) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_superuser:
        return True
    return bool(user_groups(user) & MATRIX[capability])


def may_act_on_exception(user: Any, owner: str) -> bool:
    """The rule for one exception: ``act_on_exceptions``, and the exception is owned by one of
    the person's groups unless they are ops or an integration admin."""
    if not can(user, "act_on_exceptions"):
        return False
    return user.is_superuser or bool(user_groups(user) & (ACT_ON_ANY_EXCEPTION | {owner}))


def exception_actors(owner: str) -> str:
    """Who may act on an exception owned by ``owner``, in words ("cx, integration-admin and ops")."""
    names = sorted(ACT_ON_ANY_EXCEPTION | {owner})
    return ", ".join(names[:-1]) + " and " + names[-1]


def owns_exception_about(user: Any, *, ord_num: str = "", sku: str = "") -> bool:
    """Whether one of the person's groups owns an exception (open or closed) about this order or
    SKU. Whoever owns a kind may open what it links to, and nothing more: the data team opens the
    orders its SKUs hold (``order.sku_not_live``) without seeing every order."""
    groups = user_groups(user)
    if not groups or not (ord_num or sku):
        return False
    from exceptions.models import IntegrationException  # the queue's model; roles sit below the views

    owned = IntegrationException.objects.filter(owner__in=groups)
    if ord_num:
        return owned.filter(order__ord_num=ord_num).exists()
    return owned.filter(sku=sku).exists() or owned.filter(trace_key=f"sku:{sku}").exists()


# Pages also open to the owners of an exception about their object (for docs/permissions.md).
OWNER_MAY_OPEN = "or owns an exception about it"


def require_or_exception_owner(capability: str, *, ord_num_kwarg: str = "", sku_kwarg: str = "") -> Callable:
    """``require(capability)`` for one object's page, also opened to a person whose group owns an
    exception about that object (see ``owns_exception_about``); anyone else gets 403."""

    def owns_one(request: HttpRequest, kwargs: dict[str, Any]) -> bool:
        return owns_exception_about(request.user, ord_num=kwargs.get(ord_num_kwarg, ""),
                                    sku=kwargs.get(sku_kwarg, ""))

    return require(capability, or_if=owns_one)


def require(capability: str, *, or_if: Callable[[HttpRequest, dict[str, Any]], bool] | None = None) -> Callable:
    """View decorator: login first (redirect), then the capability (403). ``or_if(request,
    kwargs)`` opens the page to someone without the capability for this one object."""
    if capability not in MATRIX:
        raise KeyError(f"unknown capability {capability!r}")

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @login_required
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not can(request.user, capability) and not (or_if is not None and or_if(request, kwargs)):
                raise PermissionDenied(f"Your role may not {capability.replace('_', ' ')}.")
            return view(request, *args, **kwargs)

        wrapped.capability = capability  # type: ignore[attr-defined]
        if or_if is not None:
            wrapped.owner_may_open = True  # type: ignore[attr-defined]
        return wrapped

    return decorator


class HasCapability(BasePermission):
    """DRF permission: the view sets ``capability`` (and optionally ``write_capability`` for
    unsafe methods)."""

    def has_permission(self, request: Any, view: Any) -> bool:
        capability = getattr(view, "capability", None)
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            capability = getattr(view, "write_capability", capability)
        return capability is not None and can(request.user, capability)
