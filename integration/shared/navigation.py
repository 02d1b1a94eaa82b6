"""The top navigation: one list, filtered by what the signed-in user's role may see.

A new screen adds one ``NavItem`` to ``NAV`` (in the order it should appear); base.html renders
whatever the user may open, so nobody sees a link that would answer 403.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from integration.shared.admin_access import may_enter_admin
from integration.shared.roles import MATRIX, can


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    capability: str
    # A URL answering a small fragment (a count) that htmx refreshes in the nav, e.g. open exceptions.
    badge_url_name: str = ""

    def __post_init__(self) -> None:
        if self.capability not in MATRIX:
            raise KeyError(f"nav item {self.label!r} names unknown capability {self.capability!r}")


NAV: list[NavItem] = [
    NavItem("Overview", "home", "view_overview"),
    NavItem("Exceptions", "exception_queue", "view_exceptions", badge_url_name="exception_badge"),
    NavItem("Orders", "order_list", "view_orders"),
    NavItem("Mappings", "mapping_list_warehouses", "view_mappings"),
    # --- issue 4 (items) and issue 5 (overdue) add their screens here ---
    NavItem("Items", "item_list", "view_items"),  # issue 4
    NavItem("Stock", "stock_positions", "view_stock"),  # issue 6
    NavItem("Overdue", "overdue", "view_overdue"),  # issue 5: CX's overdue fulfilment
    NavItem("Reconciliation", "recon_days", "view_reconciliation"),  # issue 7: finance
    NavItem("API", "api_docs", "view_api_schema"),
    NavItem("Help", "help", "view_help"),  # issue 10: the operations manual
]


def nav(request: HttpRequest) -> dict[str, Any]:
    """Template context processor: ``nav_items`` as (item, url, is_current) for this user."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": [], "admin_url": ""}
    items = []
    for item in NAV:
        if not can(user, item.capability):
            continue
        url = reverse(item.url_name)
        # Current when the path is in the same first segment (/mappings/carriers/ lights "Mappings").
        section = "/" + url.strip("/").split("/")[0] + "/" if url != "/" else "/"
        current = request.path == "/" if section == "/" else request.path.startswith(section)
        badge = reverse(item.badge_url_name) if item.badge_url_name else ""
        items.append({"label": item.label, "url": url, "current": current, "badge_url": badge})
    # The Admin link: for whoever the admin site lets in (staff, or the integration-admin group).
    admin_url = reverse("admin:index") if may_enter_admin(user) else ""
    return {"nav_items": items, "admin_url": admin_url}
