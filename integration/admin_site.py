"""``django.contrib.admin`` with a site that lets the integration-admin group in (see
``integration.shared.admin_access``). Named in INSTALLED_APPS, so it imports no models."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest


class BridgeAdminSite(admin.AdminSite):

    def has_permission(self, request: HttpRequest) -> bool:
        from integration.shared.admin_access import may_enter_admin

        return may_enter_admin(request.user)


class BridgeAdminConfig(AdminConfig):
    """The admin app, its ``admin.site`` a ``BridgeAdminSite``."""

    default_site = "integration.admin_site.BridgeAdminSite"
