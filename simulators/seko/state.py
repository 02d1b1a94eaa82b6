"""Small shared-state helpers over the database (counters and JSON settings rows).

The simulator is one process (waitress threads), and every settings write goes through
``put_setting`` or ``forget_settings`` here, so settings are read from the database once and then
kept in memory: a read on every API call (the fault config, the push config) was a fifth of the
Seko simulator's CPU on a peak day, on the two cores it shares with the integration.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

from django.db import connection

from .models import Counter, Setting

_settings: dict[str, dict[str, Any] | None] = {}
_settings_lock = threading.Lock()  # a miss's read and every write, so no stale value is kept


def next_value(name: str) -> int:
    """The next number of a named counter (the first is 1), in one statement: an upsert that
    returns the new value. SQLite runs one writer at a time, so two threads never get the same
    value."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Counter._meta.db_table} (name, value) VALUES (%s, 1) "
            "ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value", [name])
        return int(cursor.fetchone()[0])


def get_setting(name: str) -> dict[str, Any] | None:
    """A copy: a caller changing what it read changes nothing until it puts it back."""
    if name not in _settings:
        with _settings_lock:
            if name not in _settings:
                row = Setting.objects.filter(name=name).first()
                _settings[name] = row.value if row else None
    return copy.deepcopy(_settings[name])


def put_setting(name: str, value: dict[str, Any]) -> None:
    with _settings_lock:
        Setting.objects.update_or_create(name=name, defaults={"value": value})
        _settings[name] = copy.deepcopy(value)


def forget_settings() -> None:
    """After the settings rows were deleted (a reset): read them again when next asked for."""
    with _settings_lock:
        _settings.clear()
