"""The tables as CSV: export, and an import that saves every row or none."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.db import IntegrityError, models, transaction

from integration.mappings.checked_save import SekoReference, check_codes, needs_seko_check, seko_reference
from integration.mappings.releases import release_held_dispatches_on_commit, release_preview
from integration.mappings.tables import CLASH_MESSAGE, MappingTable


def export_csv(table: MappingTable) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(table.columns)
    for row in table.model.objects.order_by(table.key_field).values_list(*table.columns):
        writer.writerow(["true" if v is True else "false" if v is False else v for v in row])
    return out.getvalue()


@dataclass
class ImportResult:
    errors: list[str] = field(default_factory=list)
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    releases: int = 0  # held orders the saved rows release
    saved_inactive: list[str] = field(default_factory=list)  # codes saved inactive: Seko's list unreadable
    unchecked_why: str = ""
    notes: list[str] = field(default_factory=list)  # codes adjusted to Blue Cherry's or Seko's spelling

    @property
    def ok(self) -> bool:
        return not self.errors


TRUE_WORDS, FALSE_WORDS = {"true", "1", "yes", "y", "active"}, {"false", "0", "no", "n", "inactive"}


# A row of the file read: its line number, its bound form, and whether saving it changes the table.
RowForm = tuple[int, forms.ModelForm, bool]


def import_csv(table: MappingTable, text: str,
               reference: Callable[[bool], SekoReference] = seko_reference) -> ImportResult:
    """Create or update rows from a CSV with a header (the export's columns; ``active`` may be
    left out and means true). Every row is checked first, its Seko codes against Seko's lists
    too; with any error nothing is written and every error is listed with its line number. When
    Seko's lists cannot be read, new or changed rows are saved inactive (and listed). Several
    ship-vias may name one Seko service. Importing the same file again changes nothing."""
    result = ImportResult()
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    result.errors.extend(_header_errors(table, reader.fieldnames or []))
    if result.errors:
        return result
    rows = _read_rows(table, reader, result)
    _check_imported_codes(table, rows, result, reference)
    if result.errors:
        return result
    # Counted before saving: the saves release the orders (on commit), after which none are held.
    result.releases = sum(
        release_preview(table, getattr(form.instance, table.key_field), form.instance.active)
        for _, form, changed in rows if changed
    )
    _save_rows(table, rows, result)
    return result


def _header_errors(table: MappingTable, fieldnames: Sequence[str]) -> list[str]:
    """What is wrong with the header: columns the table needs that it lacks, columns it does not know."""
    header = [h.strip() for h in fieldnames]
    required = [c for c in table.columns
                if c not in ("description", "active", "service_level", "seko_service_description")]
    missing = [c for c in required if c not in header]
    unknown = [h for h in header if h not in table.columns]
    expected = ", ".join(table.columns)
    errors = []
    if missing:
        errors.append(f"The header lacks column(s) {', '.join(missing)}; expected {expected}.")
    if unknown:
        errors.append(f"Unknown column(s) {', '.join(unknown)}; expected {expected}.")
    return errors


def _read_rows(table: MappingTable, reader: csv.DictReader, result: ImportResult) -> list[RowForm]:
    """Every row that is not blank as a bound form. A row with a problem is left out, its problem
    listed in ``result.errors`` with its line number."""
    existing = {getattr(r, table.key_field): r for r in table.model.objects.all()}
    # A code written in another case than its row is that row (codes match exactly, capitals included).
    existing_any_case = {code.casefold(): code for code in existing}
    rows: list[RowForm] = []
    seen_keys: dict[str, int] = {}
    for line_no, raw in enumerate(reader, start=2):
        row = {k.strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        if not any(row.values()):
            continue  # blank line
        active_text = row.get("active", "true").lower() or "true"
        if active_text not in TRUE_WORDS | FALSE_WORDS:
            result.errors.append(f"Line {line_no}: active must be true or false, not {row['active']!r}.")
            continue
        data = {**row, "active": active_text in TRUE_WORDS}
        key = data.get(table.key_field, "")
        if key not in existing and key.casefold() in existing_any_case:
            key = data[table.key_field] = existing_any_case[key.casefold()]
        if key in seen_keys:
            result.errors.append(f"Line {line_no}: {table.key_label()} {key!r} is already on line {seen_keys[key]}.")
            continue
        seen_keys[key] = line_no
        if (read := _bound_row(table, line_no, key, data, existing.get(key), result)) is not None:
            rows.append(read)
    return rows


def _bound_row(table: MappingTable, line_no: int, key: str, data: dict[str, Any], instance: models.Model | None,
               result: ImportResult) -> RowForm | None:
    """One row as the table's form would save it; ``None`` (its problems in ``result``) if invalid.
    The notes of a row that changes the table (a code's spelling adjusted) go to ``result.notes``."""
    form = table.form(data=data, instance=instance)
    if not form.is_valid():
        problems = "; ".join(f"{_field_label(form, name)}: {' '.join(errs)}" for name, errs in form.errors.items())
        result.errors.append(f"Line {line_no} ({key or 'no code'}): {problems}")
        return None
    changed = instance is None or form.has_changed()
    if changed:
        result.notes.extend(f"Line {line_no}: {note}" for note in form.notes)
    return line_no, form, changed


def _save_rows(table: MappingTable, rows: list[RowForm], result: ImportResult) -> None:
    """Save the rows that change the table, all or none: a row someone saved meanwhile with the
    same code undoes the whole import (``CLASH_MESSAGE``)."""
    try:
        with transaction.atomic():
            for _, form, changed in rows:
                if not changed:
                    result.unchanged += 1
                    continue
                is_new = form.instance.pk is None
                form.instance._change_reason = "CSV import"  # read by django-simple-history
                form.save()
                result.created += is_new
                result.updated += not is_new
            if any(changed and form.instance.active for _, form, changed in rows):
                release_held_dispatches_on_commit(table)
    except IntegrityError:
        result.errors.append(CLASH_MESSAGE)
        result.created = result.updated = result.unchanged = result.releases = 0


def _field_label(form: forms.ModelForm, name: str) -> str:
    return str(form.fields[name].label or name) if name in form.fields else "row"


def _check_imported_codes(table: MappingTable, rows: list[RowForm], result: ImportResult,
                          reference: Callable[[bool], SekoReference]) -> None:
    """The Seko check of ``save_checked``, for every new or changed row of an import: unknown
    codes become errors; unreadable lists make the row inactive (listed in the result)."""
    to_check = [(line_no, form) for line_no, form, changed in rows
                if changed and needs_seko_check(table, form)]
    if not to_check:
        return
    lists = reference(False)
    if any(check_codes(table, form.cleaned_data, lists).state != "ok" for _, form in to_check):
        lists = reference(True)  # once for the whole file: Seko may have added a code since, or be back
    for line_no, form in to_check:
        found = check_codes(table, form.cleaned_data, lists)
        key = form.cleaned_data.get(table.key_field, "")
        if found.state == "unknown":
            result.errors.append(f"Line {line_no} ({key}): {found.message}")
            continue
        for name, value in found.corrected.items():
            setattr(form.instance, name, value)
        if found.state == "unchecked" and form.instance.active:
            form.instance.active = False
            result.saved_inactive.append(key)
            result.unchecked_why = found.message
        if found.state == "ok" and found.message:
            result.notes.append(f"{key}: {found.message}")
