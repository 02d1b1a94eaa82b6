"""The real thing: a django-q2 cluster in its own process, over real HTTP to both simulators,
moving a generated day of orders (with the contract's default mix of problems) to Seko."""

from __future__ import annotations

import os
import time

import pytest
from django.conf import settings
from django.db import connection
from django_q.brokers import get_broker
from django_q.tasks import async_task

from demo import seed
from demo.processes import Supervisor
from exceptions.models import IntegrationException
from integration.models import Order

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.workers]


def database_url_for_workers() -> str:
    """The test database, as a URL the worker process can open."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def test_workers_send_every_valid_order_once_and_quarantine_the_rest(bluecherry, seko, tmp_path):
    get_broker().purge_queue()  # nothing left over from an earlier run on a shared broker
    seed.seed_mappings()
    seed.seed_seko_reference(seko)
    generated = seed.generate_bluecherry(bluecherry, orders=60, items=40, seed=11)
    seed.seed_seko_stock(seko, bluecherry)  # the products are the item flow's to create
    # Every planted order problem but a repeated SKU (consolidated, not held) stops an order.
    holding = ("bad_ship_via", "bad_location", "sku_not_live", "missing_address")
    planted = {ord_num for fault in holding for ord_num in generated["faults"].get(fault, [])}
    assert planted, "the default mix plants problems"


    env = {**os.environ, "DATABASE_URL": database_url_for_workers(), "Q_CLUSTER_NAME": settings.Q_CLUSTER["name"],
           "BLUECHERRY_BASE_URL": bluecherry.base_url, "SEKO_BASE_URL": seko.base_url, "Q_POLL": "0.2",
           "DJANGO_SETTINGS_MODULE": "config.settings"}
    with Supervisor(tmp_path, env, say=lambda message: None) as supervisor:
        supervisor.process("qcluster", ["manage.py", "qcluster"])
        deadline = time.monotonic() + 120
        while True:
            supervisor.check_alive()
            async_task("integration.tasks.sync_orders", task_name="sync_orders")
            time.sleep(2)
            settled = (
                Order.objects.count() == 60
                and not Order.objects.filter(status__in=[Order.Status.RECEIVED, Order.Status.SENDING]).exists()
                and not Order.objects.filter(status=Order.Status.SENT, pick_ticket_at__isnull=True).exists()
            )
            if settled:
                break
            assert time.monotonic() < deadline, list(Order.objects.values_list("status", flat=True))

    sent = set(Order.objects.filter(status=Order.Status.SENT).values_list("ord_num", flat=True))
    at_seko = {o["SalesOrderNumber"]: o for o in seko.control("GET", "_sim/orders")["orders"]}
    assert set(at_seko) == sent
    assert max(o["attempts"] for o in at_seko.values()) == 1
    assert seko.control("GET", "_sim/submit-attempts")["duplicate_refusals"] == 0
    held = Order.objects.exclude(status=Order.Status.SENT)
    assert {o.ord_num for o in held} == planted
    for order in held:
        open_kinds = set(IntegrationException.objects.filter(order=order, status="open").values_list("kind", flat=True))
        assert open_kinds == {p["kind"] for p in order.problems}, order.ord_num
