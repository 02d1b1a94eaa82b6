"""Every django-q2 schedule, registered in one place (``manage.py setup_schedules``)."""

from __future__ import annotations

from django.conf import settings
from django_q.models import Schedule


def schedule_specs() -> list[dict]:
    return [
        {"name": "sync orders", "func": "integration.tasks.sync_orders", "schedule_type": Schedule.MINUTES,
         "minutes": settings.SYNC_INTERVAL_MINUTES},
    ]


def ensure_schedules() -> list[str]:
    """Create or update the schedules; idempotent. Returns their names."""
    names = []
    for spec in schedule_specs():
        name = spec.pop("name")
        Schedule.objects.update_or_create(name=name, defaults={**spec, "repeats": -1})
        names.append(name)
    return names
