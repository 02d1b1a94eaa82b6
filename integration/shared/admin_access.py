"""The Django admin for integration admins: membership of the ``integration-admin`` group is
enough, with no staff flag to set by hand on each of them.

Its members enter the admin (``integration.admin_site``) and may view and change the integration's own
models there: mappings and their history, stock buffer overrides, orders, items, exceptions,
reconciliation, the workers' schedules and tasks, the failed-login lockouts
(``IntegrationAdminBackend``). Users and groups they may only look at (the team membership and
the addresses the digests go to): changing a user could make anyone a superuser, so that stays
with superusers and staff given it explicitly.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import BaseBackend

from integration.shared.roles import ADMIN, user_groups

# The apps whose models the group may view, add, change and delete in the admin. "axes" holds the
# failed logins: deleting a locked-out access attempt unlocks that user at that address.
INTEGRATION_APPS = frozenset({"integration", "exceptions", "reconciliation", "django_q", "axes"})
# Users and groups: to look at only.
VIEW_ONLY = frozenset({"auth.view_user", "auth.view_group"})


def is_integration_admin(user: Any) -> bool:
    return bool(getattr(user, "is_active", False)) and ADMIN in user_groups(user)


def may_enter_admin(user: Any) -> bool:
    """Staff (Django's own rule) or a member of the integration-admin group."""
    return bool(getattr(user, "is_active", False)) and (bool(getattr(user, "is_staff", False))
                                                       or is_integration_admin(user))


class IntegrationAdminBackend(BaseBackend):
    """Model permissions for the integration-admin group (it authenticates nobody)."""

    def has_perm(self, user_obj: Any, perm: str, obj: Any = None) -> bool:
        if not is_integration_admin(user_obj):
            return False
        return perm.partition(".")[0] in INTEGRATION_APPS or perm in VIEW_ONLY

    def has_module_perms(self, user_obj: Any, app_label: str) -> bool:
        return is_integration_admin(user_obj) and (app_label in INTEGRATION_APPS or app_label == "auth")
