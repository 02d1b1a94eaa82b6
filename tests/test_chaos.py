"""Issue 8: the races the chaos run found, each pinned by a test that fails without its fix."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from exceptions.models import IntegrationException
from integration.models import Dispatch, Order
from integration.orders import flow as orders
from tests.test_dispatch_flow import bc_order, dispatch_at_seko, push_outbox, push_settings, sent_order, take_in  # noqa: F401
from tests.test_order_flow import run_flow, world  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db

Status = Order.Status


def test_a_dispatch_for_an_order_whose_send_reply_was_lost_waits_for_it_and_is_posted_once(world, client, settings):
    """Seko committed the order but the reply never reached us (worker killed mid-send): the
    push of its dispatch comes while the order is still SENDING here. It must wait, not be
    quarantined as an order Seko never had, and be posted once the send is recorded."""
    bluecherry, seko = world
    order = sent_order(bluecherry, "SO-C1")
    # As if the worker died after Seko committed: the order is claimed, never recorded as sent.
    Order.objects.filter(pk=order.pk).update(status=Status.SENDING, sent_at=None,
                                             claimed_at=timezone.now() - timedelta(hours=1))
    push_outbox(client, dispatch_at_seko(seko))
    take_in()
    dispatch = Dispatch.objects.get(ord_num="SO-C1")
    assert dispatch.status == Dispatch.Status.RECEIVED and "still being sent" in dispatch.last_error
    assert not IntegrationException.objects.filter(status="open", kind__startswith="dispatch.").exists()

    assert orders.recover_stale_claims() == 1  # the lease expired: the order is sent again
    run_flow()
    order.refresh_from_db()
    assert order.status == Status.SENT and order.sent_at is not None
    Dispatch.objects.filter(pk=dispatch.pk).update(next_attempt_at=None)  # its backoff elapsed
    take_in()
    dispatch.refresh_from_db()
    order.refresh_from_db()
    assert dispatch.status == Dispatch.Status.POSTED and order.status == Status.DISPATCHED
    at_bc = bc_order(bluecherry, "SO-C1")
    assert len(at_bc["shipments"]) == 1 and len(at_bc["invoices"]) == 1
    # Sent again after the lost reply: Seko refused the resend as a duplicate and kept one order.
    at_seko = {o["SalesOrderNumber"]: (o["attempts"], o["accepted_attempts"], o["duplicate_attempts"])
               for o in seko.control("GET", "_sim/orders")["orders"]}
    assert at_seko == {"SO-C1": (2, 1, 1)}
    assert bluecherry.control("GET", "_sim/state")["duplicate_posts_refused"] == 0
