"""The dashboard benchmark measures production-shaped data, as the people who use the pages:
each order carries its lines, timeline and messages with bodies of a real size, exceptions their
history, and every page is requested by an ordinary member of its group, never a superuser."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date, timedelta

import pytest
from django.db import connection
from django.db.models import Avg, Count
from django.db.models.functions import Length

from bench import dashboard, dashboard_seed
from exceptions.models import ExceptionEvent, IntegrationException
from integration.models import Item, MessageLog, Order, OrderEvent, OrderLine, StockPosition
from integration.orders.status_counts import ORDERS_BY_STATUS
from reconciliation.models import ReconciliationDay

pytestmark = pytest.mark.django_db

ORDERS, EXCEPTIONS, SKUS = 600, 120, 60


@pytest.fixture
def seeded(db: None) -> dashboard_seed.Counts:
    counts = dashboard_seed.Counts()
    rng = random.Random(3)
    counts.add(dashboard_seed.seed_catalogue(0, SKUS))
    counts.add(dashboard_seed.seed_orders(0, ORDERS, total=ORDERS, skus=SKUS, rng=rng))
    counts.add(dashboard_seed.seed_exceptions(0, EXCEPTIONS, orders_total=ORDERS, exceptions_total=EXCEPTIONS, rng=rng))
    counts.add(dashboard_seed.seed_reconciliation(40, orders_total=ORDERS))
    dashboard_seed.detail_order_exception(dashboard.DETAIL_NUMBER, ORDERS)
    return counts


def test_every_order_has_one_to_four_lines_and_the_timeline_of_its_status(seeded):
    assert Order.objects.count() == seeded.orders == ORDERS
    lines = Counter(OrderLine.objects.values_list("order_id", flat=True))
    assert len(lines) == ORDERS and set(lines.values()) <= {1, 2, 3, 4} and len(set(lines.values())) == 4
    assert OrderLine.objects.count() == seeded.lines
    last_step = {}
    for order_id, to_status in OrderEvent.objects.order_by("order_id", "at", "id").values_list("order_id", "to_status"):
        last_step[order_id] = to_status
    assert dict(Order.objects.values_list("id", "status")) == last_step
    assert OrderEvent.objects.count() == seeded.order_events


def test_about_six_messages_an_order_with_bodies_of_about_two_kilobytes(seeded):
    assert MessageLog.objects.count() == seeded.messages
    per_order = MessageLog.objects.count() / ORDERS
    assert 5.0 <= per_order <= 6.5
    dispatched = Order.objects.filter(status=Order.Status.DISPATCHED).annotate(n=Count("messages"))
    assert set(dispatched.values_list("n", flat=True)) == {6}
    size = MessageLog.objects.aggregate(n=Avg(Length("request_body") + Length("response_body")))["n"]
    assert 1_500 <= size <= 2_600
    operations = set(MessageLog.objects.values_list("system", "operation"))
    assert {("seko", "submit_order"), ("bluecherry", "pick_ticket"), ("bluecherry", "create_shipment")} <= operations


def test_exceptions_carry_their_history_and_the_rest_is_there(seeded):
    assert IntegrationException.objects.count() == seeded.exceptions + 1
    without_events = IntegrationException.objects.annotate(n=Count("events")).filter(n=0)
    assert not without_events.exists()
    assert ExceptionEvent.objects.filter(action="resolved").count() == \
        IntegrationException.objects.filter(status="resolved").count()
    assert IntegrationException.objects.filter(status="open").exists()
    assert StockPosition.objects.count() == Item.objects.count() == SKUS
    assert ReconciliationDay.objects.count() == seeded.reconciliation_days == 40
    # The newest order has the largest id, as in production, though histories are seeded newest first.
    assert Order.objects.order_by("-id").first().ord_num == dashboard_seed.ord_num(0)


def test_the_pages_are_requested_by_ordinary_members_of_their_groups(seeded):
    ORDERS_BY_STATUS.compact(connection)
    users = dashboard.bench_users()
    assert set(users) == {page.role for page in dashboard.pages().values()}
    for role, user in users.items():
        assert not user.is_superuser
        assert list(user.groups.values_list("name", flat=True)) == [role]
    clients = dashboard.signed_in(users)
    counts = dashboard.query_counts(clients)  # every page answers its user 200
    assert set(counts) == set(dashboard.pages())
    # The group check is real: ops may not open the finance page it does not request.
    finance_page = next(p.path for p in dashboard.pages().values() if p.role == "finance")
    assert clients["ops"].get(finance_page).status_code == 403


def test_the_small_history_reconciles_the_whole_month_the_page_shows():
    """Reconciliation runs daily whatever the volume: at 10,000 orders the month page must show as
    many days as at a million, or the ratio between the sizes measures days, not the page."""
    first_of_month = date.fromisoformat(f"{dashboard.RECON_MONTH}-01")
    small = dashboard.reconciliation_days(10_000, 1_000_000)
    assert (dashboard_seed.END - timedelta(days=small)).date() <= first_of_month
    assert dashboard.reconciliation_days(1_000_000, 1_000_000) == 365
    assert dashboard.reconciliation_days(0, 1_000_000) == 0
