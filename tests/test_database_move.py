"""Moving the embedded database to PostgreSQL (manage.py move_database, run as the operator runs
it: a process of its own): every row of every table arrives as it was, the counts are compared
table by table, and a target that lost a row is named and refused. Runs against the machine's
PostgreSQL (CI starts it)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from exceptions import catalogue
from exceptions import services as queue
from integration.models import MessageLog, Order, OrderEvent, OrderLine
from tests.factories import CarrierMappingFactory, WarehouseMappingFactory

ROOT = Path(__file__).resolve().parent.parent
SERVER = "postgresql://postgres@127.0.0.1:5432"


@pytest.fixture
def empty_postgres() -> Iterator[str]:
    name = f"move_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(f"{SERVER}/postgres", autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        pytest.skip(f"PostgreSQL is not running at {SERVER}: {error}")
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{SERVER}/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def this_test_database_url() -> str:
    """The URL of the database the tests write to, for the command's own process."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return f"postgresql://{quote(db['USER'] or '')}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def move(to: str, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": this_test_database_url()}
    return subprocess.run([sys.executable, "manage.py", "move_database", "--to", to, *extra], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def some_of_everything() -> Order:
    WarehouseMappingFactory(bc_location="MAIN")
    mapping = CarrierMappingFactory(bc_ship_via="UPSGND")
    mapping.seko_courier_service = "GND2"
    mapping._change_reason = "service renamed by Seko"
    mapping.save()  # a second history row
    long_ago = timezone.now() - timedelta(days=40)
    order = Order.objects.create(ord_num="SO-MOVE1", customer="C1", location="MAIN", ship_via="UPSGND",
                                 status=Order.Status.SENT, bc_status="Released", bc_updated_at=long_ago,
                                 ship_to={"name": "Ada Lovelace"})
    OrderLine.objects.create(order=order, line_no=1, sku="SKU-1", qty_ordered=2, unit_price="19.99")
    OrderEvent.objects.create(order=order, from_status="received", to_status="sent", note="Sent to Seko")
    OrderEvent.objects.filter(order=order).update(at=long_ago)  # a time auto_now_add would overwrite
    Order.objects.create(ord_num="SO-MOVE2", customer="C2", location="MAIN", ship_via="UPSGND",
                         status=Order.Status.QUARANTINED, bc_status="Released", bc_updated_at=long_ago)
    queue.raise_exception(catalogue.ORDER_ADDRESS_INCOMPLETE, catalogue.order_key("SO-MOVE2"), "No postcode")
    MessageLog.objects.create(system="seko", operation="submit_order", method="POST", url="http://seko/x",
                              request_body='{"a": 1}', response_body="ok", status_code=200)
    return Order.objects.get(pk=order.pk)


@pytest.mark.django_db(transaction=True)
def test_every_row_arrives_as_it_was_and_the_counts_agree(empty_postgres):
    order = some_of_everything()
    run = move(empty_postgres)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Every table has the same rows on both sides" in run.stdout and "DIFFERENT" not in run.stdout
    for table in ("integration_order ", "integration_historicalcarriermapping", "exceptions_integrationexception",
                  "auth_permission", "django_content_type", "orders sent (status counter)"):
        assert table in run.stdout

    with psycopg.connect(empty_postgres) as moved:
        row = moved.execute("SELECT ord_num, status, bc_updated_at, ship_to FROM integration_order WHERE id = %s",
                            [order.pk]).fetchone()
        assert row == ("SO-MOVE1", "sent", order.bc_updated_at, {"name": "Ada Lovelace"})
        event_at = moved.execute("SELECT at FROM integration_orderevent WHERE order_id = %s", [order.pk]).fetchone()[0]
        assert event_at == OrderEvent.objects.get(order=order).at
        assert str(moved.execute("SELECT unit_price FROM integration_orderline").fetchone()[0]) == "19.99"
        assert moved.execute("SELECT count(*) FROM integration_historicalcarriermapping").fetchone()[0] == 2
        # The sequences are past the copied keys: the next order gets a new id, not a clash.
        next_id = moved.execute("SELECT nextval(pg_get_serial_sequence('integration_order', 'id'))").fetchone()[0]
        assert next_id > max(Order.objects.values_list("pk", flat=True))
        counter = dict(moved.execute("SELECT status, sum(n) FROM integration_orderstatuscount GROUP BY status"))
        assert counter == {"sent": 1, "quarantined": 1}


@pytest.mark.django_db(transaction=True)
def test_a_target_that_lost_a_row_is_named_and_refused(empty_postgres):
    some_of_everything()
    assert move(empty_postgres).returncode == 0
    with psycopg.connect(empty_postgres) as moved:
        moved.execute("DELETE FROM integration_messagelog")
    run = move(empty_postgres, "--compare-only")
    assert run.returncode != 0
    assert "integration_messagelog" in run.stderr and "do not switch" in run.stderr
    assert "DIFFERENT" in run.stdout


@pytest.mark.django_db(transaction=True)
def test_it_never_moves_into_a_database_that_holds_data(empty_postgres):
    some_of_everything()
    assert move(empty_postgres).returncode == 0
    run = move(empty_postgres)
    assert run.returncode != 0 and "already holds rows" in run.stderr


@pytest.mark.django_db(transaction=True)
def test_it_moves_to_postgresql_only():
    run = move("sqlite:////tmp/elsewhere.sqlite3")
    assert run.returncode != 0 and "must be a PostgreSQL URL" in run.stderr
