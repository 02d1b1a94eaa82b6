"""Every page and API call is closed to anonymous users and checks the role matrix.

The URL patterns are walked from the resolver (integration/shared/url_walk.py), so a page added later
by anyone is covered without being listed here.
"""

from __future__ import annotations

import pytest
from django.test import Client

from integration.management.commands.permissions import render_markdown
from integration.shared.roles import ALL_GROUPS, MATRIX
from integration.shared.url_walk import iter_routes
from tests.helpers import signed_in, user_in

pytestmark = pytest.mark.django_db

# The only URLs a stranger may open: the sign-in page, the health checks, Seko's webhook (which
# demands Seko's own token, tested with the webhook) and /metrics (its own token: test_metrics.py).
OPEN = {"login", "healthz", "healthz_workers", "seko_webhook", "metrics"}
LOGIN_PAGES = ("/accounts/login/", "/admin/login/")


def _anonymous_outcome(client: Client, path: str) -> tuple[int, str]:
    """Status and where it ends up; a view that only takes POST (405 to GET) is asked with POST."""
    response = client.get(path)
    if response.status_code == 405:
        response = client.post(path)
    final = response
    hops = 0
    while final.status_code in (301, 302) and hops < 5:
        final = client.get(final["Location"])
        hops += 1
    return response.status_code, final.request["PATH_INFO"] if hops else ""


@pytest.fixture
def routes():
    found = [route for route in iter_routes() if route.name not in OPEN]
    assert len(found) > 30, "the walk should find every pattern, the admin's included"
    return found


def test_every_url_answers_an_anonymous_caller_with_a_login_redirect_or_401_403(routes, settings):
    settings.HTTP_MAX_RETRIES = 0
    client = Client()
    wrong = []
    for route in routes:
        status, landed = _anonymous_outcome(client, route.path)
        redirected_to_login = status in (301, 302) and landed.startswith(LOGIN_PAGES)
        if not (redirected_to_login or status in (401, 403)):
            wrong.append(f"{route.path} ({route.pattern}, {route.name}): {status} -> {landed or 'no redirect'}")
    assert not wrong, "open to anonymous callers:\n" + "\n".join(wrong)


def test_every_dashboard_view_names_a_capability_from_the_matrix(routes):
    unguarded = [f"/{r.pattern} ({r.name})" for r in routes
                 if not r.pattern.startswith("admin/") and r.name != "logout" and r.capability not in MATRIX]
    assert not unguarded, "views without a capability from integration/shared/roles.py: " + ", ".join(unguarded)


@pytest.mark.parametrize("group", ALL_GROUPS)
def test_each_group_gets_exactly_the_pages_its_capabilities_allow(group, routes, settings):
    settings.HTTP_MAX_RETRIES = 0
    client = signed_in(group)
    mismatches = []
    for route in routes:
        if route.capability is None or route.pattern.startswith("admin/") or "format" in route.pattern:
            continue
        response = client.get(route.path)
        capability = route.capability
        if response.status_code == 405:  # an action: POST is what it takes
            response = client.post(route.path)
            capability = route.write_capability or route.capability
        allowed = group in MATRIX[capability]
        refused = response.status_code == 403
        if allowed == refused or response.status_code >= 500:
            mismatches.append(f"{route.path} needs {capability}: got {response.status_code}")
    assert not mismatches, f"{group}:\n" + "\n".join(mismatches)


def test_a_cx_user_is_refused_the_mapping_editor_and_its_api():
    client = signed_in("cx")
    assert client.get("/mappings/carriers/new").status_code == 403
    assert client.post("/mappings/carriers/new", {"bc_ship_via": "X"}).status_code == 403
    assert client.post("/api/mappings/carriers/", {"bc_ship_via": "X"}).status_code == 403


def test_the_api_takes_a_token(client):
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=user_in("ops"))
    assert client.get("/api/orders/").status_code == 403
    assert client.get("/api/orders/", HTTP_AUTHORIZATION=f"Token {token.key}").status_code == 200


def test_the_permissions_page_in_docs_is_current():
    from pathlib import Path

    page = Path(__file__).resolve().parent.parent / "docs" / "permissions.md"
    assert page.read_text() == render_markdown(), "run: manage.py permissions > docs/permissions.md"
