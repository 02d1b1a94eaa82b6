"""Every django-q2 schedule, registered in one place (``manage.py setup_schedules``)."""

from __future__ import annotations

from django.conf import settings
from django_q.models import Schedule


def schedule_specs() -> list[dict]:
    return [
        {"name": "sync orders", "func": "integration.tasks.sync_orders", "schedule_type": Schedule.MINUTES,
         "minutes": settings.SYNC_INTERVAL_MINUTES},
        # Item master (issue 4): items are synced inside "sync orders" (items before orders);
        # the audit of both item masters runs on its own.
        {"name": "audit items", "func": "integration.tasks.audit_items", "schedule_type": Schedule.MINUTES,
         "minutes": settings.ITEM_AUDIT_INTERVAL_MINUTES},
        # Dispatch confirmations and monitoring (issue 5). The webhook enqueues sync_dispatches
        # as pushes arrive; the schedule is the safety net for a lost task.
        {"name": "sync dispatches", "func": "integration.tasks.sync_dispatches", "schedule_type": Schedule.MINUTES,
         "minutes": settings.SYNC_INTERVAL_MINUTES},
        {"name": "poll dispatches", "func": "integration.tasks.poll_dispatches", "schedule_type": Schedule.MINUTES,
         "minutes": settings.DISPATCH_POLL_MINUTES},
        {"name": "monitor", "func": "integration.tasks.monitor", "schedule_type": Schedule.MINUTES,
         "minutes": settings.MONITOR_INTERVAL_MINUTES},
        # Stock (issue 6): publish every push interval (whole minutes: the scheduler's unit),
        # snapshot a few times a day as Seko advises, audit Blue Cherry in between.
        {"name": "sync stock", "func": "integration.tasks.sync_stock", "schedule_type": Schedule.MINUTES,
         "minutes": max(1, round(settings.STOCK_PUSH_INTERVAL_MINUTES))},
        {"name": "snapshot stock", "func": "integration.tasks.snapshot_stock", "schedule_type": Schedule.MINUTES,
         "minutes": settings.STOCK_SNAPSHOT_INTERVAL_MINUTES},
        {"name": "audit stock", "func": "integration.tasks.audit_stock", "schedule_type": Schedule.MINUTES,
         "minutes": settings.STOCK_AUDIT_INTERVAL_MINUTES},
        # The order status counter (issue 9): fold the triggers' deltas every minute.
        {"name": "compact order status counts", "func": "integration.tasks.compact_order_status_counts",
         "schedule_type": Schedule.MINUTES, "minutes": 1},
        # Reconciliation (issue 7): daily, over the last RECON_LOOKBACK_DAYS days.
        {"name": "reconcile", "func": "integration.tasks.reconcile", "schedule_type": Schedule.MINUTES,
         "minutes": settings.RECON_INTERVAL_MINUTES},
    ]


def ensure_schedules() -> list[str]:
    """Create or update the schedules; idempotent. Returns their names."""
    names = []
    for spec in schedule_specs():
        name = spec.pop("name")
        Schedule.objects.update_or_create(name=name, defaults={**spec, "repeats": -1})
        names.append(name)
    return names
