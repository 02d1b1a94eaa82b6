"""The queue never hides work: nothing held without an open exception saying why, only the owner
group (or ops, or integration admins) acts on an exception, a changed problem closes the old
exception, the bulk bar only does what was pressed and keeps what was typed, and the queue's
tabs, snooze, export, "all matching" and assignment emails."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from exceptions import catalogue, unexplained_holds
from exceptions import services as queue
from exceptions.models import IntegrationException
from integration.clients.errors import Rejected
from integration.models import Dispatch, Item, Order
from integration.orders import flow as order_flow
from tests.helpers import client_for, held_with_exception, user_in

pytestmark = pytest.mark.django_db

OPEN = IntegrationException.Status.OPEN


def held_order(ord_num: str, kind=catalogue.ORDER_ADDRESS_INCOMPLETE,
               status=Order.Status.QUARANTINED) -> IntegrationException:
    return held_with_exception(ord_num, kind, status=status, ship_via="RM", problem="city missing")


def api_resolve(client: Client, exc: IntegrationException, **body):
    return client.post(f"/api/exceptions/{exc.pk}/resolve/", body, content_type="application/json")


# --- Who may act -------------------------------------------------------------------------------

def test_finance_resolving_an_ops_owned_exception_through_the_api_gets_403_and_nothing_changes():
    exc = held_order("SO-1")
    assert exc.owner == "ops"
    response = api_resolve(client_for(user_in("finance")), exc, note="looked at it")
    assert response.status_code == 403
    assert "belongs to ops" in response.json()["detail"]
    exc.refresh_from_db()
    assert exc.status == OPEN and not exc.events.filter(action="resolved").exists()


def test_the_owner_group_ops_and_integration_admins_may_act_on_a_kind_and_no_one_else():
    data_owned = queue.raise_exception(catalogue.ITEM_MASTER_MISMATCH, "sku:ABC", "differs", sku="ABC")
    for group, allowed in (("data", True), ("ops", True), ("integration-admin", True), ("cx", False),
                           ("finance", False)):
        response = client_for(user_in(group, f"u-{group}-x")).post(
            f"/api/exceptions/{data_owned.pk}/assign/", {"assignee": "u-ops-x" if group == "ops" else ""},
            content_type="application/json")
        assert (response.status_code != 403) is allowed, group


def test_the_screen_offers_no_actions_to_a_group_that_does_not_own_the_kind_and_refuses_a_post():
    exc = held_order("SO-2")
    cx = client_for(user_in("cx"))
    page = cx.get(f"/exceptions/{exc.pk}/").content.decode()
    assert "Resolve with a note" not in page and "only integration-admin and ops act on it" in page
    assert cx.post(f"/exceptions/{exc.pk}/assign", {"assignee": "me"}).status_code == 403


def test_a_bulk_action_refuses_the_rows_of_kinds_the_person_does_not_own_and_does_the_rest():
    finance = user_in("finance")
    ours = queue.raise_exception(catalogue.RECON_DISCREPANCY, "order:SO-F", "differs")
    theirs = held_order("SO-3")
    result = queue.bulk("assign", [ours.pk, theirs.pk], finance, assignee=finance)
    assert list(result.done) == [ours.pk] and result.not_allowed == {theirs.pk}
    only_theirs = client_for(finance).post("/api/exceptions/bulk/", {"action": "assign", "ids": [theirs.pk]},
                                           content_type="application/json")
    assert only_theirs.status_code == 403


# --- Nothing held without an open exception ------------------------------------------------------

def test_resolving_the_last_exception_of_a_held_order_is_refused_with_the_choice_to_withdraw_it():
    exc = held_order("SO-4")
    response = api_resolve(client_for(user_in("ops")), exc, note="customer will call back")
    assert response.status_code == 409
    body = response.json()
    assert body["choices"] == ["withdraw_order"] and body["held"] == "order SO-4"
    assert "still quarantined" in body["detail"] and "withdraw the order" in body["detail"]
    exc.refresh_from_db()
    assert exc.status == OPEN
    assert Order.objects.get(ord_num="SO-4").status == Order.Status.QUARANTINED


def test_withdrawing_the_order_resolves_it_with_the_note_and_records_who_when_and_why_on_the_order():
    exc = held_order("SO-5")
    other = queue.raise_exception(catalogue.MAPPING_CARRIER_UNKNOWN, exc.trace_key, "no carrier", order=exc.order)
    response = api_resolve(client_for(user_in("ops")), exc, note="Customer cancelled by phone",
                           withdraw_order=True)
    assert response.status_code == 200 and "withdrawn from fulfilment" in response.json()["detail"]
    order = Order.objects.get(ord_num="SO-5")
    assert order.status == Order.Status.WITHDRAWN
    assert (order.withdrawn_by, order.withdrawn_reason) == ("u-ops", "Customer cancelled by phone")
    assert order.withdrawn_at is not None
    assert order.events.last().to_status == Order.Status.WITHDRAWN
    assert "Customer cancelled by phone" in order.events.last().note
    exc.refresh_from_db()
    other.refresh_from_db()
    assert (exc.status, exc.resolved_by.username) == ("resolved", "u-ops")
    assert "Customer cancelled by phone" in exc.resolution_note
    assert other.status == "resolved" and "withdrawn from fulfilment by u-ops" in other.resolution_note


def test_an_exception_that_is_not_the_last_of_its_held_order_resolves_normally():
    exc = held_order("SO-6")
    queue.raise_exception(catalogue.MAPPING_CARRIER_UNKNOWN, exc.trace_key, "no carrier", order=exc.order)
    assert api_resolve(client_for(user_in("ops")), exc, note="address fixed").status_code == 200


def test_withdraw_is_refused_when_the_order_is_not_held():
    exc = held_order("SO-7", status=Order.Status.SENT)
    response = api_resolve(client_for(user_in("ops")), exc, note="x", withdraw_order=True)
    assert response.status_code == 409 and "nothing to withdraw" in response.json()["detail"]
    assert api_resolve(client_for(user_in("ops", "ops2")), exc, note="handled").status_code == 200


def test_a_held_dispatch_or_item_keeps_its_last_exception_and_is_told_the_way_out():
    Dispatch.objects.create(dispatch_id="D-1", ord_num="SO-X", status=Dispatch.Status.QUARANTINED, confirmation={})
    dispatch_exc = queue.raise_exception(catalogue.DISPATCH_UNKNOWN_ORDER, catalogue.dispatch_key("D-1"), "unknown")
    Item.objects.create(sku="SKU-1", bc_status="LIVE", bc_updated_at=timezone.now(),
                        sync_status=Item.SyncStatus.INVALID)
    item_exc = queue.raise_exception(catalogue.ITEM_INVALID, catalogue.sku_key("SKU-1"), "no UPC", sku="SKU-1")
    admin = user_in("integration-admin")
    for exc, way_out in ((dispatch_exc, "release it from its form"), (item_exc, "correct the item in Blue Cherry")):
        with pytest.raises(queue.HeldObjectRefused, match=way_out) as refused:
            queue.resolve_with_note(exc, admin, "done")
        assert not refused.value.held.can_withdraw


def test_the_screen_refusal_keeps_the_note_and_offers_the_withdrawal_which_then_withdraws_the_order():
    exc = held_order("SO-8")
    ops = client_for(user_in("ops"))
    refused = ops.post(f"/exceptions/{exc.pk}/resolve", {"note": "Duplicate of SO-9"})
    page = refused.content.decode()
    assert refused.status_code == 409
    assert "Duplicate of SO-9</textarea>" in page
    assert 'name="then" value="withdraw"' in page and "Withdraw the order from fulfilment" in page
    done = ops.post(f"/exceptions/{exc.pk}/resolve", {"note": "Duplicate of SO-9", "then": "withdraw"}, follow=True)
    assert "withdrawn from fulfilment" in done.content.decode()
    assert Order.objects.get(ord_num="SO-8").status == Order.Status.WITHDRAWN


def test_a_bulk_resolve_refuses_held_orders_keeps_note_and_rows_and_then_offers_the_withdrawal():
    first, second = held_order("SO-10"), held_order("SO-11", status=Order.Status.SENT)
    ops = client_for(user_in("ops"))
    response = ops.post("/exceptions/bulk", {"action": "resolve", "ids": [first.pk, second.pk],
                                             "note": "Spoke to the customer", "next": "/exceptions/"}, follow=True)
    page = response.content.decode()
    assert "1 done, 1 not done" in page
    assert 'value="Spoke to the customer"' in page
    assert f'value="{first.pk}" aria-label="Select #{first.pk}" checked' in page
    assert 'name="then" value="withdraw"' in page
    again = ops.post("/exceptions/bulk", {"action": "resolve", "ids": [first.pk], "then": "withdraw",
                                          "note": "Spoke to the customer", "next": "/exceptions/"}, follow=True)
    assert "Resolve: 1 done." in again.content.decode()
    assert Order.objects.get(ord_num="SO-10").status == Order.Status.WITHDRAWN


def test_a_withdrawn_order_is_cancelled_by_blue_cherrys_cancel_and_not_reworked_by_a_new_version():
    exc = held_order("SO-12")
    queue.resolve_with_note(exc, user_in("ops"), "not wanted", withdraw_order=True)
    order = Order.objects.get(ord_num="SO-12")
    later = (order.bc_updated_at + timedelta(minutes=5)).isoformat()
    version = {"ord_num": "SO-12", "status": "RELEASED", "updated_at": later, "location": "UK3PL",
               "ship_via": "RM", "ship_to": {}, "lines": [{"line_no": 1, "sku": "A", "qty_ordered": 1}]}
    assert order_flow.ingest_order(version)
    order.refresh_from_db()
    assert order.status == Order.Status.WITHDRAWN and "withdrawn" in order.events.last().note
    assert order_flow.take_cancel({"ord_num": "SO-12"})
    assert Order.objects.get(ord_num="SO-12").status == Order.Status.CANCELLED


# --- The monitor -------------------------------------------------------------------------------------

def test_the_monitor_raises_an_exception_for_each_held_object_with_none_open_in_one_query_per_type(
        django_assert_max_num_queries):
    Order.objects.create(ord_num="SO-20", bc_updated_at=timezone.now(), status=Order.Status.REJECTED,
                         problems=[{"kind": "order.rejected_data", "message": "bad postcode"}])
    explained = held_order("SO-21")
    Dispatch.objects.create(dispatch_id="D-20", ord_num="SO-20", status=Dispatch.Status.QUARANTINED, confirmation={})
    Item.objects.create(sku="SKU-20", bc_status="LIVE", bc_updated_at=timezone.now(),
                        sync_status=Item.SyncStatus.FAILED, last_error="Seko said no")
    with django_assert_max_num_queries(3 + 1 + 3 * 12):  # 3 scans, the open alerts, 3 raises
        assert unexplained_holds.check_unexplained_holds() == 3
    raised = dict(IntegrationException.objects.filter(kind="hold.unexplained").values_list("trace_key", "owner"))
    assert raised == {"order:SO-20": "ops", "dispatch:D-20": "ops", "sku:SKU-20": "ops"}
    assert "bad postcode" in IntegrationException.objects.get(trace_key="order:SO-20").message
    assert not IntegrationException.objects.filter(trace_key=explained.trace_key, kind="hold.unexplained").exists()
    assert unexplained_holds.check_unexplained_holds() == 0  # a second run repeats nothing


def test_a_hold_unexplained_exception_closes_once_the_object_is_released_or_explained():
    Order.objects.create(ord_num="SO-22", bc_updated_at=timezone.now(), status=Order.Status.QUARANTINED)
    Order.objects.create(ord_num="SO-23", bc_updated_at=timezone.now(), status=Order.Status.QUARANTINED)
    unexplained_holds.check_unexplained_holds()
    Order.objects.filter(ord_num="SO-22").update(status=Order.Status.RECEIVED)
    queue.raise_exception(catalogue.ORDER_INVALID_LINES, "order:SO-23", "no lines")
    unexplained_holds.check_unexplained_holds()
    assert not IntegrationException.objects.filter(kind="hold.unexplained", status=OPEN).exists()


def test_the_hold_unexplained_exception_is_itself_protected_and_can_be_withdrawn_from():
    Order.objects.create(ord_num="SO-24", bc_updated_at=timezone.now(), status=Order.Status.QUARANTINED)
    unexplained_holds.check_unexplained_holds()
    alert = IntegrationException.objects.get(kind="hold.unexplained")
    ops = user_in("ops")
    with pytest.raises(queue.HeldObjectRefused):
        queue.resolve_with_note(alert, ops, "seen")
    queue.resolve_with_note(alert, ops, "test order", withdraw_order=True)
    assert Order.objects.get(ord_num="SO-24").status == Order.Status.WITHDRAWN


# --- A changed problem closes the old exception -------------------------------------------------------

def test_an_order_held_for_its_carrier_then_rejected_by_seko_closes_the_carrier_exception_naming_the_new_state():
    carrier = held_order("SO-30", kind=catalogue.MAPPING_CARRIER_UNKNOWN)
    order = carrier.order
    Order.objects.filter(pk=order.pk).update(status=Order.Status.SENDING)  # the mapping was saved; being sent
    order_flow._reject(order, Rejected("refused", remote_message="Invalid mapping: courier service ZZ"), {})
    carrier.refresh_from_db()
    assert carrier.status == "resolved"
    assert "rejected by Seko as order.rejected_mapping" in carrier.resolution_note
    open_kinds = set(IntegrationException.objects.filter(status=OPEN).values_list("kind", flat=True))
    assert open_kinds == {"order.rejected_mapping"}


def test_a_requarantined_order_closes_what_is_no_longer_true_naming_what_holds_it_now():
    carrier = held_order("SO-31", kind=catalogue.MAPPING_CARRIER_UNKNOWN)
    Order.objects.filter(pk=carrier.order.pk).update(status=Order.Status.SENDING)
    from integration.orders.rules import Problem
    order_flow.quarantine(carrier.order, [Problem(catalogue.ORDER_ADDRESS_INCOMPLETE.code, "no city")])
    carrier.refresh_from_db()
    assert carrier.status == "resolved" and "now quarantined as order.address_incomplete" in carrier.resolution_note


# --- The bulk bar --------------------------------------------------------------------------------------

def test_the_bulk_bars_default_button_is_disabled_so_enter_in_the_note_runs_nothing():
    held_order("SO-40")
    page = client_for(user_in("ops")).get("/exceptions/").content.decode()
    form = page[page.index('id="bulk-form"'):]
    first_button = form[form.index("<button"):form.index("</button>")]
    assert 'value=""' in first_button and "disabled" in first_button


def test_a_bulk_post_without_an_action_does_nothing_and_keeps_the_note_and_the_ticked_rows():
    exc = held_order("SO-41", status=Order.Status.SENT)
    ops = client_for(user_in("ops"))
    page = ops.post("/exceptions/bulk", {"action": "", "ids": [exc.pk], "note": "half typed",
                                         "next": "/exceptions/"}, follow=True).content.decode()
    assert "Choose an action" in page and 'value="half typed"' in page
    assert f'aria-label="Select #{exc.pk}" checked' in page
    exc.refresh_from_db()
    assert exc.status == OPEN and not exc.events.exclude(action="raised").exists()


def test_resolving_without_a_note_in_bulk_keeps_the_ticked_rows():
    a, b = held_order("SO-42", status=Order.Status.SENT), held_order("SO-43", status=Order.Status.SENT)
    page = client_for(user_in("ops")).post("/exceptions/bulk", {"action": "resolve", "ids": [a.pk, b.pk],
                                                                "note": " ", "next": "/exceptions/"},
                                           follow=True).content.decode()
    assert "Say what was done" in page
    for exc in (a, b):
        assert f'aria-label="Select #{exc.pk}" checked' in page


def test_all_matching_acts_on_every_row_the_filters_match_across_pages(settings):
    settings.DASHBOARD_PAGE_SIZE = 2
    rows = [held_order(f"SO-5{n}", status=Order.Status.SENT) for n in range(5)]
    queue.raise_exception(catalogue.RECON_DISCREPANCY, "order:SO-OTHER", "differs")
    ops = client_for(user_in("ops"))
    page = ops.get("/exceptions/", {"owner": "ops"}).content.decode()
    assert "all 5 matching these filters" in page
    ops.post("/exceptions/bulk", {"action": "assign", "assignee": "me", "all_matching": "on",
                                  "query": "owner=ops", "next": "/exceptions/"})
    assigned = set(IntegrationException.objects.filter(assigned_to__isnull=False).values_list("pk", flat=True))
    assert assigned == {r.pk for r in rows}


# --- Tabs, snooze, export, email, retry --------------------------------------------------------------------

def test_the_queue_has_open_snoozed_and_resolved_tabs_with_counts():
    ops_user = user_in("ops")
    held_order("SO-60")
    snoozed = held_order("SO-61")
    done = held_order("SO-62", status=Order.Status.SENT)
    queue.snooze(snoozed, ops_user, timezone.now() + timedelta(hours=3))
    queue.resolve_with_note(done, ops_user, "ok")
    ops = client_for(ops_user)
    page = ops.get("/exceptions/").content.decode()
    assert 'Open <span class="count">1</span>' in page
    assert 'Snoozed <span class="count">1</span>' in page and 'Resolved <span class="count">1</span>' in page
    assert "SO-61" not in page.split("<tbody>")[1]
    snoozed_tab = ops.get("/exceptions/", {"status": "open", "snoozed": "only"}).content.decode()
    assert "SO-61" in snoozed_tab and "snoozed until" in snoozed_tab


def test_a_snoozed_exception_comes_back_by_itself_when_its_time_passes():
    ops_user = user_in("ops")
    exc = held_order("SO-63")
    queue.snooze(exc, ops_user, timezone.now() + timedelta(minutes=30))
    ops = client_for(ops_user)
    assert "SO-63" not in ops.get("/exceptions/").content.decode().split("<tbody>")[1]
    assert ops.get("/exceptions/badge").content == b""
    IntegrationException.objects.filter(pk=exc.pk).update(snoozed_until=timezone.now() - timedelta(seconds=1))
    assert "SO-63" in ops.get("/exceptions/").content.decode().split("<tbody>")[1]
    assert ops.get("/exceptions/badge").content == b"1"


def test_snoozing_needs_a_future_time_and_is_recorded():
    ops = user_in("ops")
    exc = held_order("SO-64")
    with pytest.raises(queue.ActionRefused, match="future"):
        queue.snooze(exc, ops, timezone.now() - timedelta(minutes=1))
    response = client_for(ops).post(f"/exceptions/{exc.pk}/snooze", {"until": "2099-01-01T09:00"}, follow=True)
    assert "30 days" in response.content.decode()  # too far: "later", not "forgotten"
    until = (timezone.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    client_for(ops).post(f"/exceptions/{exc.pk}/snooze", {"until": until})
    exc.refresh_from_db()
    assert exc.snoozed_until is not None and exc.events.last().action == "snoozed"


def test_the_csv_export_is_the_queue_as_filtered_across_pages(settings):
    settings.DASHBOARD_PAGE_SIZE = 1
    held_order("SO-70")
    held_order("SO-71")
    queue.raise_exception(catalogue.RECON_DISCREPANCY, "order:SO-72", "=HYPERLINK(evil)")
    response = client_for(user_in("ops")).get("/exceptions/export.csv", {"owner": "ops"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert sorted(r["about"] for r in rows) == ["order:SO-70", "order:SO-71"]
    everything = client_for(user_in("cx")).get("/exceptions/export.csv", {"status": ""})
    text = b"".join(everything.streaming_content).decode()
    assert "'=HYPERLINK(evil)" in text  # a formula from another system is not run by a spreadsheet


def test_the_assignee_is_told_by_email(mailoutbox, django_capture_on_commit_callbacks):
    ops = user_in("ops")
    cx = user_in("cx", email="cx@example.com")
    exc = held_order("SO-80")
    with django_capture_on_commit_callbacks(execute=True):  # the mail goes once the assignment is committed
        client_for(ops).post(f"/exceptions/{exc.pk}/assign", {"assignee": "u-cx"})
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == [cx.email] and f"#{exc.pk}" in mail.subject and f"/exceptions/{exc.pk}/" in mail.body
    exc.refresh_from_db()
    queue.assign(exc, ops, ops)  # assigning to oneself tells nobody
    assert len(mailoutbox) == 1


def test_retry_is_offered_only_where_it_can_do_something():
    data = user_in("data")
    Item.objects.create(sku="SKU-90", bc_status="LIVE", bc_updated_at=timezone.now(),
                        sync_status=Item.SyncStatus.INVALID)
    invalid = queue.raise_exception(catalogue.ITEM_INVALID, "sku:SKU-90", "no UPC", sku="SKU-90")
    page = client_for(data).get(f"/exceptions/{invalid.pk}/").content.decode()
    assert "Retry now" not in page and "Resolve with a note" in page
    with pytest.raises(queue.ActionRefused, match="nothing to retry"):
        queue.retry(invalid, data)
    held = held_order("SO-90")
    assert "Retry now" in client_for(user_in("ops")).get(f"/exceptions/{held.pk}/").content.decode()


def test_check_holds_reports_held_objects_without_an_open_exception_and_fails_when_there_are(capsys):
    from django.core.management import call_command

    held_order("SO-100")  # explained
    Order.objects.create(ord_num="SO-101", bc_updated_at=timezone.now(), status=Order.Status.REJECTED)
    with pytest.raises(SystemExit) as failed:
        call_command("check_holds")
    assert failed.value.code == 1
    assert '"examples": [\n      "SO-101"\n    ]' in capsys.readouterr().out
    unexplained_holds.check_unexplained_holds()
    call_command("check_holds")  # nothing unexplained now: no exit
    assert '"without_open_exception": 0' in capsys.readouterr().out


def test_a_held_dispatch_settled_by_hand_is_set_aside_with_who_and_why_and_its_exception_closes():
    """A dispatch Seko shipped for an order we never sent, or one keyed by hand in Blue Cherry,
    will never post: without a way to set it aside it stayed held, its exception open, for good."""
    Dispatch.objects.create(dispatch_id="D-2", ord_num="SO-Y", status=Dispatch.Status.QUARANTINED, confirmation={})
    exc = queue.raise_exception(catalogue.DISPATCH_UNKNOWN_ORDER, catalogue.dispatch_key("D-2"), "unknown")
    client = client_for(user_in("ops"))
    refused = api_resolve(client, exc, note="keyed by hand in Blue Cherry")
    assert refused.status_code == 409 and refused.json()["choices"] == ["set_aside_dispatch"]
    done = api_resolve(client, exc, note="keyed by hand in Blue Cherry", set_aside_dispatch=True)
    assert done.status_code == 200, done.content
    dispatch = Dispatch.objects.get(dispatch_id="D-2")
    assert dispatch.status == Dispatch.Status.SET_ASIDE and "keyed by hand" in dispatch.last_error
    exc.refresh_from_db()
    assert exc.status == IntegrationException.Status.RESOLVED and "Set the dispatch aside" in exc.resolution_note
    # Nothing held without an exception: a dispatch set aside is not held.
    unexplained_holds.check_unexplained_holds()
    assert not IntegrationException.objects.filter(kind="hold.unexplained", status="open").exists()
    # Setting aside is for a held dispatch only.
    again = queue.raise_exception(catalogue.DISPATCH_UNKNOWN_ORDER, catalogue.dispatch_key("D-2"), "again")
    with pytest.raises(queue.ActionRefused, match="not about a held dispatch"):
        queue.resolve_with_note(again, user_in("integration-admin"), "x", set_aside_dispatch=True)
