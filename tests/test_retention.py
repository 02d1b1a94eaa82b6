"""Retention: exactly what is due is deleted or masked, and nothing else; the counts reach the overview."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from integration import schedules
from integration.models import InboundPush, MessageLog, Order, PushPart, SyncCursor
from integration.overview import figures as overview
from integration.shared import retention
from integration.shared.redaction import MASK
from tests.factories import BlueCherryOrderFactory, ShipToFactory
from tests.helpers import configure

pytestmark = pytest.mark.django_db

SEKO_BODY = {
    "Request": {"List": {"SalesOrder": {"SalesOrderNumber": "SO-1", "ShipToCompanyName": "",
                                        "Notes": "call ana@example.com before delivery"}},
                "DeliveryDetails": {"FirstName": "Ana", "LastName": "Silva", "Line1": "23 Victoria Street",
                                    "City": "Windsor", "PostcodeZip": "SL4 1HE", "PhoneNumber": "0123 336 6676",
                                    "EmailAddress": "ana@example.com", "CountryCode": "GB"},
                "SalesOrderLines": [{"ProductCode": "10023-NAVY-M", "Quantity": 2}],
                "CourierName": "RoyalMail"},
}


@pytest.fixture
def ages(settings):
    return configure(settings, RETENTION_MESSAGE_LOG_DAYS=90, RETENTION_INBOUND_PUSH_DAYS=60,
                     RETENTION_REDACT_AFTER_DAYS=30, RETENTION_BATCH_SIZE=2)


def days_ago(days: float):
    return timezone.now() - timedelta(days=days)


def message(age_days: float, body: dict | str = SEKO_BODY) -> MessageLog:
    text = body if isinstance(body, str) else json.dumps(body)
    row = MessageLog.objects.create(system="seko", operation="submit_order", method="POST", url="https://seko/x",
                                    request_body=text, response_body='{"Status": "OK"}')
    MessageLog.objects.filter(pk=row.pk).update(created_at=days_ago(age_days))
    return row


def push(age_days: float, status: str = InboundPush.Status.PROCESSED) -> InboundPush:
    row = InboundPush.objects.create(body=json.dumps(SEKO_BODY), status=status)
    InboundPush.objects.filter(pk=row.pk).update(received_at=days_ago(age_days))
    return row


def part(push_row: InboundPush | None, applied_days_ago: float | None, n: int) -> PushPart:
    return PushPart.objects.create(
        push=push_row, type=PushPart.DISPATCH, interface_record_id=f"IR-{n}", sequence_number="1",
        message_group_id=f"G-{n}", fields={"DispatchId": f"D-{n}", "DeliveryDetails": {"FirstName": "Ana"}},
        applied_at=days_ago(applied_days_ago) if applied_days_ago is not None else None)


def order(status: str, settled_days_ago: float | None, n: int) -> Order:
    raw = BlueCherryOrderFactory(ord_num=f"SO-{n}")
    row = Order.objects.create(ord_num=raw["ord_num"], status=status, bc_status="RELEASED",
                               bc_updated_at=timezone.now(), location="UK3PL", ship_via="RMNDAY",
                               customer="C1001", ship_to=ShipToFactory(), raw=raw)
    if settled_days_ago is not None:
        at = days_ago(settled_days_ago)
        field = "cancelled_at" if status == Order.Status.CANCELLED else "dispatched_at"
        Order.objects.filter(pk=row.pk).update(**{field: at, "updated_at": at})
    return row


def test_messages_and_pushes_past_their_retention_are_deleted_and_nothing_younger(ages):
    old_messages = [message(91), message(90.01), message(120)]
    young_message = message(89.9)
    old_push, young_push = push(61), push(59)
    old_pending = push(100, status=InboundPush.Status.PENDING)
    applied_long_ago = part(old_push, 61, 1)
    unapplied_old = part(old_push, None, 2)
    applied_recently = part(young_push, 10, 3)

    result = retention.run()

    assert set(MessageLog.objects.values_list("pk", flat=True)) == {young_message.pk}
    assert set(InboundPush.objects.values_list("pk", flat=True)) == {young_push.pk, old_pending.pk}
    assert set(PushPart.objects.values_list("pk", flat=True)) == {unapplied_old.pk, applied_recently.pk}
    assert PushPart.objects.get(pk=unapplied_old.pk).push_id is None  # its push is gone, the owed part is not
    assert result.deleted == {"message_log": len(old_messages), "push_part": 1, "inbound_push": 1}
    assert applied_long_ago.pk not in PushPart.objects.values_list("pk", flat=True)


def test_deletes_go_in_small_batches_each_its_own_transaction(ages):
    for _ in range(5):
        message(100)
    with CaptureQueriesContext(connection) as queries:
        retention.run()
    deletes = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("DELETE")
               and "integration_messagelog" in q["sql"]]
    assert len(deletes) == 3  # 2 + 2 + 1 with a batch of 2
    assert MessageLog.objects.count() == 0


def test_customer_data_older_than_the_redaction_age_is_masked_and_the_rest_kept(ages):
    old, young = message(31), message(29)
    old_push, young_push = push(31), push(29)

    result = retention.run()

    body = json.loads(MessageLog.objects.get(pk=old.pk).request_body)["Request"]
    assert set(body["DeliveryDetails"].values()) == {MASK}
    assert body["List"]["SalesOrder"]["Notes"] == f"call {MASK} before delivery"
    assert body["List"]["SalesOrder"]["SalesOrderNumber"] == "SO-1"  # what is not personal stays
    assert body["SalesOrderLines"] == [{"ProductCode": "10023-NAVY-M", "Quantity": 2}]
    assert body["CourierName"] == "RoyalMail"
    assert MessageLog.objects.get(pk=young.pk).request_body == json.dumps(SEKO_BODY)
    assert "Ana" not in InboundPush.objects.get(pk=old_push.pk).body
    assert InboundPush.objects.get(pk=young_push.pk).body == json.dumps(SEKO_BODY)
    assert result.redacted["message_log"] == 1 and result.redacted["inbound_push"] == 1


def test_a_body_with_nothing_personal_is_left_as_it_was_and_not_counted(ages):
    compact = message(31, body='{"ProductCode":"10023-NAVY-M","Quantity":2}')
    result = retention.run()
    assert MessageLog.objects.get(pk=compact.pk).request_body == '{"ProductCode":"10023-NAVY-M","Quantity":2}'
    assert result.redacted["message_log"] == 0


def test_a_body_that_is_not_json_is_masked_by_pattern():
    cut_short = ('{"FirstName": "Ana", "EmailAddress": "ana@example.com", "ProductCode": "10023-NAVY-M", '
                 '"ship_to": {"address_1": "23 Victoria Street", "Li')
    masked = retention.redact_text(cut_short)
    assert "Ana" not in masked and "ana@example.com" not in masked and "Victoria" not in masked
    assert '"ProductCode": "10023-NAVY-M"' in masked


def test_only_orders_settled_before_the_redaction_age_lose_their_address(ages):
    dispatched_long_ago = order(Order.Status.DISPATCHED, 31, 1)
    cancelled_long_ago = order(Order.Status.CANCELLED, 45, 2)
    dispatched_recently = order(Order.Status.DISPATCHED, 29, 3)
    in_flight = order(Order.Status.SENT, None, 4)
    Order.objects.filter(pk=in_flight.pk).update(updated_at=days_ago(60))  # old, but may still be corrected

    result = retention.run()

    for settled in (dispatched_long_ago, cancelled_long_ago):
        row = Order.objects.get(pk=settled.pk)
        assert set(row.ship_to.values()) - {""} == {MASK}
        assert row.raw["customer_name"] == MASK and set(row.raw["ship_to"].values()) - {""} == {MASK}
        assert row.raw["ord_num"] == settled.ord_num and row.raw["lines"] == settled.raw["lines"]
        assert row.customer == "C1001"  # an account code, not a person
    for kept in (dispatched_recently, in_flight):
        row = Order.objects.get(pk=kept.pk)
        assert row.ship_to == kept.ship_to and row.raw == kept.raw
    assert result.redacted["order"] == 2


def test_a_later_run_reads_only_the_new_rows_and_counts_add_up(ages):
    message(31)
    message(100)
    first = retention.run()
    assert (first.deleted_total, first.redacted_total) == (1, 1)
    second = retention.run()
    assert (second.deleted_total, second.redacted_total) == (0, 0)
    summary = retention.last_summary()
    assert summary["totals"] == {"deleted": 1, "redacted": 1}
    assert SyncCursor.objects.get(name=retention.CURSOR).position is not None


def test_a_row_written_before_the_watermark_is_not_read_again(ages):
    retention.run()
    late = message(31)  # older than the last run's watermark: a run only reads what is newer
    retention.run()
    assert MessageLog.objects.get(pk=late.pk).request_body == json.dumps(SEKO_BODY)


def test_the_overview_shows_what_the_last_run_deleted_and_redacted(ages):
    message(100)
    message(31)
    order(Order.Status.DISPATCHED, 31, 1)
    rows_before = {row.name: row for row in overview.flow_health()[0]}
    assert rows_before["Retention"].note == "has not run yet"
    retention.run()
    row = {row.name: row for row in overview.flow_health()[0]}["Retention"]
    assert row.note == "last run: 1 deleted, 2 redacted"
    assert row.last_success is not None and row.last_error == ""


def test_a_failed_run_says_so_on_the_overview_and_keeps_its_watermark(ages, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("database is locked")

    monkeypatch.setattr(retention, "redact_in_batches", broken)
    with pytest.raises(RuntimeError):
        retention.run()
    row = {row.name: row for row in overview.flow_health()[0]}["Retention"]
    assert row.last_error == "database is locked" and row.last_success is None
    assert SyncCursor.objects.get(name=retention.CURSOR).position is None


def test_retention_runs_on_its_own_daily_schedule(settings):
    settings.RETENTION_INTERVAL_MINUTES = 1440
    spec = next(spec for spec in schedules.schedule_specs() if spec["name"] == "apply retention")
    assert spec["func"] == "integration.tasks.apply_retention" and spec["minutes"] == 1440
