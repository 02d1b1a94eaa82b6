"""Issue 9: the order flow writes per batch, not per order. These tests hold the batch writes to
the same rules as the single-order path: every new order with its lines and event, a changed
order checked again, an unreadable record kept apart, a compare-and-swap on every state move,
and a handful of statements for a whole page rather than a few per order."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from exceptions import catalogue
from exceptions import services as queue
from integration.models import Order, OrderEvent, OrderLine
from integration.orders import flow as orders
from integration.orders.mapper import SekoLine
from integration.shared import cursors
from tests.factories import BlueCherryOrderFactory, LineFactory

pytestmark = pytest.mark.django_db

Status = Order.Status


def page(count: int, start: int = 1) -> list[dict]:
    return [BlueCherryOrderFactory(ord_num=f"SO-B{n}", lines=[LineFactory(line_no=1), LineFactory(line_no=2)])
            for n in range(start, start + count)]


def test_a_page_of_new_orders_is_written_with_its_lines_and_events_in_a_few_statements():
    records = page(60)
    with CaptureQueriesContext(connection) as queries:
        applied, unreadable = orders.ingest_orders(records)
    assert (applied, unreadable) == (60, [])
    # Look-up of open "malformed" exceptions, look-up of known orders, three bulk inserts
    # (orders, lines, events; the database's parameter limit may split one) and the
    # transaction around them: about ten for the page, where it was ~8 per order (480).
    assert len(queries.captured_queries) <= 12, [q["sql"][:80] for q in queries.captured_queries]
    assert Order.objects.filter(status=Status.RECEIVED).count() == 60
    assert OrderLine.objects.count() == 120
    assert OrderEvent.objects.filter(to_status=Status.RECEIVED, from_status="").count() == 60
    first = Order.objects.get(ord_num="SO-B1")
    assert first.raw == records[0] and sorted(first.lines.values_list("line_no", flat=True)) == [1, 2]


def test_a_page_mixing_new_changed_repeated_and_unreadable_records_takes_each_as_the_single_path_does():
    orders.ingest_orders(page(2))
    Order.objects.filter(ord_num="SO-B2").update(status=Status.QUARANTINED)
    changed = BlueCherryOrderFactory(ord_num="SO-B2", updated_at="2099-01-01T00:00:00Z",
                                     lines=[LineFactory(line_no=1, sku="NEW-SKU")])
    same_again = page(1)[0] | {"ord_num": "SO-B1"}  # already taken: an older or equal version
    same_again["updated_at"] = Order.objects.get(ord_num="SO-B1").bc_updated_at.isoformat()
    twice = page(1, start=3)[0]
    twice_newer = twice | {"updated_at": "2099-01-02T00:00:00Z", "customer": "CHANGED"}
    unreadable = {"ord_num": "SO-BAD", "lines": "not a list"}
    applied, bad = orders.ingest_orders([changed, same_again, twice, twice_newer, unreadable])
    assert applied == 3  # SO-B2 checked again, SO-B3 created, then its newer version taken
    assert [(record["ord_num"], error.key) for record, error in bad] == [("SO-BAD", "SO-BAD")]
    again = Order.objects.get(ord_num="SO-B2")
    assert again.status == Status.RECEIVED and list(again.lines.values_list("sku", flat=True)) == ["NEW-SKU"]
    assert Order.objects.get(ord_num="SO-B3").customer == "CHANGED"
    assert not Order.objects.filter(ord_num="SO-BAD").exists()


def test_an_order_created_meanwhile_makes_the_batch_fall_back_to_one_at_a_time_with_nothing_half_written():
    records = page(3)
    orders.ingest_orders([records[1]])  # another run took SO-B2 between the look-up and the insert
    assert orders._create_orders(records) == 2  # SO-B2's same version is not taken twice
    assert Order.objects.count() == 3 and OrderLine.objects.count() == 6
    assert OrderEvent.objects.filter(order__ord_num="SO-B2").count() == 1


def test_a_readable_version_closes_the_malformed_record_exceptions_of_its_orders():
    queue.raise_exception(catalogue.RECORD_MALFORMED, f"record:{orders.RELEASED_CURSOR}:SO-B1", "bad")
    orders.ingest_orders(page(1))
    assert not queue.open_kinds_for(f"record:{orders.RELEASED_CURSOR}:SO-B1")


def test_claiming_takes_each_waiting_order_once_however_many_claims_overlap():
    orders.ingest_orders(page(10))
    first = orders.claim_due_orders(6)
    second = orders.claim_due_orders(6)
    assert len(first) == 6 and len(second) == 4
    assert not {o.pk for o in first} & {o.pk for o in second}
    assert {o.claim_token for o in first} != {o.claim_token for o in second}
    assert orders.claim_due_orders(6) == []


def test_recording_a_batch_sent_moves_only_the_orders_still_sending_and_numbers_their_lines():
    orders.ingest_orders(page(3))
    claimed = orders.claim_due_orders(3)
    lost = claimed[2]
    Order.objects.filter(pk=lost.pk).update(status=Status.RECEIVED)  # taken back from a "dead" worker
    queue.raise_exception(catalogue.ORDER_SKU_NOT_LIVE, catalogue.order_key(claimed[0].ord_num), "was held")
    accepted = [
        orders.Accepted(order, f"GUID-{order.ord_num}", "DCCL01",
                        [SekoLine(1, "S", "U", 2, Decimal("1"), covers=(1, 2))], already_existed=(n == 1))
        for n, order in enumerate(claimed)
    ]
    sent = orders.record_sent(accepted)
    assert [o.pk for o in sent] == [claimed[0].pk, claimed[1].pk]
    for order in claimed[:2]:
        order.refresh_from_db()
        assert (order.status, order.seko_guid, order.seko_dc_code) == (Status.SENT, f"GUID-{order.ord_num}", "DCCL01")
        assert set(order.lines.values_list("seko_line_number", flat=True)) == {1}
    lost.refresh_from_db()
    assert lost.status == Status.RECEIVED and not lost.seko_guid
    assert set(lost.lines.values_list("seko_line_number", flat=True)) == {None}
    notes = list(OrderEvent.objects.filter(to_status=Status.SENT).order_by("order_id").values_list("note", flat=True))
    assert notes == [f"Accepted by Seko; GUID GUID-{claimed[0].ord_num}",
                     f"Accepted by Seko (it already had it from an earlier attempt); GUID GUID-{claimed[1].ord_num}"]
    assert not queue.open_kinds_for(catalogue.order_key(claimed[0].ord_num))
    assert orders.record_sent(accepted) == []  # recorded once: a repeat changes nothing


def test_recording_pick_tickets_is_a_compare_and_swap_per_order():
    orders.ingest_orders(page(2))
    Order.objects.update(status=Status.SENT, sent_at=timezone.now())
    told = list(Order.objects.order_by("pk"))
    Order.objects.filter(pk=told[1].pk).update(pick_ticket_at=timezone.now())  # another worker told it first
    assert orders.record_pick_tickets(told) == 1
    assert orders.record_pick_tickets(told) == 0
    assert OrderEvent.objects.filter(note__startswith="Blue Cherry told").count() == 1


def test_an_unreadable_record_in_a_pull_is_reported_with_its_key():
    records = [*page(2), {"ord_num": "SO-BAD", "updated_at": "2026-11-27T10:00:00Z", "lines": 7}]
    seen, applied = cursors.pull_batched("test.orders", lambda since: iter(records), orders.ingest_orders)
    assert (seen, applied) == (3, 2)
    assert queue.open_kinds_for("record:test.orders:SO-BAD") == {catalogue.RECORD_MALFORMED.code}

