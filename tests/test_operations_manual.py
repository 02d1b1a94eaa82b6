"""The operations manual (issue 10): the catalogue as JSON, every kind in docs/operations.md,
the manual at /help/ for every role, its images served from docs/ only, and each exception's
page linking to its kind's section."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

from exceptions import catalogue
from exceptions import services as queue
from exceptions.models import IntegrationException
from integration.shared.roles import ALL_GROUPS
from tests.helpers import signed_in

pytestmark = pytest.mark.django_db

MANUAL = Path(__file__).resolve().parent.parent / "docs" / "operations.md"
REQUIRED = ("code", "owner", "category", "playbook")


def _kinds_json() -> list[dict]:
    out = StringIO()
    call_command("exception_kinds", "--json", stdout=out)
    return json.loads(out.getvalue())


def test_exception_kinds_json_lists_every_kind_with_code_owner_category_and_playbook():
    kinds = _kinds_json()
    assert [k["code"] for k in kinds] == sorted(catalogue.KINDS)
    lacking = [f"{k.get('code')!r} lacks {field}" for k in kinds for field in REQUIRED
               if not isinstance(k.get(field), str) or not k[field].strip()]
    assert not lacking, "\n".join(lacking)
    owners = {o.value for o in catalogue.Owner}
    categories = {c.value for c in catalogue.Category}
    assert all(k["owner"] in owners and k["category"] in categories for k in kinds)


def test_every_kind_code_as_written_is_in_the_operations_manual():
    text = MANUAL.read_text(encoding="utf-8")
    missing = [k["code"] for k in _kinds_json() if k["code"] not in text]
    assert not missing, f"docs/operations.md does not mention: {', '.join(missing)}"


def test_every_kind_has_its_own_section_anchored_by_its_code_in_the_manual():
    text = MANUAL.read_text(encoding="utf-8")
    missing = [code for code in catalogue.KINDS if f'<a id="{code}"></a>`{code}`' not in text]
    assert not missing, f"no section (anchor + heading) for: {', '.join(missing)}"


def test_the_markdown_output_is_unchanged_by_the_json_option():
    from exceptions.management.commands.exception_kinds import render_markdown

    default, explicit = StringIO(), StringIO()
    call_command("exception_kinds", stdout=default)
    call_command("exception_kinds", "--markdown", stdout=explicit)
    assert default.getvalue() == explicit.getvalue() == render_markdown()


def test_the_manual_needs_a_login():
    response = Client().get("/help/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("group", ALL_GROUPS)
def test_every_role_reads_the_manual_with_an_anchor_per_kind_and_a_help_link_in_the_nav(group):
    client = signed_in(group)
    response = client.get("/help/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1" in html and "Operations manual" in html
    assert '<table>' in html, "the Markdown tables are rendered, not shown as pipes"
    missing = [code for code in catalogue.KINDS if f'id="{code}"' not in html]
    assert not missing, f"no anchor for: {', '.join(missing)}"
    assert '<a href="/help/"' in html  # the nav's Help item
    assert 'src="screenshots/overview.png"' in html


def test_the_manuals_screenshots_are_served_and_nothing_outside_docs_is():
    client = signed_in("cx")
    response = client.get("/help/screenshots/queue.png")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content).startswith(b"\x89PNG")
    for path in ("/help/screenshots/..%2F..%2Fmanage.py", "/help/..%2Fpyproject.toml", "/help/manage.py",
                 "/help/screenshots/nothing.png", "/help/..%2FREADME.md"):
        assert client.get(path).status_code == 404, path


def test_the_other_docs_pages_render_inside_the_dashboard():
    client = signed_in("finance")
    response = client.get("/help/reconciliation.md")
    assert response.status_code == 200 and "<h1" in response.content.decode()
    assert client.get("/help/no-such-page.md").status_code == 404


def exception_page(kind: catalogue.Kind, trace_key: str, title: str, group: str) -> tuple[IntegrationException, str]:
    """A new open exception, and its page as a user of that group sees it."""
    exc = queue.raise_exception(kind, trace_key, title)
    return exc, signed_in(group).get(f"/exceptions/{exc.pk}/").content.decode()


def test_an_exceptions_page_links_to_its_kinds_section_of_the_manual():
    exc, html = exception_page(catalogue.ORDER_SKU_NOT_LIVE, catalogue.order_key("SO-1"), "SKU X is not live.", "data")
    assert 'href="/help/#order.sku_not_live"' in html
    assert exc.kind_info.playbook in html


def test_a_held_dispatchs_exception_links_to_the_form_that_releases_it():
    _, html = exception_page(catalogue.DISPATCH_INCOMPLETE, catalogue.dispatch_key("DSP-9"), "No tracking.", "ops")
    assert 'href="/dispatches/DSP-9/"' in html
    assert 'href="/help/#dispatch.incomplete"' in html
