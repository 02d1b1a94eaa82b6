"""The overview's hourly chart counts each order in the UTC hour of its send and of its dispatch,
on whichever database runs it, with the database doing the counting (no Python call per row, and
no sort of every order in the window)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.db.models import Count
from django.db.models.functions import TruncHour
from django.test.utils import CaptureQueriesContext

from integration.models import Order
from integration.overview import figures

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 2, 15, 40, tzinfo=UTC)


def order(number: int, sent_at: datetime | None, dispatched_at: datetime | None = None) -> Order:
    return Order.objects.create(ord_num=f"C{number}", status=Order.Status.SENT, bc_status="R", bc_updated_at=NOW,
                                location="W1", ship_via="UPS", sent_at=sent_at, dispatched_at=dispatched_at)


def test_each_order_counts_in_the_hour_it_was_sent_and_the_hour_it_was_dispatched():
    edge = datetime(2026, 12, 2, 14, 0, tzinfo=UTC)
    order(1, edge - timedelta(microseconds=1), edge + timedelta(minutes=5))  # 13:59:59.999999, out 14:05
    order(2, edge)  # exactly on the hour: the later bucket
    order(3, edge + timedelta(minutes=59, seconds=59))
    order(4, NOW - timedelta(hours=47, minutes=40))  # 16:00 two days back: the window's first hour
    order(5, NOW - timedelta(hours=48))  # 15:40 two days back: before the window
    order(6, None)

    hours = figures.window_hours(NOW)
    assert (hours[0], hours[-1]) == (datetime(2026, 11, 30, 16, tzinfo=UTC), datetime(2026, 12, 2, 15, tzinfo=UTC))
    sent = figures.hourly("sent_at", hours)
    assert sent == {datetime(2026, 12, 2, 13, tzinfo=UTC): 1, edge: 2, datetime(2026, 11, 30, 16, tzinfo=UTC): 1}
    assert figures.hourly("dispatched_at", hours) == {edge: 1}

    _svg, sent_total, dispatched_total = figures.sent_vs_dispatched_chart(NOW)
    assert (sent_total, dispatched_total) == (4, 1)


def test_the_buckets_agree_with_djangos_truncation():
    start = NOW - timedelta(hours=50)
    for n in range(70):
        order(100 + n, start + timedelta(minutes=47 * n + n % 7, seconds=n), start + timedelta(minutes=53 * n))
    hours = figures.window_hours(NOW)
    window_end = hours[-1] + timedelta(hours=1)
    for field in ("sent_at", "dispatched_at"):
        reference = (Order.objects.filter(**{f"{field}__gte": hours[0], f"{field}__lt": window_end})
                     .annotate(hour=TruncHour(field)).values("hour").annotate(n=Count("id")).order_by())
        assert figures.hourly(field, hours) == {row["hour"]: row["n"] for row in reference}


def test_the_hours_are_counted_by_the_database_in_one_statement_without_a_python_function():
    with CaptureQueriesContext(connection) as queries:
        figures.hourly("sent_at", figures.window_hours(NOW))
    assert len(queries) == 1
    assert "django_datetime_trunc" not in queries.captured_queries[0]["sql"]
