"""Every django-q2 schedule, registered in one place: by ``manage.py setup_schedules``, and by
each worker as it starts (``ensure_schedules_on_worker_start``), from the settings of the day."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import DatabaseError
from django_q.models import Schedule

log = logging.getLogger(__name__)


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
        # The counters of rows per status (orders, items): fold the triggers' deltas every minute.
        {"name": "compact status counts", "func": "integration.tasks.compact_status_counts",
         "schedule_type": Schedule.MINUTES, "minutes": 1},
        # The workers' own heartbeat, read by /healthz/workers: a row written by a worker proves the
        # scheduler, the broker and a worker all run (django-q2's cluster stats do not: on the ORM
        # broker they live in the per-process cache, invisible to the web server).
        {"name": "workers heartbeat", "func": "integration.tasks.workers_heartbeat",
         "schedule_type": Schedule.MINUTES, "minutes": 1},
        # Reconciliation (issue 7): daily, over the last RECON_LOOKBACK_DAYS days.
        {"name": "reconcile", "func": "integration.tasks.reconcile", "schedule_type": Schedule.MINUTES,
         "minutes": settings.RECON_INTERVAL_MINUTES},
        # Retention: old messages and pushes deleted, customer data in what is kept masked (daily).
        {"name": "apply retention", "func": "integration.tasks.apply_retention", "schedule_type": Schedule.MINUTES,
         "minutes": settings.RETENTION_INTERVAL_MINUTES},
    ]


# Schedules an earlier version registered under another name: deleted, or their task (renamed
# with them) would fail every run.
RETIRED_SCHEDULES = ("compact order status counts",)


def schedules_out_of_date() -> list[str]:
    """The schedules missing, or whose timing differs from what the settings say now, and the
    retired ones still there."""
    specs = schedule_specs()
    held = {row.name: row for row in Schedule.objects.filter(name__in=[spec["name"] for spec in specs])}
    retired = list(Schedule.objects.filter(name__in=RETIRED_SCHEDULES).values_list("name", flat=True))
    return retired + [spec["name"] for spec in specs
                      if (row := held.get(spec["name"])) is None or row.repeats != -1
                      or any(getattr(row, key) != value for key, value in spec.items() if key != "name")]


def ensure_schedules_on_worker_start(sender: object = None, **kwargs: object) -> None:
    """django-q2's ``post_spawn``, sent as each worker process starts: a timing changed in the
    settings takes effect when the workers are restarted, with no ``setup_schedules`` to forget.
    Only a schedule that differs is written, so the usual start writes nothing; a failure is
    logged and never stops a worker."""
    try:
        if schedules_out_of_date():
            log.info("schedules differ from the settings: updating them (%s)", ", ".join(ensure_schedules()))
    except DatabaseError:
        log.exception("could not bring the schedules in line with the settings; run manage.py setup_schedules")


def ensure_schedules() -> list[str]:
    """Create or update the schedules and delete the retired ones; idempotent. Returns the
    names of those kept."""
    Schedule.objects.filter(name__in=RETIRED_SCHEDULES).delete()
    names = []
    for spec in schedule_specs():
        name = spec.pop("name")
        Schedule.objects.update_or_create(name=name, defaults={**spec, "repeats": -1})
        names.append(name)
    return names
