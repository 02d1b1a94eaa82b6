"""Issue 9: a batch's remote calls go out a few at a time, and still every order is sent to
Seko exactly once and Blue Cherry told once, over real HTTP with the simulators' latency.

Transactional tests: the sending threads have their own database connections, which see only
committed rows (inside a test's transaction the flow sends one at a time instead).
"""

from __future__ import annotations

import threading
import time

import pytest

from integration.models import Order
from integration.orders import flow as orders
from tests.factories import BlueCherryOrderFactory, LineFactory
from tests.test_order_flow import release, seko_orders, world  # noqa: F401  (world is a fixture)

pytestmark = pytest.mark.django_db(transaction=True)

LATENCY_S = 0.25
COUNT = 12


def released(bluecherry) -> list[str]:
    numbers = [f"SO-C{n}" for n in range(COUNT)]
    release(bluecherry, *[BlueCherryOrderFactory(ord_num=n, lines=[LineFactory(line_no=1, sku="10023-NAVY-M")])
                          for n in numbers])
    orders.pull_released_orders()
    return numbers


def test_a_batch_is_submitted_concurrently_and_each_order_reaches_seko_once(world, settings):
    bluecherry, seko = world
    settings.ORDER_SEND_CONCURRENCY = 6
    numbers = released(bluecherry)
    seko.control("POST", "_sim/faults", {"latency_ms": int(LATENCY_S * 1000)})
    started = time.monotonic()
    assert orders.send_due_orders(limit=COUNT) == COUNT
    elapsed = time.monotonic() - started
    # One at a time this takes at least COUNT x latency (3 s); six at once about a sixth of it.
    assert elapsed < COUNT * LATENCY_S / 2, f"{elapsed:.2f}s: the submits were not concurrent"
    at_seko = seko_orders(seko)
    assert sorted(at_seko) == sorted(numbers)
    assert {o["attempts"] for o in at_seko.values()} == {1}
    assert set(Order.objects.values_list("status", flat=True)) == {Order.Status.SENT}


def test_pick_tickets_go_concurrently_and_each_order_is_told_once(world, settings):
    bluecherry, _ = world
    settings.ORDER_SEND_CONCURRENCY = 6
    released(bluecherry)
    orders.send_due_orders(limit=COUNT)  # tells Blue Cherry at once...
    assert not Order.objects.filter(pick_ticket_at__isnull=True).exists()
    Order.objects.update(pick_ticket_at=None)  # ...so owe them again, as after a Blue Cherry outage
    bluecherry.control("POST", "_sim/faults", {"latency_ms": int(LATENCY_S * 1000)})
    started = time.monotonic()
    assert orders.send_owed_pick_tickets() == COUNT
    elapsed = time.monotonic() - started
    assert elapsed < COUNT * LATENCY_S / 2, f"{elapsed:.2f}s: the pick tickets were not concurrent"
    assert not Order.objects.filter(pick_ticket_at__isnull=True).exists()
    assert orders.send_owed_pick_tickets() == 0  # told once: nothing is owed any more


def test_two_workers_sending_at_once_never_send_an_order_twice(world, settings):
    bluecherry, seko = world
    settings.ORDER_SEND_CONCURRENCY = 4
    numbers = released(bluecherry)
    seko.control("POST", "_sim/faults", {"latency_ms": 100})
    handled: list[int] = []

    def worker() -> None:
        from django.db import connection

        try:
            handled.append(orders.send_due_orders(limit=COUNT))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(handled) == COUNT  # each order claimed by one worker only
    at_seko = seko_orders(seko)
    assert sorted(at_seko) == sorted(numbers)
    assert {o["attempts"] for o in at_seko.values()} == {1}
