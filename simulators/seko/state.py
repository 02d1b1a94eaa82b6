"""Small shared-state helpers over the database (counters and JSON settings rows)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import F

from .models import Counter, Setting


def next_value(name: str) -> int:
    """The next number of a named counter. The IMMEDIATE transaction serialises writers, so two
    threads never get the same value."""
    with transaction.atomic():
        Counter.objects.get_or_create(name=name)
        Counter.objects.filter(name=name).update(value=F("value") + 1)
        return Counter.objects.get(name=name).value


def get_setting(name: str) -> dict[str, Any] | None:
    row = Setting.objects.filter(name=name).first()
    return row.value if row else None


def put_setting(name: str, value: dict[str, Any]) -> None:
    Setting.objects.update_or_create(name=name, defaults={"value": value})
