"""Links from an exception or an order to the objects it is about: whether the person may open
an order or item page (their capability, or owning an exception about it), and, in the demo
only, the Blue Cherry simulator's page where a person plays the Blue Cherry user."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from django import template
from django.conf import settings

from integration.shared.roles import can, owns_exception_about

register = template.Library()


@register.filter
def may_open_order(user: Any, ord_num: str) -> bool:
    return bool(ord_num) and (can(user, "view_orders") or owns_exception_about(user, ord_num=ord_num))


@register.filter
def may_open_item(user: Any, sku: str) -> bool:
    return bool(sku) and (can(user, "view_items") or owns_exception_about(user, sku=sku))


@register.simple_tag
def bluecherry_user_url(kind: str, key: str) -> str:
    """The simulator's page for this order (``kind`` "orders") or item ("items"); "" unless
    BLUECHERRY_USER_PAGE_URL is set (the demo sets it, production leaves it empty)."""
    base = settings.BLUECHERRY_USER_PAGE_URL
    if not base or not key or kind not in ("orders", "items"):
        return ""
    return f"{base.rstrip('/')}/{kind}/{quote(key, safe='')}"
