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


def require(capability: str) -> Callable:
    """View decorator: login first (redirect), then the capability (403)."""
    if capability not in MATRIX:
        raise KeyError(f"unknown capability {capability!r}")

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @login_required
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not can(request.user, capability):
                raise PermissionDenied(f"Your role may not {capability.replace('_', ' ')}.")
            return view(request, *args, **kwargs)

        wrapped.capability = capability  # type: ignore[attr-defined]
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
