"""Dispatch confirmations end to end (flow 3 in DESIGN.md): Seko's pushes through the webhook,
de-duplication and assembly, the data contract, one Blue Cherry shipment, the poll."""

# The order-flow tests' `world` fixture is imported and then taken as a test argument by name.

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone

from exceptions import catalogue
from exceptions.models import IntegrationException
from integration.clients.seko import parse_push
from integration.dispatches import flow as dispatches
from integration.dispatches import intake
from integration.models import Dispatch, InboundPush, MessageLog, Order, OrderEvent, OrderLine, PushPart
from tests.factories import BlueCherryOrderFactory, LineFactory
from tests.test_order_flow import release, run_flow, world  # noqa: F401  (world is a fixture)

pytestmark = pytest.mark.django_db

Status = Order.Status
URL = "/webhooks/seko/"


@pytest.fixture(autouse=True)
def push_settings(settings):
    settings.SEKO_PUSH_TOKEN = "flow-token"
    settings.SEKO_PUSH_SECRET = ""  # the signature has its own tests; here the token is enough
    settings.DISPATCH_POLL_GRACE_SECONDS = 0
    # A dispatch without tracking is quarantined at once here; the wait for a TrackingDetails
    # that may follow has its own tests (test_dispatch_documented.py).
    settings.DISPATCH_TRACKING_WAIT_SECONDS = 0
    return settings


def sent_order(bluecherry, ord_num: str, lines: list[dict] | None = None) -> Order:
    release(bluecherry, BlueCherryOrderFactory(ord_num=ord_num, lines=lines or [LineFactory(line_no=1)]))
    run_flow()
    order = Order.objects.get(ord_num=ord_num)
    assert order.status == Status.SENT
    return order


def dispatch_at_seko(seko, **rates: Any) -> list[dict]:
    """Let the warehouse dispatch everything it holds; the push records it queued."""
    seko.control("POST", "_sim/warehouse/advance", {"orders": "all", "seed": 1, **rates})
    return [p for p in seko.control("GET", "_sim/pushes")["pushes"] if p["status"] == "pending"]


def push(client, *records: tuple[str, dict]) -> None:
    body = json.dumps({"Responses": [{"Response": {kind: fields}} for kind, fields in records]})
    response = client.post(URL, data=body, content_type="application/json",
                           headers={"Authorization": "Bearer flow-token"})
    assert response.status_code == 202, response.content


def push_outbox(client, outbox: list[dict]) -> None:
    push(client, *[(p["kind"], p["record"]) for p in outbox])


def take_in() -> None:
    while intake.process_pushes() or dispatches.post_due_dispatches():
        pass


def dispatched(client, seko, order: Order, **rates: Any) -> Dispatch:
    """Seko dispatches the order (with the fault rates given) and pushes it; the push is taken in."""
    push_outbox(client, dispatch_at_seko(seko, **rates))
    take_in()
    return Dispatch.objects.get(order=order)


def bc_order(bluecherry, ord_num: str) -> dict:
    return bluecherry.control("GET", f"_sim/orders/{ord_num}")


def open_kinds(dispatch_id: str) -> set[str]:
    return set(IntegrationException.objects.filter(trace_key=f"dispatch:{dispatch_id}", status="open")
               .values_list("kind", flat=True))


def confirmation(order: Order, **changes: Any) -> dict:
    body = {"InterfaceRecordId": "990001", "SequenceNumber": 1, "MessageGroupId": "g-990001", "MessagePart": 1,
            "MessageTotal": 1, "SalesOrderNumber": order.ord_num, "GUID": order.seko_guid, "DCCode": "DCCL01",
            "DispatchId": "DSP-X1", "DispatchDate": "2026-11-27T16:40:00Z", "CourierName": "RoyalMail",
            "CourierService": "TPN24", "TrackingNumber": "JD77GB", "List": {"DispatchLineItem": []}}
    body.update(changes)
    return body


def test_a_pushed_dispatch_becomes_one_shipment_with_its_invoice_and_notification(world, client):
    bluecherry, seko = world
    order = sent_order(bluecherry, "SO-D1")
    push_outbox(client, dispatch_at_seko(seko))
    take_in()
    order.refresh_from_db()
    assert order.status == Status.DISPATCHED and order.dispatched_at is not None
    dispatch = Dispatch.objects.get(order=order)
    assert dispatch.status == Dispatch.Status.POSTED and dispatch.bc_ship_num and not dispatch.short
    at_bc = bc_order(bluecherry, "SO-D1")
    assert len(at_bc["shipments"]) == 1 and len(at_bc["invoices"]) == 1 and len(at_bc["notifications"]) == 1
    shipment = at_bc["shipments"][0]
    assert shipment["wms_dispatch_id"] == dispatch.dispatch_id and shipment["ship_via"] == "RMNDAY"
    assert shipment["tracking_numbers"] and shipment["carrier"] == "RoyalMail"


def test_a_batch_of_posts_logs_each_shipment_against_its_order_and_settles_each_ones_exceptions(world, client):
    """A batch's posts are logged in one insert and settled once for the batch: still each
    shipment call on its own order's log, and each order's overdue closed by its own dispatch."""
    from exceptions import services as queue
    from integration.models import MessageLog

    bluecherry, seko = world
    orders = [sent_order(bluecherry, f"SO-B{n}") for n in range(3)]
    for order in orders:
        queue.raise_exception(catalogue.DISPATCH_OVERDUE, catalogue.order_key(order.ord_num), "late", order=order)
    queue.raise_exception(catalogue.DISPATCH_OVERDUE, catalogue.order_key("SO-NOT-SHIPPED"), "still late")
    push_outbox(client, dispatch_at_seko(seko))
    take_in()
    assert set(Dispatch.objects.values_list("status", flat=True)) == {Dispatch.Status.POSTED}
    logged = MessageLog.objects.filter(system="bluecherry", operation="create_shipment")
    assert sorted(logged.values_list("order_id", flat=True)) == sorted(o.pk for o in orders)
    overdue = dict(IntegrationException.objects.filter(kind=catalogue.DISPATCH_OVERDUE.code)
                   .values_list("trace_key", "status"))
    assert overdue == {**{f"order:{o.ord_num}": "resolved" for o in orders}, "order:SO-NOT-SHIPPED": "open"}


def test_a_batch_of_posts_is_recorded_together_and_one_that_fails_to_record_spares_the_others(
        world, client, monkeypatch):
    """What Blue Cherry took is recorded once for the batch (one transaction, not one per post
    thread queueing for SQLite's write lock). Should recording them together fail, each goes in
    a savepoint of its own: one whose record fails goes back to wait, posted again later under
    the same id without a second shipment."""
    bluecherry, seko = world
    for n in range(3):
        sent_order(bluecherry, f"SO-R{n}")
    push_outbox(client, dispatch_at_seko(seko))
    intake.process_pushes()
    batches: list[list[str]] = []
    record_posted, record_one = dispatches.record_posted, dispatches._record_one

    def counted(posts):
        batches.append(sorted(p.order.ord_num for p in posts))
        return record_posted(posts)

    def failing_for_one(post):
        if post.order.ord_num == "SO-R1":
            raise RuntimeError("planted failure while recording")
        return record_one(post)

    def batch_fails(posts):
        raise RuntimeError("planted failure recording the batch")

    monkeypatch.setattr(dispatches, "record_posted", counted)
    monkeypatch.setattr(dispatches, "record_batch", batch_fails)
    monkeypatch.setattr(dispatches, "_record_one", failing_for_one)
    assert dispatches.post_due_dispatches() == 3
    assert batches == [["SO-R0", "SO-R1", "SO-R2"]]
    status = dict(Dispatch.objects.values_list("ord_num", "status"))
    assert status == {"SO-R0": Dispatch.Status.POSTED, "SO-R1": Dispatch.Status.RECEIVED,
                      "SO-R2": Dispatch.Status.POSTED}
    assert Order.objects.get(ord_num="SO-R0").status == Status.DISPATCHED
    assert Order.objects.get(ord_num="SO-R1").status == Status.SENT  # nothing of it half-written
    monkeypatch.setattr(dispatches, "_record_one", record_one)
    Dispatch.objects.filter(ord_num="SO-R1").update(next_attempt_at=None)
    assert dispatches.post_due_dispatches() == 1
    assert Dispatch.objects.get(ord_num="SO-R1").status == Dispatch.Status.POSTED
    at_bc = bc_order(bluecherry, "SO-R1")
    assert len(at_bc["shipments"]) == 1 and len(at_bc["invoices"]) == 1


def test_a_batch_of_posts_is_recorded_in_the_same_statements_however_many_it_holds(
        world, client, monkeypatch, django_assert_max_num_queries):
    """Recording each post on its own cost eight statements a dispatch, all of them holding
    SQLite's write lock while the order sends waited. Recorded together: lines, orders and
    timelines as one at a time would leave them."""
    bluecherry, seko = world
    orders = [sent_order(bluecherry, f"SO-P{n}", [LineFactory(line_no=1, sku="10023-NAVY-S"),
                                                  LineFactory(line_no=2, sku="10023-NAVY-M")]) for n in range(12)]
    push_outbox(client, dispatch_at_seko(seko))
    intake.process_pushes()
    posts: list = []
    with monkeypatch.context() as patched:
        patched.setattr(dispatches, "record_posted", lambda batch: posts.extend(batch) or [])  # recorded below
        dispatches.post_due_dispatches()
    assert len(posts) == 12
    with django_assert_max_num_queries(12):
        recorded = dispatches.record_posted(posts)
    assert len(recorded) == 12
    assert set(Dispatch.objects.values_list("status", flat=True)) == {Dispatch.Status.POSTED}
    for order in orders:
        order.refresh_from_db()
        assert order.status == Status.DISPATCHED
        shipped = list(order.lines.order_by("line_no").values_list("qty_ordered", "qty_shipped"))
        assert len(shipped) == 2 and all(ordered == got > 0 for ordered, got in shipped)
        assert OrderEvent.objects.filter(order=order, to_status=Status.DISPATCHED,
                                         note__contains="posted to Blue Cherry as shipment").count() == 1
    assert dispatches.record_posted(posts) == []  # no longer POSTING: nothing recorded twice


def test_a_repeated_part_and_a_repeated_dispatch_are_ignored_and_counted(world, client):
    bluecherry, seko = world
    sent_order(bluecherry, "SO-D2")
    outbox = dispatch_at_seko(seko)
    push_outbox(client, outbox)
    push_outbox(client, outbox)  # Seko delivered the same batch twice
    dispatch_record = next(p["record"] for p in outbox if p["kind"] == "DispatchConfirmation")
    # The same dispatch again under a new record id: a repeat of the dispatch itself.
    push(client, ("DispatchConfirmation", {**dispatch_record, "InterfaceRecordId": "999999",
                                           "MessageGroupId": "g-999999"}))
    take_in()
    assert sum(PushPart.objects.values_list("repeats", flat=True)) == len(outbox)
    dispatch = Dispatch.objects.get(ord_num="SO-D2")
    assert dispatch.repeats == 1
    at_bc = bc_order(bluecherry, "SO-D2")
    assert len(at_bc["shipments"]) == 1 and len(at_bc["invoices"]) == 1


def tracking_for(ord_num: str, record_id: str, number: str) -> dict:
    return {"InterfaceRecordId": record_id, "SequenceNumber": 7, "MessagePart": 1, "MessageTotal": 1,
            "SalesOrderNumber": ord_num, "DispatchNumber": "1", "Courier": "RoyalMail", "TrackingNumber": number}


def test_a_push_of_many_dispatches_takes_each_as_one_at_a_time_would(world, client):
    """A push's new dispatches are created together; a known DispatchId, the same one twice in the
    push, an order named only by its GUID, an order we never had and tracking that came first
    are each handled as a push of one would handle them."""
    bluecherry, _ = world
    a, b, c = (sent_order(bluecherry, number) for number in ("SO-M1", "SO-M2", "SO-M3"))
    push(client, ("DispatchConfirmation", confirmation(a, InterfaceRecordId="m-1", DispatchId="DSP-M1")))
    push(client, ("TrackingDetails", tracking_for("SO-M3", "m-t3", "JD333GB")))
    assert intake.process_pushes() == 2
    push(client,
         ("DispatchConfirmation", confirmation(a, InterfaceRecordId="m-2", DispatchId="DSP-M1")),
         ("DispatchConfirmation", confirmation(b, InterfaceRecordId="m-3", DispatchId="DSP-M2", SalesOrderNumber="")),
         ("DispatchConfirmation", confirmation(c, InterfaceRecordId="m-4", DispatchId="DSP-M3", TrackingNumber="")),
         ("DispatchConfirmation", confirmation(b, InterfaceRecordId="m-5", DispatchId="DSP-M2", SalesOrderNumber="")),
         ("DispatchConfirmation", confirmation(a, InterfaceRecordId="m-6", DispatchId="DSP-M9",
                                               SalesOrderNumber="SO-NEVER", GUID="")))
    assert intake.process_pushes() == 1
    taken = {d.dispatch_id: d for d in Dispatch.objects.all()}
    assert sorted(taken) == ["DSP-M1", "DSP-M2", "DSP-M3", "DSP-M9"]
    assert (taken["DSP-M1"].repeats, taken["DSP-M2"].repeats, taken["DSP-M3"].repeats) == (1, 1, 0)
    assert taken["DSP-M2"].order == b and taken["DSP-M2"].ord_num == "SO-M2"
    assert taken["DSP-M3"].effective["TrackingNumber"] == "JD333GB"
    assert taken["DSP-M9"].order is None and taken["DSP-M9"].ord_num == "SO-NEVER"
    assert not PushPart.objects.filter(applied_at__isnull=True).exists()
    logged = MessageLog.objects.filter(operation="dispatch_confirmation")
    assert sorted(logged.values_list("order__ord_num", flat=True)) == ["SO-M1", "SO-M2", "SO-M3"]
    assert MessageLog.objects.filter(operation="tracking_details", order=c).count() == 1
    assert OrderEvent.objects.filter(order=b, note="Dispatch DSP-M2 pushed by Seko").count() == 1


def test_a_push_of_many_dispatches_costs_the_same_statements_as_a_push_of_a_few(client, django_assert_max_num_queries):
    """A statement per dispatch held SQLite's write lock for seconds on a peak day's pushes of
    500: the number of statements must not grow with the push."""
    now = timezone.now()
    Order.objects.bulk_create([Order(ord_num=f"SO-Q{n}", status=Status.SENT, bc_status="released", bc_updated_at=now,
                                     location="DC1", ship_via="UPS", seko_guid=f"g-q{n}") for n in range(60)])
    orders = list(Order.objects.order_by("id"))
    push(client, *[("DispatchConfirmation", confirmation(order, InterfaceRecordId=f"q-{order.pk}",
                                                         DispatchId=f"DSP-Q{order.pk}")) for order in orders])
    with django_assert_max_num_queries(25):
        assert intake.process_pushes() == 1
    assert Dispatch.objects.filter(order__isnull=False).count() == 60
    assert OrderEvent.objects.filter(note__startswith="Dispatch DSP-Q").count() == 60


def test_a_push_of_dispatches_each_followed_by_its_tracking_costs_the_same_statements_as_a_few(
        client, django_assert_max_num_queries):
    """Seko sends each dispatch's TrackingDetails right behind it. Taken in the order they came,
    each pair cost a handful of statements inside the push's transaction (two fifths of the
    workers' CPU on a peak day, SQLite's write lock held meanwhile)."""
    now = timezone.now()
    Order.objects.bulk_create([Order(ord_num=f"SO-T{n}", status=Status.SENT, bc_status="released", bc_updated_at=now,
                                     location="DC1", ship_via="UPS", seko_guid=f"g-t{n}") for n in range(60)])
    orders = list(Order.objects.order_by("id"))
    # The first order's dispatch is already here (an earlier push): its tracking is laid over it.
    push(client, ("DispatchConfirmation", confirmation(orders[0], InterfaceRecordId="t-0", DispatchId="DSP-T0",
                                                       TrackingNumber="")))
    assert intake.process_pushes() == 1
    records = [("TrackingDetails", tracking_for(orders[0].ord_num, "tt-0", "JD1000GB"))]
    for order in orders[1:]:
        records += [("DispatchConfirmation", confirmation(order, InterfaceRecordId=f"t-{order.pk}",
                                                          DispatchId=f"DSP-T{order.pk}", TrackingNumber="")),
                    ("TrackingDetails", tracking_for(order.ord_num, f"tt-{order.pk}", f"JD{order.pk}GB"))]
    push(client, *records)
    with django_assert_max_num_queries(45):
        assert intake.process_pushes() == 1
    taken = {d.ord_num: d for d in Dispatch.objects.all()}
    assert taken[orders[0].ord_num].effective["TrackingNumber"] == "JD1000GB"
    assert all(taken[o.ord_num].effective["TrackingNumber"] == f"JD{o.pk}GB" for o in orders[1:])
    assert not PushPart.objects.filter(applied_at__isnull=True).exists()
    assert MessageLog.objects.filter(operation="tracking_details").count() == 60
    assert OrderEvent.objects.filter(note__startswith="Tracking for dispatch DSP-T").count() == 60


def test_a_dispatch_another_worker_takes_meanwhile_is_a_repeat_and_the_rest_are_still_taken(
        world, client, monkeypatch):
    bluecherry, _ = world
    a, b = sent_order(bluecherry, "SO-R1"), sent_order(bluecherry, "SO-R2")
    finding = intake.find_orders

    def another_worker_first(confirmations):
        Dispatch.objects.create(dispatch_id="DSP-R1", order=a, ord_num=a.ord_num, confirmation=confirmations[0])
        return finding(confirmations)

    monkeypatch.setattr(intake, "find_orders", another_worker_first)
    push(client, ("DispatchConfirmation", confirmation(a, InterfaceRecordId="r-1", DispatchId="DSP-R1")),
         ("DispatchConfirmation", confirmation(b, InterfaceRecordId="r-2", DispatchId="DSP-R2")))
    assert intake.process_pushes() == 1
    assert Dispatch.objects.get(dispatch_id="DSP-R1").repeats == 1
    assert Dispatch.objects.get(dispatch_id="DSP-R2").order == b
    assert InboundPush.objects.get().status == InboundPush.Status.PROCESSED
    assert not PushPart.objects.filter(applied_at__isnull=True).exists()


def test_the_dispatches_of_one_message_numbered_as_its_parts_are_each_taken_whole(world, client):
    """"Push Dispatch Confirmation": MessagePart/MessageTotal number the dispatches of one
    message, each dispatch a part of its own. Waiting for the "other parts" of a dispatch held
    every documented dispatch for good."""
    bluecherry, seko = world
    sent_order(bluecherry, "SO-D3", [LineFactory(line_no=1, sku="10023-NAVY-S"),
                                     LineFactory(line_no=2, sku="10023-NAVY-M")])
    sent_order(bluecherry, "SO-D3B")
    records = [p["record"] for p in dispatch_at_seko(seko) if p["kind"] == "DispatchConfirmation"]
    assert len(records) == 2
    for number, record in enumerate(records, start=1):
        record.update(MessagePart=number, MessageTotal=len(records), MessageGroupId="", SequenceNumber=41,
                      InterfaceRecordId=record["GUID"])
    push(client, *[("DispatchConfirmation", records[0])])  # the rest of the message comes later
    take_in()
    assert Dispatch.objects.get().status == Dispatch.Status.POSTED
    push(client, *[("DispatchConfirmation", records[1])])
    take_in()
    assert set(Dispatch.objects.values_list("status", flat=True)) == {Dispatch.Status.POSTED}
    assert [line["qty_shipped"] for line in bc_order(bluecherry, "SO-D3")["shipments"][0]["lines"]] == [2, 2]
    assert len(bc_order(bluecherry, "SO-D3B")["shipments"]) == 1


def test_a_dispatch_pushed_under_the_entity_name_seko_documents_is_read_with_lines_beside_it():
    """The page names the entity "Dispatch"; the line layout is not on any page we could read,
    so lines beside the dispatch (as the stock pushes put theirs) are read too."""
    body = {"Responses": [{"Response": {
        "Dispatch": {"SalesOrderNumber": "SO-X1", "DispatchId": "2dfd50ff-eb0c-4eff-bd10-5814d0b0b9f9"},
        "List": {"DispatchLineItem": {"ProductCode": "10023-NAVY-M", "Quantity": 2}}}}]}
    [record] = parse_push(json.dumps(body))
    assert record.type == "DispatchConfirmation"
    assert record.fields["List"]["DispatchLineItem"] == [{"ProductCode": "10023-NAVY-M", "Quantity": 2}]


def test_dispatch_fields_seko_names_otherwise_on_its_other_pages_are_read_as_ours():
    body = {"Responses": [{"Response": {"Dispatch": {
        "SalesOrderNumber": "SO-X2", "DispatchId": "g-1", "Courier": "RoyalMail", "CarrierService": "Next Day",
        "PrimaryTrackingNumber": "JD1GB", "DcCode": "DCCL01", "CourierName": "",
        "List": {"DispatchLineItem": [{"ProductCode": "A", "Quantity": 1}]}}}}]}
    [record] = parse_push(json.dumps(body))
    assert (record.fields["CourierName"], record.fields["CourierService"], record.fields["TrackingNumber"],
            record.fields["DCCode"]) == ("RoyalMail", "Next Day", "JD1GB", "DCCL01")


def test_a_consolidated_sku_is_split_back_across_its_lines_and_the_short_remainder_cancelled(world, client):
    bluecherry, _ = world
    order = sent_order(bluecherry, "SO-D4", [LineFactory(line_no=1, sku="10023-NAVY-M", qty_ordered=2),
                                             LineFactory(line_no=2, sku="10023-NAVY-S", qty_ordered=1),
                                             LineFactory(line_no=3, sku="10023-NAVY-M", qty_ordered=3)])
    # Seko saw one NAVY-M line of 5; it ships 3 of them from two lots and none of NAVY-S.
    push(client, ("DispatchConfirmation", confirmation(order, List={"DispatchLineItem": [
        {"LineNumber": 1, "ProductCode": "10023-NAVY-M", "LotNo": "L1", "Quantity": 2},
        {"LineNumber": 1, "ProductCode": "10023-NAVY-M", "LotNo": "L2", "Quantity": 1},
        {"LineNumber": 2, "ProductCode": "10023-NAVY-S", "Quantity": 0}]})))
    take_in()
    order.refresh_from_db()
    assert order.status == Status.PARTIALLY_DISPATCHED
    shipped = {line["line_no"]: line["qty_shipped"] for line in bc_order(bluecherry, "SO-D4")["shipments"][0]["lines"]}
    assert shipped == {1: 2, 2: 0, 3: 1}
    ours = {line.line_no: (line.qty_shipped, line.qty_cancelled) for line in OrderLine.objects.filter(order=order)}
    assert ours == {1: (2, 0), 2: (0, 1), 3: (1, 2)}
    note = order.events.last().note
    assert "Not shipped, remainder cancelled" in note and "line 3 10023-NAVY-M x2" in note


def test_a_dispatch_without_tracking_is_quarantined_and_a_later_tracking_details_posts_it(world, client):
    bluecherry, seko = world
    order = sent_order(bluecherry, "SO-D5")
    dispatch = dispatched(client, seko, order, missing_tracking_rate=1)
    assert dispatch.status == Dispatch.Status.QUARANTINED
    assert open_kinds(dispatch.dispatch_id) == {catalogue.DISPATCH_INCOMPLETE.code}
    assert bc_order(bluecherry, "SO-D5")["shipments"] == []
    push(client, ("TrackingDetails", {"InterfaceRecordId": "990100", "SequenceNumber": 7, "MessagePart": 1,
                                      "MessageTotal": 1, "SalesOrderNumber": "SO-D5",
                                      "DispatchNumber": dispatch.dispatch_id, "Courier": "RoyalMail",
                                      "TrackingNumber": "JD555GB"}))
    take_in()
    dispatch.refresh_from_db()
    assert dispatch.status == Dispatch.Status.POSTED and open_kinds(dispatch.dispatch_id) == set()
    assert bc_order(bluecherry, "SO-D5")["shipments"][0]["tracking_numbers"] == ["JD555GB"]


def test_ops_fill_in_a_missing_carrier_and_release_the_dispatch_which_posts_it(world, client):
    bluecherry, seko = world
    order = sent_order(bluecherry, "SO-D6")
    dispatch = dispatched(client, seko, order, missing_carrier_rate=1)
    assert dispatch.status == Dispatch.Status.QUARANTINED and "carrier" in dispatch.problems[0]["message"]
    user = User.objects.create_user("opsy", password="pw")
    user.groups.add(Group.objects.get_or_create(name="ops")[0])
    client.force_login(user)
    page = client.get(f"/dispatches/{dispatch.dispatch_id}/")
    assert page.status_code == 200 and b"Release and post" in page.content
    client.post(f"/dispatches/{dispatch.dispatch_id}/", {"CourierName": "RoyalMail", "CourierService": "TPN24",
                                                         "TrackingNumber": ""})
    dispatch.refresh_from_db()
    assert dispatch.status == Dispatch.Status.POSTED and open_kinds(dispatch.dispatch_id) == set()
    shipment = bc_order(bluecherry, "SO-D6")["shipments"][0]
    assert shipment["carrier"] == "RoyalMail" and shipment["ship_via"] == "RMNDAY"
    assert "released by opsy" in " ".join(order.events.values_list("note", flat=True))


def test_a_dispatch_for_an_order_we_never_sent_is_quarantined_as_unknown(world, client):
    bluecherry, _ = world
    order = sent_order(bluecherry, "SO-D7")
    push(client, ("DispatchConfirmation", confirmation(order, SalesOrderNumber="SO-NOPE", GUID="nope",
                                                       List={"DispatchLineItem": [
                                                           {"ProductCode": "10023-NAVY-M", "Quantity": 1}]})))
    take_in()
    dispatch = Dispatch.objects.get()
    assert dispatch.status == Dispatch.Status.QUARANTINED
    assert open_kinds(dispatch.dispatch_id) == {catalogue.DISPATCH_UNKNOWN_ORDER.code}


def test_lines_not_matching_the_order_are_quarantined_with_every_problem_listed(world, client):
    bluecherry, _ = world
    order = sent_order(bluecherry, "SO-D8")
    push(client, ("DispatchConfirmation", confirmation(order, TrackingNumber="", List={"DispatchLineItem": [
        {"ProductCode": "10023-NAVY-M", "Quantity": 5}, {"ProductCode": "ZZZ", "Quantity": 1}]})))
    take_in()
    dispatch = Dispatch.objects.get()
    assert open_kinds(dispatch.dispatch_id) == {catalogue.DISPATCH_LINE_MISMATCH.code,
                                                catalogue.DISPATCH_INCOMPLETE.code}
    mismatch = IntegrationException.objects.get(kind=catalogue.DISPATCH_LINE_MISMATCH.code)
    assert len(mismatch.problems) == 2 and mismatch.order == order and "SO-D8" in mismatch.request_payload
    assert bc_order(bluecherry, "SO-D8")["shipments"] == []


def test_the_poll_recovers_a_dispatch_whose_push_seko_dropped(world, client):
    bluecherry, seko = world
    order = sent_order(bluecherry, "SO-D9")
    seko.control("POST", "_sim/config", {"push_url": "http://127.0.0.1:9/never", "push_interval_seconds": 3600})
    seko.control("POST", "_sim/faults", {"drop_push_rate": 1})
    dispatch_at_seko(seko)
    assert seko.control("POST", "_sim/push/flush")["dropped"] >= 1
    result = dispatches.poll_dispatches()
    assert result["recovered"] == 1
    take_in()
    dispatch = Dispatch.objects.get(order=order)
    assert dispatch.source == Dispatch.Source.POLL and dispatch.status == Dispatch.Status.POSTED
    assert len(bc_order(bluecherry, "SO-D9")["shipments"]) == 1
    assert dispatches.poll_dispatches()["recovered"] == 0  # the next poll finds nothing missing


def test_a_stock_adjustment_is_stored_once_for_the_stock_flow(world, client):
    record = {"InterfaceRecordId": "990200", "SequenceNumber": 9, "MessagePart": 1, "MessageTotal": 1,
              "ProductCode": "10023-NAVY-M", "DCCode": "DCCL01", "Quantity": -2, "Reason": "Damaged",
              "AdjustmentDate": "2026-11-27T10:00:00Z"}
    push(client, ("StockAdjustment", record))
    push(client, ("StockAdjustment", record))
    take_in()
    part = PushPart.objects.get(type=PushPart.STOCK)
    assert part.ref == "10023-NAVY-M" and part.fields["Quantity"] == -2 and part.repeats == 1
    assert set(InboundPush.objects.values_list("status", flat=True)) == {InboundPush.Status.PROCESSED}
