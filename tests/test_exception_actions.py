"""What a person does to exceptions, from the screen and the API: retry, resolve with a note,
assign, in bulk; each recorded with who and when, refused with a reason, safe to repeat."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from exceptions import catalogue
from exceptions import services as queue
from exceptions.models import IntegrationException
from integration.models import Order
from tests.helpers import held_with_exception, user_in

pytestmark = pytest.mark.django_db


def quarantined(ord_num: str, kind=catalogue.MAPPING_CARRIER_UNKNOWN,
                status=Order.Status.QUARANTINED) -> IntegrationException:
    return held_with_exception(ord_num, kind, status=status, ship_via="ZZ", problem="no", title=f"{ord_num} held")


def test_retrying_an_exception_puts_its_order_back_to_waiting_and_records_who(monkeypatch):
    ops = user_in("ops")
    exc = quarantined("SO-1")
    outcome = queue.retry(exc, ops)
    order = Order.objects.get(ord_num="SO-1")
    assert order.status == Order.Status.RECEIVED and order.next_attempt_at is None
    assert "waiting" in outcome
    event = exc.events.get(action="retried")
    assert event.actor == ops and event.at is not None
    assert order.events.last().note.startswith("Retry requested by u-ops")
    exc.refresh_from_db()
    assert exc.status == "open"  # it closes itself when the order is sent


def test_retrying_a_closed_exception_or_one_with_nothing_to_retry_is_refused_and_writes_nothing():
    ops = user_in("ops")
    exc = quarantined("SO-2")
    queue.auto_resolve(exc.trace_key)
    with pytest.raises(queue.ActionRefused, match="already resolved"):
        queue.retry(exc, ops)
    malformed = queue.raise_exception(catalogue.RECORD_MALFORMED, "record:orders.released:SO-X", "unreadable")
    with pytest.raises(queue.ActionRefused, match="nothing to retry"):
        queue.retry(malformed, ops)
    assert not malformed.events.filter(action="retried").exists()


def test_retrying_seko_unavailable_makes_every_order_in_backoff_due_now():
    admin = user_in("integration-admin")
    Order.objects.create(ord_num="SO-W", bc_updated_at=timezone.now(), status=Order.Status.RECEIVED,
                         next_attempt_at=timezone.now() + timezone.timedelta(minutes=20))
    alert = queue.raise_exception(catalogue.TRANSPORT_SEKO_UNAVAILABLE, "system:seko", "down")
    assert "1 waiting order" in queue.retry(alert, admin)
    assert Order.objects.get(ord_num="SO-W").next_attempt_at is None


def test_resolving_needs_a_note_and_happens_once():
    ops = user_in("ops")
    exc = quarantined("SO-3", status=Order.Status.SENT)  # no longer held: resolving by hand is allowed
    with pytest.raises(queue.ActionRefused, match="note"):
        queue.resolve_with_note(exc, ops, "   ")
    exc.refresh_from_db()
    assert exc.status == "open"
    queue.resolve_with_note(exc, ops, "Customer called, fixed by hand")
    exc.refresh_from_db()
    assert (exc.status, exc.resolved_by, exc.resolution_note) == ("resolved", ops, "Customer called, fixed by hand")
    with pytest.raises(queue.ActionRefused, match="already resolved"):
        queue.resolve_with_note(exc, ops, "again")
    assert exc.events.filter(action="resolved").count() == 1


def test_assigning_records_the_change_and_repeating_it_records_nothing():
    ops, cx = user_in("ops"), user_in("cx")
    exc = quarantined("SO-4")
    queue.assign(exc, ops, cx)
    queue.assign(exc, ops, cx)
    exc.refresh_from_db()
    assert exc.assigned_to == cx
    assert list(exc.events.filter(action="assigned").values_list("note", "actor__username")) == [("to u-cx", "u-ops")]


def test_bulk_actions_do_what_they_can_and_say_why_not_for_the_rest():
    ops = user_in("ops")
    first, second = quarantined("SO-5", status=Order.Status.SENT), quarantined("SO-6")
    queue.auto_resolve(second.trace_key)
    result = queue.bulk("resolve", [first.pk, second.pk, 999999], ops, note="handled")
    assert list(result.done) == [first.pk]
    assert set(result.refused) == {second.pk, 999999}
    assert "1 done, 2 not done" in result.summary("resolve")
    with pytest.raises(queue.ActionRefused, match="note"):
        queue.bulk("resolve", [first.pk], ops, note="")
    with pytest.raises(queue.ActionRefused, match="Unknown action"):
        queue.bulk("delete", [first.pk], ops)


def test_the_screen_actions_are_posts_that_need_the_csrf_token():
    ops = user_in("ops")
    exc = quarantined("SO-7")
    client = Client(enforce_csrf_checks=True)
    client.force_login(ops)
    assert client.get(f"/exceptions/{exc.pk}/resolve").status_code == 405
    assert client.post(f"/exceptions/{exc.pk}/resolve", {"note": "x"}).status_code == 403  # no CSRF token
    exc.refresh_from_db()
    assert exc.status == "open"


def test_bulk_from_the_queue_screen_redirects_back_with_a_summary():
    ops = user_in("ops")
    a, b = quarantined("SO-8"), quarantined("SO-9")
    client = Client()
    client.force_login(ops)
    response = client.post("/exceptions/bulk", {"action": "assign", "ids": [a.pk, b.pk], "assignee": "me",
                                                "next": "/exceptions/?owner=integration-admin"}, follow=True)
    assert response.redirect_chain[-1][0] == "/exceptions/?owner=integration-admin"
    assert "Assign: 2 done." in response.content.decode()
    assert set(IntegrationException.objects.values_list("assigned_to__username", flat=True)) == {"u-ops"}


def test_the_api_lists_with_the_screens_filters_and_acts_with_who_and_when():
    ops = user_in("ops")
    quarantined("SO-10")
    quarantined("SO-11", kind=catalogue.ORDER_ADDRESS_INCOMPLETE, status=Order.Status.SENT)
    client = Client()
    client.force_login(ops)
    listed = client.get("/api/exceptions/", {"kind": catalogue.ORDER_ADDRESS_INCOMPLETE.code}).json()
    assert [row["order"] for row in listed["results"]] == ["SO-11"]
    pk = listed["results"][0]["id"]
    refused = client.post(f"/api/exceptions/{pk}/resolve/", {"note": ""}, content_type="application/json")
    assert refused.status_code == 409 and "note" in refused.json()["detail"]
    done = client.post(f"/api/exceptions/{pk}/resolve/", {"note": "fixed in BC"}, content_type="application/json")
    assert done.status_code == 200
    detail = client.get(f"/api/exceptions/{pk}/").json()
    assert detail["status"] == "resolved" and detail["playbook"]
    assert detail["events"][-1] | {"at": None} == {"at": None, "action": "resolved", "actor": "u-ops",
                                                   "note": "fixed in BC"}
    bad = client.post("/api/exceptions/bulk/", {"action": "explode", "ids": [pk]}, content_type="application/json")
    assert bad.status_code == 400 and "action" in bad.json()


def test_payloads_are_shown_with_secrets_masked():
    ops = user_in("ops")
    exc = queue.raise_exception(
        catalogue.ORDER_REJECTED_DATA, "order:SO-12", "rejected",
        request_payload='{"SalesOrderNumber": "SO-12", "api_key": "k-123-secret"}',
        response_payload="GET https://ihub.example/api/x?api_key=k-456-secret&a=1\nAuthorization: Token t-789-secret",
    )
    client = Client()
    client.force_login(ops)
    page = client.get(f"/exceptions/{exc.pk}/").content.decode()
    api = client.get(f"/api/exceptions/{exc.pk}/").content.decode()
    for shown in (page, api):
        assert "SO-12" in shown
        assert "secret" not in shown
