"""Dashboard at volume (``manage.py bench --only dashboard``): the overview, the exception queue
(unfiltered and filtered) and an order's page, served by the web app under waitress, timed by
the load generator in its own process (median of several requests, one at a time), first with
10,000 orders and 2,000 exceptions, then with 1,000,000 orders and 200,000 exceptions.

The rows are seeded with bulk SQL (executemany on SQLite, COPY on PostgreSQL) from a template
row written once by the ORM, so seeding a million orders takes seconds, not an hour. The query
count of each page is taken by rendering it in this process through Django's test client
(the same views, middleware and templates) inside CaptureQueriesContext.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from bench.perf_common import run_loadgen, say
from demo.dispatch import start_web
from demo.processes import Supervisor
from exceptions import catalogue
from exceptions.models import IntegrationException
from integration.models import MessageLog, Order, OrderEvent, OrderLine
from integration.orders import status_counts

SCALES = {"small": ((2_000, 400), (20_000, 4_000)), "full": ((10_000, 2_000), (1_000_000, 200_000))}
REPEAT = 7
STATUSES = [(Order.Status.DISPATCHED, 80), (Order.Status.SENT, 12), (Order.Status.QUARANTINED, 3),
            (Order.Status.RECEIVED, 2), (Order.Status.CANCELLED, 2), (Order.Status.REJECTED, 1)]
SETTLED = [Order.Status.DISPATCHED, Order.Status.CANCELLED, Order.Status.QUARANTINED, Order.Status.REJECTED]
SETTLED_WEIGHTS = [97, 2.8, 0.1, 0.1]
RECENT = 5_000  # orders still in flight: about two peak days' worth
OPEN_RECENT = 2_000  # exceptions among the newest this many may still be open; older ones are resolved
DETAIL_ORDER = "BENCH-DETAIL-1"
START = datetime(2026, 1, 1, tzinfo=UTC)


def _stamp(moment: datetime) -> str:
    """A timestamp as the database takes it in text: SQLite stores naive UTC text."""
    if connection.vendor == "sqlite":
        return moment.strftime("%Y-%m-%d %H:%M:%S.%f")
    return moment.isoformat()


def _template(model: type, **fields: Any) -> tuple[list[str], list[Any]]:
    """Write one row through the ORM, read it back as text columns, delete it: a row every
    column of which is already in the database's own format."""
    instance = model.objects.create(**fields)
    table = model._meta.db_table
    columns = [f.column for f in model._meta.concrete_fields if f.column != "id"]
    quoted = ", ".join(connection.ops.quote_name(c) for c in columns) if connection.vendor == "sqlite" else \
        ", ".join(f"{connection.ops.quote_name(c)}::text" for c in columns)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {quoted} FROM {table} WHERE id = %s", [instance.pk])
        row = list(cursor.fetchone())
    model.objects.filter(pk=instance.pk).delete()
    return columns, row


def _insert(model: type, columns: list[str], rows: Iterator[list[Any]], chunk: int = 20_000) -> int:
    table = model._meta.db_table
    names = ", ".join(connection.ops.quote_name(c) for c in columns)
    count = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with transaction.atomic(), cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    count += 1
            return count
        sql = f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(columns))})"
        batch: list[list[Any]] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= chunk:
                with transaction.atomic():
                    cursor.executemany(sql, batch)
                count += len(batch)
                batch = []
        if batch:
            with transaction.atomic():
                cursor.executemany(sql, batch)
            count += len(batch)
    return count


def seed_orders(first: int, count: int, rng: random.Random) -> None:
    columns, template = _template(
        Order, ord_num="TEMPLATE", status=Order.Status.DISPATCHED, bc_status="RELEASED", bc_updated_at=START,
        customer="C1001", channel="ECOM", location="UK3PL", ship_via="RMNDAY", currency="GBP", order_date=START,
        ship_to={"name": "A Customer", "city": "Leeds", "postcode": "LS1 4AB"}, raw={"ord_num": "TEMPLATE"},
    )
    at = {name: columns.index(name) for name in ("ord_num", "status", "created_at", "updated_at", "sent_at",
                                                 "dispatched_at", "order_date", "bc_updated_at", "seko_guid")}
    weights = [w for _, w in STATUSES]
    statuses = [s for s, _ in STATUSES]

    def rows() -> Iterator[list[Any]]:
        for number in range(first, first + count):
            row = list(template)
            # The shape of a real history: orders older than the last RECENT are settled
            # (dispatched or cancelled, a few held for good); only recent ones are in flight.
            if number < first + count - RECENT:
                status = rng.choices(SETTLED, SETTLED_WEIGHTS)[0]
            else:
                status = rng.choices(statuses, weights)[0]
            created = START + timedelta(seconds=number * 25)
            row[at["ord_num"]] = f"SO-{number:08d}"
            row[at["status"]] = status
            row[at["created_at"]] = row[at["updated_at"]] = row[at["order_date"]] = row[at["bc_updated_at"]] = \
                _stamp(created)
            if status in (Order.Status.SENT, Order.Status.DISPATCHED):
                row[at["sent_at"]] = _stamp(created + timedelta(minutes=2))
                row[at["seko_guid"]] = f"guid-{number}"
            if status == Order.Status.DISPATCHED:
                row[at["dispatched_at"]] = _stamp(created + timedelta(hours=20))
            yield row

    _insert(Order, columns, rows())


def seed_exceptions(first: int, count: int, rng: random.Random) -> None:
    kinds = [k for k in catalogue.KINDS.values() if k.code.startswith(("order.", "mapping.", "dispatch."))] or \
        list(catalogue.KINDS.values())
    columns, template = _template(IntegrationException, kind=kinds[0].code, owner=str(kinds[0].owner),
                                  category=str(kinds[0].category), trace_key="TEMPLATE", message="template")
    at = {name: columns.index(name) for name in ("kind", "owner", "category", "trace_key", "status", "message",
                                                 "order_id", "first_seen_at", "last_seen_at", "resolved_at")}
    order_ids = list(Order.objects.values_list("id", flat=True))  # ids have gaps (the templates)

    def rows() -> Iterator[list[Any]]:
        for number in range(first, first + count):
            kind = kinds[number % len(kinds)]
            row = list(template)
            seen = START + timedelta(seconds=number * 120)
            # A year of history: the old ones resolved, half of the newest still open.
            is_open = number >= first + count - OPEN_RECENT and rng.random() < 0.5
            row[at["kind"]], row[at["owner"]], row[at["category"]] = kind.code, str(kind.owner), str(kind.category)
            row[at["trace_key"]] = f"order:SO-{number:08d}"
            row[at["status"]] = "open" if is_open else "resolved"
            row[at["message"]] = f"{kind.title} (order SO-{number:08d})"
            row[at["order_id"]] = rng.choice(order_ids)
            row[at["first_seen_at"]] = row[at["last_seen_at"]] = _stamp(seen)
            row[at["resolved_at"]] = None if is_open else _stamp(seen + timedelta(hours=3))
            yield row

    _insert(IntegrationException, columns, rows())


def seed_detail_order() -> Order:
    """One order with what a real one carries: lines, a timeline, messages, an exception."""
    order = Order.objects.create(ord_num=DETAIL_ORDER, status=Order.Status.SENT, bc_status="RELEASED",
                                 bc_updated_at=START, location="UK3PL", ship_via="RMNDAY",
                                 raw={"ord_num": DETAIL_ORDER})
    OrderLine.objects.bulk_create([OrderLine(order=order, line_no=n, sku=f"SKU{n:06d}-BLK-M", qty_ordered=1)
                                   for n in range(1, 4)])
    OrderEvent.objects.bulk_create([OrderEvent(order=order, from_status=a, to_status=b, note="bench")
                                    for a, b in (("", "received"), ("received", "sending"), ("sending", "sent"))])
    MessageLog.objects.bulk_create([MessageLog(system="seko", operation="submit_order", method="POST",
                                               url="http://seko.example/api/salesorders/v4/submit", status_code=200,
                                               order=order) for _ in range(2)])
    kind = next(iter(catalogue.KINDS.values()))
    IntegrationException.objects.create(kind=kind.code, owner=str(kind.owner), category=str(kind.category),
                                        trace_key=f"order:{DETAIL_ORDER}", message="bench", order=order)
    return order


def pages() -> dict[str, str]:
    kind = next(k for k in catalogue.KINDS.values() if k.code.startswith(("order.", "mapping."))) \
        if any(k.startswith(("order.", "mapping.")) for k in catalogue.KINDS) else next(iter(catalogue.KINDS.values()))
    return {"overview": "/", "exceptions": "/exceptions/",
            "exceptions_filtered": f"/exceptions/?owner={kind.owner}&kind={kind.code}",
            "order_detail": f"/orders/{DETAIL_ORDER}/"}


def query_counts(client: Client) -> dict[str, int]:
    counts = {}
    for name, url in pages().items():
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200, f"{url} answered {response.status_code}"
        counts[name] = len(queries)
        if os.environ.get("BENCH_VERBOSE"):  # which statements a page's time goes to
            for query in sorted(queries.captured_queries, key=lambda q: -float(q["time"]))[:3]:
                say(f"  {name}: {query['time']}s {query['sql'][:300]}")
    return counts


def measure(port: int, cookie: str, client: Client, data_dir: Path) -> dict[str, dict[str, Any]]:
    urls = {name: f"http://127.0.0.1:{port}{path}" for name, path in pages().items()}
    timed = run_loadgen({"mode": "get", "urls": list(urls.values()), "repeat": REPEAT,
                         "cookies": {"sessionid": cookie}}, data_dir)
    counts = query_counts(client)
    return {name: {"ms": timed[url]["median_ms"], "queries": counts[name], "statuses": timed[url]["statuses"]}
            for name, url in urls.items()}


def compact_status_counts() -> None:
    """Fold the status counter's deltas, as the every-minute schedule has done in production by
    the time anyone looks (on SQLite the seeding's triggers wrote one delta row per order)."""
    started = time.perf_counter()
    folded = status_counts.compact(connection)
    say(f"compacted {folded} order status deltas in {time.perf_counter() - started:.2f}s")


def run(data_dir: Path, *, scale: str) -> dict[str, Any]:
    (small_orders, small_exc), (big_orders, big_exc) = SCALES[scale]
    rng = random.Random(9)
    user = User.objects.create_superuser("bench", "bench@example.com", "bench-password")
    client = Client()
    client.force_login(user)
    cookie = client.cookies["sessionid"].value
    seed_detail_order()
    started = time.perf_counter()
    seed_orders(0, small_orders, rng)
    seed_exceptions(0, small_exc, rng)
    compact_status_counts()
    say(f"seeded {small_orders} orders and {small_exc} exceptions in {time.perf_counter() - started:.1f}s")
    with Supervisor(data_dir, dict(os.environ), say) as supervisor:
        port = start_web(supervisor)
        small = measure(port, cookie, client, data_dir)
    say(f"at {small_orders}: {small}")
    started = time.perf_counter()
    seed_orders(small_orders, big_orders - small_orders, rng)
    seed_exceptions(small_exc, big_exc - small_exc, rng)
    compact_status_counts()
    seed_s = time.perf_counter() - started
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # what autovacuum would have done by the time anyone looks
    say(f"seeded up to {big_orders} orders and {big_exc} exceptions in {seed_s:.1f}s")
    with Supervisor(data_dir, dict(os.environ), say) as supervisor:  # a fresh server: no warm caches
        port = start_web(supervisor)
        big = measure(port, cookie, client, data_dir)
    say(f"at {big_orders}: {big}")
    result: dict[str, Any] = {}
    for name in pages():
        result[name] = {"ms_1m": big[name]["ms"], "queries_1m": big[name]["queries"],
                        "ms_10k": small[name]["ms"], "queries_10k": small[name]["queries"],
                        "ratio": round(big[name]["ms"] / small[name]["ms"], 1) if small[name]["ms"] else None}
    result["sizes"] = {"orders_10k": small_orders + 1, "exceptions_10k": small_exc + 1,
                       "orders_1m": big_orders + 1, "exceptions_1m": big_exc + 1}
    result["seed_1m_s"] = round(seed_s, 1)
    return result
