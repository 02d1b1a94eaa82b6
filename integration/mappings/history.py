"""Who changed a row, when, before and after (django-simple-history)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.text import capfirst

from integration.mappings.tables import MappingTable


@dataclass(frozen=True)
class HistoryEntry:
    at: Any
    who: str
    what: str  # Created, Changed, Deleted
    changes: list[tuple[str, str, str]]  # (field, before, after)
    reason: str = ""


def _shown(value: Any) -> str:
    if value is True or value is False:
        return "yes" if value else "no"
    return str(value) if value not in (None, "") else "(empty)"


def row_history(table: MappingTable, row: Any) -> list[HistoryEntry]:
    """Every saved version of ``row``, newest first: who, when, and each field before and after."""
    labels = {name: capfirst(str(table.model._meta.get_field(name).verbose_name)) for name in table.columns}
    entries: list[HistoryEntry] = []
    previous = None
    for record in row.history.select_related("history_user").order_by("history_date", "history_id"):
        if previous is None:
            changes = [(labels[name], "", _shown(getattr(record, name))) for name in table.columns]
        else:
            delta = record.diff_against(previous, included_fields=table.columns)
            changes = [(labels[c.field], _shown(c.old), _shown(c.new)) for c in delta.changes]
        who = record.history_user.username if record.history_user else "the integration (no person signed in)"
        what = {"+": "Created", "~": "Changed", "-": "Deleted"}.get(record.history_type, record.history_type)
        entries.append(HistoryEntry(record.history_date, who, what, changes, record.history_change_reason or ""))
        previous = record
    return entries[::-1]
