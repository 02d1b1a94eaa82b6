"""django-q2 entry points. Thin: each calls flows and takes work in batches.

Correctness never rests on the broker (the Redis broker loses a task whose worker dies): every
piece of work is a row with a state, and ``sync_orders`` (scheduled) finds whatever is due and
hands it out again. Running any task twice is safe.
"""

from __future__ import annotations

import logging
import math
import time

from django.conf import settings
from django_q.tasks import async_task

from integration.flows import items, orders
from integration.models import Order

log = logging.getLogger(__name__)

# How long one send task keeps taking batches before it hands over (well under Q_TIMEOUT).
SEND_TASK_BUDGET_SECONDS = 60


def sync_orders() -> dict[str, int]:
    """The order flow's heartbeat: pull what changed in Blue Cherry, then fan the sending out
    to the workers in batches, then pass on pick tickets and cancels."""
    recovered = orders.recover_stale_claims()
    items_seen, _ = items.pull_items()
    released_seen, released_applied = orders.pull_released_orders()
    cancelled_seen, _ = orders.pull_cancelled_orders()
    fanned_out = fan_out_sends()
    tickets = orders.send_owed_pick_tickets()
    cancels = orders.send_requested_cancels()
    result = {
        "recovered": recovered, "items_seen": items_seen, "released_seen": released_seen,
        "released_applied": released_applied, "cancelled_seen": cancelled_seen, "send_tasks": fanned_out,
        "pick_tickets": tickets, "cancels": cancels,
    }
    log.info("sync_orders %s", result)
    return result


def fan_out_sends() -> int:
    """Enqueue enough send tasks to keep every worker busy with the orders waiting now."""
    waiting = Order.objects.filter(status=Order.Status.RECEIVED).count()
    tasks = min(settings.Q_CLUSTER["workers"], math.ceil(waiting / settings.ORDER_BATCH_SIZE))
    for _ in range(tasks):
        async_task("integration.tasks.send_orders", task_name="send_orders")
    return tasks


def send_orders() -> int:
    """Take batches of waiting orders until none are due or the time budget is spent; then
    tell Blue Cherry about the ones sent."""
    deadline = time.monotonic() + SEND_TASK_BUDGET_SECONDS
    handled = 0
    while time.monotonic() < deadline:
        batch = orders.send_due_orders()
        if not batch:
            break
        handled += batch
    orders.send_owed_pick_tickets()
    return handled


def release_after_mapping_change(location: str | None = None, ship_via: str | None = None) -> int:
    released = orders.release_orders_blocked_by_mapping(location=location, ship_via=ship_via)
    if released:
        send_orders()
    return released
