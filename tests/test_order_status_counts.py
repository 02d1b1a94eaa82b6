"""The order status counter kept by the database (issue 9) equals a real GROUP BY over the orders
after every kind of write, after compaction, and after the migration is reversed and re-applied;
on PostgreSQL two transactions moving orders between statuses never wait on each other."""

from __future__ import annotations

import itertools
import threading
from datetime import timedelta
from importlib import import_module

import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.db import connection, connections, transaction
from django.db.models import Count
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from exceptions import catalogue
from exceptions.models import IntegrationException
from integration import tasks
from integration.models import Order, OrderEvent, OrderLine
from integration.orders.status_counts import ORDERS_BY_STATUS as status_counts
from integration.overview import figures as overview

S = Order.Status
STATUSES = [value for value, _ in S.choices]
SERIAL = itertools.count(100_000, 10)


def real_counts() -> dict[str, int]:
    return dict(Order.objects.values_list("status").annotate(n=Count("id")).order_by())


def delta_rows() -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {status_counts.table}")
        return cursor.fetchone()[0]


def make(n: int, status: str, start: int = 0, **fields) -> list[Order]:
    now = timezone.now()
    return Order.objects.bulk_create([Order(ord_num=f"SO-{start + i}", status=status, bc_updated_at=now,
                                            location="UK3PL", ship_via="RMNDAY", **fields) for i in range(n)])


@pytest.mark.django_db
def test_the_counter_follows_every_write_path_and_compaction_keeps_it():
    assert status_counts.counts(connection) == real_counts() == {}
    Order.objects.create(ord_num="SO-ONE", bc_updated_at=timezone.now(), location="UK3PL", ship_via="RMNDAY")
    assert status_counts.counts(connection) == real_counts() == {S.RECEIVED: 1}

    make(30, S.SENT, start=100)
    make(12, S.QUARANTINED, start=200)
    assert status_counts.counts(connection) == real_counts() == {S.RECEIVED: 1, S.SENT: 30, S.QUARANTINED: 12}

    # QuerySet.update() of the status, of other fields only, and save() of one order.
    moved = Order.objects.filter(status=S.SENT, ord_num__lt="SO-110").update(status=S.DISPATCHED)
    assert moved == 10
    Order.objects.filter(status=S.QUARANTINED).update(last_error="still held", attempts=3)
    Order.objects.filter(status=S.DISPATCHED).update(status=S.DISPATCHED)  # same status: no change
    order = Order.objects.get(ord_num="SO-ONE")
    order.customer = "C1001"
    order.save()  # every column, status unchanged
    order.status = S.SENDING
    order.save(update_fields=["status"])
    assert status_counts.counts(connection) == real_counts() == {
        S.SENDING: 1, S.SENT: 20, S.DISPATCHED: 10, S.QUARANTINED: 12}

    # Deletes: one instance, and a queryset whose orders have lines, events and an exception
    # (Django's collector deletes the children first, then the orders, in several statements).
    order.delete()
    held = list(Order.objects.filter(status=S.QUARANTINED)[:5])
    for o in held:
        OrderLine.objects.create(order=o, line_no=1, sku="SKU-1", qty_ordered=1)
        OrderEvent.objects.create(order=o, from_status="", to_status=S.QUARANTINED, note="held")
    kind = catalogue.MAPPING_CARRIER_UNKNOWN
    IntegrationException.objects.create(kind=kind.code, owner=str(kind.owner), category=str(kind.category),
                                        trace_key="order:x", message="held", order=held[0])
    _, per_model = Order.objects.filter(pk__in=[o.pk for o in held]).delete()
    assert per_model["integration.Order"] == 5 and per_model["integration.OrderLine"] == 5
    assert status_counts.counts(connection) == real_counts() == {S.SENT: 20, S.DISPATCHED: 10, S.QUARANTINED: 7}

    # Emptying a status removes it, as a GROUP BY would.
    Order.objects.filter(status=S.QUARANTINED).delete()
    assert status_counts.counts(connection) == real_counts() == {S.SENT: 20, S.DISPATCHED: 10}

    rows_before = delta_rows()
    assert rows_before > 2
    folded = tasks.compact_status_counts()
    assert folded == rows_before
    assert delta_rows() == 2  # one row per status with orders
    assert status_counts.counts(connection) == real_counts() == {S.SENT: 20, S.DISPATCHED: 10}

    # Writes after a compaction add to the folded rows; a second compaction folds them too.
    Order.objects.filter(status=S.SENT)[:1].get().delete()
    make(3, S.CANCELLED, start=900)
    assert status_counts.counts(connection) == real_counts() == {S.SENT: 19, S.DISPATCHED: 10, S.CANCELLED: 3}
    pending = delta_rows()  # PostgreSQL counts a bulk insert per statement, SQLite per row
    assert pending > 2
    assert status_counts.compact(connection) == pending
    assert delta_rows() == 3
    assert status_counts.compact(connection) == 3  # nothing new: the same rows, folded again
    assert status_counts.counts(connection) == real_counts()


OPERATIONS = st.lists(st.one_of(
    st.tuples(st.just("create"), st.integers(0, 6), st.sampled_from(STATUSES)),
    st.tuples(st.just("move"), st.sampled_from(STATUSES), st.sampled_from(STATUSES)),
    st.tuples(st.just("touch"), st.sampled_from(STATUSES), st.just("")),
    st.tuples(st.just("delete"), st.sampled_from(STATUSES), st.integers(0, 3)),
    st.tuples(st.just("compact"), st.just(0), st.just("")),
), max_size=12)


@pytest.mark.django_db
@hsettings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=OPERATIONS)
def test_any_sequence_of_writes_keeps_the_counter_equal_to_a_group_by(operations):
    # The examples share the test's database (one transaction): order numbers never repeat.
    for op, a, b in operations:
        if op == "create":
            make(a, b, start=next(SERIAL))
        elif op == "move":
            Order.objects.filter(status=a).update(status=b)
        elif op == "touch":
            Order.objects.filter(status=a).update(updated_at=timezone.now() + timedelta(seconds=1))
        elif op == "delete":
            Order.objects.filter(pk__in=list(Order.objects.filter(status=a).values_list("pk", flat=True)[:b])).delete()
        else:
            status_counts.compact(connection)
        assert status_counts.counts(connection) == real_counts(), (op, a, b)


@pytest.mark.django_db
def test_the_overview_shows_the_counter_with_the_same_statements_at_any_size():
    user = User.objects.create_superuser("boss", "boss@example.com", "pw")
    client = Client()
    client.force_login(user)
    make(3, S.SENT)
    shown = {value: n for value, _, n in client.get("/").context["orders_by_status"]}
    assert {k: v for k, v in shown.items() if v} == real_counts() == {S.SENT: 3}
    make(400, S.DISPATCHED, start=1000)
    status_counts.compact(connection)
    make(5, S.SENT, start=5000)  # deltas not yet folded are counted too
    shown = {value: n for value, _, n in client.get("/").context["orders_by_status"]}
    assert {k: v for k, v in shown.items() if v} == real_counts() == {S.SENT: 8, S.DISPATCHED: 400}
    assert overview.orders_by_status() == real_counts()


@pytest.mark.django_db
def test_lost_triggers_are_put_back_and_the_counter_recounted():
    """On SQLite a migration that rebuilds the orders table drops its triggers; ensure() (after
    every migrate, and before every compaction) reinstalls them and recounts."""
    make(4, S.SENT)
    with connection.cursor() as cursor:
        on = f" ON {status_counts.counted}" if connection.vendor == "postgresql" else ""
        cursor.execute(f"DROP TRIGGER {status_counts.prefix}_upd{on}")
        cursor.execute(f"DROP TRIGGER {status_counts.prefix}_ins{on}")
    assert status_counts.missing_triggers(connection) == {f"{status_counts.prefix}_upd", f"{status_counts.prefix}_ins"}
    Order.objects.filter(pk=Order.objects.filter(status=S.SENT).first().pk).update(status=S.DISPATCHED)
    make(2, S.RECEIVED, start=50)
    assert status_counts.counts(connection) != real_counts()  # drifted while the triggers were gone
    assert status_counts.ensure(connection) is True
    assert status_counts.missing_triggers(connection) == set()
    assert status_counts.counts(connection) == real_counts() == {S.SENT: 3, S.DISPATCHED: 1, S.RECEIVED: 2}
    assert status_counts.ensure(connection) is False
    Order.objects.filter(status=S.RECEIVED).update(status=S.SENT)
    assert status_counts.counts(connection) == real_counts()


@pytest.mark.django_db(transaction=True)
def test_the_migration_reverses_and_counts_the_existing_orders_when_reapplied():
    """Its own operation backwards and forwards (the executor would also unapply the later
    migrations of the orders table, which the model in this checkout needs)."""
    migration = import_module("integration.migrations.0007_order_status_counts")
    make(6, S.SENT)
    make(2, S.CANCELLED, start=10)
    with connection.schema_editor() as editor:
        migration.backwards(apps, editor)
    assert status_counts.table not in connection.introspection.table_names()
    assert status_counts.missing_triggers(connection) == set()  # nothing to keep before the migration
    two = list(Order.objects.filter(status=S.SENT).values_list("pk", flat=True)[:2])
    Order.objects.filter(pk__in=two).update(status=S.DISPATCHED)  # no triggers: plain writes
    make(1, S.RECEIVED, start=20)
    with connection.schema_editor() as editor:
        migration.forwards(apps, editor)
    assert status_counts.missing_triggers(connection) == set()
    assert status_counts.counts(connection) == real_counts() == {S.SENT: 4, S.DISPATCHED: 2, S.CANCELLED: 2,
                                                                 S.RECEIVED: 1}
    Order.objects.filter(status=S.CANCELLED).delete()
    assert status_counts.counts(connection) == real_counts()


@pytest.mark.django_db(transaction=True)
def test_on_postgresql_transactions_moving_orders_between_statuses_never_wait_on_each_other():
    """With one counter row per status, a transaction moving an order sent -> dispatched would
    hold the 'sent' and 'dispatched' rows until it commits, and one moving another order
    dispatched -> sent would wait for it (or deadlock). The insert-only deltas take no lock
    another writer wants: the second transaction and a compaction finish while the first is open."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has one writer at a time: nothing to contend for")
    first, second = make(1, S.SENT)[0], make(1, S.DISPATCHED, start=1)[0]
    opened, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def hold_a_transaction_open() -> None:
        try:
            with transaction.atomic():
                Order.objects.filter(pk=first.pk).update(status=S.DISPATCHED)
                opened.set()
                release.wait(30)
        except BaseException as exc:  # reported to the test thread
            errors.append(exc)
            opened.set()
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_a_transaction_open)
    holder.start()
    try:
        assert opened.wait(30)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '3s'")  # a wait would fail here instead of hanging
        with transaction.atomic():
            Order.objects.filter(pk=second.pk).update(status=S.SENT)
        status_counts.compact(connection)
        # The open transaction's change is not visible yet, and not lost by the compaction.
        assert status_counts.counts(connection) == real_counts() == {S.SENT: 2}
    finally:
        release.set()
        holder.join(30)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = 0")
    assert not errors
    assert status_counts.counts(connection) == real_counts() == {S.SENT: 1, S.DISPATCHED: 1}
    status_counts.compact(connection)
    assert status_counts.counts(connection) == real_counts() == {S.SENT: 1, S.DISPATCHED: 1}


@pytest.mark.django_db
def test_the_compaction_is_scheduled_every_minute():
    from django_q.models import Schedule

    from integration.schedules import ensure_schedules, schedules_out_of_date

    # The name an earlier version registered it under: its task is gone, so it is deleted.
    Schedule.objects.create(name="compact order status counts", func="integration.tasks.compact_order_status_counts",
                            schedule_type=Schedule.MINUTES, minutes=1, repeats=-1)
    assert "compact order status counts" in schedules_out_of_date()
    ensure_schedules()
    schedule = Schedule.objects.get(func="integration.tasks.compact_status_counts")
    assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == (Schedule.MINUTES, 1, -1)
    assert not Schedule.objects.filter(name="compact order status counts").exists()
    assert schedules_out_of_date() == []
