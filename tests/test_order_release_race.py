"""An item going LIVE (or a mapping saved) while an order is being checked with what was read
before it: the item flow's release finds nothing held yet, so the order must release itself once
its hold is committed, or it waits for good (seen under load in the headless demo: orders held as
order.sku_not_live for SKUs long LIVE)."""

# The order-flow tests' `world` fixture is imported and then taken as a test argument by name.

from __future__ import annotations

import dataclasses

import pytest

from exceptions import catalogue
from exceptions.models import IntegrationException
from integration.models import Order
from integration.orders import flow as orders
from tests.factories import BlueCherryOrderFactory, LineFactory
from tests.test_order_flow import release, run_flow, world  # noqa: F401

pytestmark = pytest.mark.django_db

Status = Order.Status


def test_an_order_checked_with_a_sku_status_read_before_it_went_live_releases_itself(
        world, monkeypatch, django_capture_on_commit_callbacks):
    bluecherry, _ = world
    release(bluecherry, BlueCherryOrderFactory(ord_num="SO-RACE", lines=[LineFactory(line_no=1, sku="10023-NAVY-M")]))
    real = orders._lookups
    calls = []

    def read_before_it_went_live(skus: set[str]) -> orders.Lookups:
        fresh = real(skus)
        calls.append(skus)
        if len(calls) > 1:
            return fresh
        # What the batch read a moment before the item flow set the SKU LIVE and released.
        return dataclasses.replace(fresh, sku_status={**fresh.sku_status, "10023-NAVY-M": "PENDING_WMS"},
                                   seko_acknowledged=frozenset())

    monkeypatch.setattr(orders, "_lookups", read_before_it_went_live)
    orders.pull_released_orders()
    with django_capture_on_commit_callbacks(execute=True):
        orders.send_due_orders()
    order = Order.objects.get(ord_num="SO-RACE")
    assert order.status == Status.RECEIVED  # checked again after its hold: nothing wrong any more
    assert "fixed while it was being checked" in order.events.last().note
    run_flow()
    assert Order.objects.get(ord_num="SO-RACE").status == Status.SENT
    assert not IntegrationException.objects.filter(kind=catalogue.ORDER_SKU_NOT_LIVE.code, status="open").exists()


def test_an_order_still_blocked_after_its_hold_stays_held(world, django_capture_on_commit_callbacks):
    bluecherry, _ = world
    release(bluecherry, BlueCherryOrderFactory(ord_num="SO-DRAFT", lines=[LineFactory(line_no=1, sku="10023-NAVY-XL")]))
    orders.pull_released_orders()
    with django_capture_on_commit_callbacks(execute=True):
        orders.send_due_orders()
    assert Order.objects.get(ord_num="SO-DRAFT").status == Status.QUARANTINED
