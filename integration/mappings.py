"""The cross-reference tables as people edit them: forms, Seko's reference check, the release
preview, and CSV export/import. The views (mapping_views.py) only wire these to pages.

Saving an active row releases the orders it blocked through the post_save signal
(integration/signals.py), whatever saved it: this form, the CSV import, the API or the admin.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, models, transaction

from integration.clients import seko_client
from integration.clients.errors import ClientError
from integration.flows.orders import count_orders_blocked_by_mapping
from integration.models import CarrierMapping, WarehouseMapping

SERVICE_WORDS_LIST_ID = "seko-service-words"


class _CodesStripped(forms.ModelForm):
    """Codes are compared exactly by the flows, so stray spaces from a paste are removed here."""

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for name, value in list(data.items()):
            if isinstance(value, str):
                data[name] = value.strip()
        return data


class WarehouseMappingForm(_CodesStripped):
    class Meta:
        model = WarehouseMapping
        fields = ["bc_location", "seko_dc_code", "description", "active"]


class CarrierMappingForm(_CodesStripped):
    class Meta:
        model = CarrierMapping
        fields = ["bc_ship_via", "seko_courier_name", "seko_courier_service", "seko_service_description",
                  "service_level", "description", "active"]

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        # Offered from Seko's courier-service list where it gives the words (mapping_views.py).
        self.fields["seko_service_description"].widget.attrs["list"] = SERVICE_WORDS_LIST_ID


@dataclass(frozen=True)
class MappingTable:
    slug: str
    title: str
    model: type[models.Model]
    form: type[forms.ModelForm]
    key_field: str  # the Blue Cherry code the row maps
    release_arg: str  # the argument of count/release_orders_blocked_by_mapping it feeds

    @property
    def columns(self) -> list[str]:
        return list(self.form._meta.fields)

    def key_label(self) -> str:
        return str(self.model._meta.get_field(self.key_field).verbose_name)


TABLES: dict[str, MappingTable] = {
    "warehouses": MappingTable("warehouses", "Warehouses", WarehouseMapping, WarehouseMappingForm, "bc_location",
                               "location"),
    "carriers": MappingTable("carriers", "Carriers and services", CarrierMapping, CarrierMappingForm, "bc_ship_via",
                             "ship_via"),
}


# --- What the save will release ---------------------------------------------------------------

def release_preview(table: MappingTable, code: str, active: bool) -> int:
    """How many held orders saving an active row for ``code`` releases (0 for an inactive row)."""
    code = (code or "").strip()
    if not active or not code:
        return 0
    return count_orders_blocked_by_mapping(**{table.release_arg: code})


# --- Seko's reference lists -------------------------------------------------------------------

@dataclass(frozen=True)
class SekoReference:
    """Seko's active DCs and courier services; ``None`` where Seko could not say (see ``why``).
    ``service_words``: the service in words per (courier, code), where Seko's list gives them."""

    dcs: frozenset[str] | None
    services: frozenset[tuple[str, str]] | None
    why_unchecked: str = ""
    service_words: tuple[tuple[tuple[str, str], str], ...] = ()

    def words_for(self, courier: str, service: str) -> str:
        return dict(self.service_words).get((courier, service), "")


def seko_reference(refresh: bool = False) -> SekoReference:
    """Seko's reference lists, asked at most every SEKO_REFERENCE_CACHE_SECONDS (a failure is
    remembered briefly too, so a Seko outage does not slow every page)."""
    key = f"seko-reference:{settings.SEKO_BASE_URL}"
    cached = None if refresh else cache.get(key)
    if cached is not None:
        return cached
    try:
        with seko_client() as seko:
            dcs = seko.reference_dcs()
            services = seko.reference_courier_services()
            words = _service_words(seko) if services else []
        reference = SekoReference(
            frozenset(dcs) if dcs is not None else None,
            frozenset(services) if services is not None else None,
            "" if dcs is not None and services is not None else "this Seko account has no reference list for it",
            tuple(sorted(words)),
        )
        ttl = settings.SEKO_REFERENCE_CACHE_SECONDS
    except ClientError as error:
        reference = SekoReference(None, None, f"Seko did not answer ({error})")
        ttl = min(30, settings.SEKO_REFERENCE_CACHE_SECONDS)
    cache.set(key, reference, ttl)
    return reference


def _service_words(seko: Any) -> list[tuple[tuple[str, str], str]]:
    """The service in words per (courier, code), from the same reference list. Our simulator adds
    ``Description`` to each entry; no Seko page documents the list, so a list without it gives none."""

    def entry(item: Any) -> tuple[tuple[str, str], str]:
        if not isinstance(item, dict):
            return ("", ""), ""
        words = item.get("Description") or item.get("CourierServiceDescription") or ""
        return (str(item.get("CourierName") or ""), str(item.get("CourierService") or "")), str(words).strip()

    found = seko._reference("reference_courier_service_words", "reference/v1/courierservices", entry) or []
    return [(pair, words) for pair, words in found if words]


def seko_check(table: MappingTable, row: Any, reference: SekoReference) -> tuple[str, str]:
    """("ok" | "unknown" | "unchecked", message) for one row's Seko side."""
    if table.slug == "warehouses":
        if reference.dcs is None:
            return "unchecked", f"Could not be checked: {reference.why_unchecked}."
        if row.seko_dc_code not in reference.dcs:
            return "unknown", f"Seko does not know DC {row.seko_dc_code!r}: orders sent with it will be rejected."
        return "ok", "Known to Seko."
    if reference.services is None:
        return "unchecked", f"Could not be checked: {reference.why_unchecked}."
    if (row.seko_courier_name, row.seko_courier_service) not in reference.services:
        return "unknown", (f"Seko does not know courier {row.seko_courier_name!r} service "
                           f"{row.seko_courier_service!r}: orders sent with it will be rejected.")
    words = reference.words_for(row.seko_courier_name, row.seko_courier_service)
    if words and " ".join(words.split()).casefold() != " ".join(row.seko_service_description.split()).casefold():
        return "unknown", (f"Seko describes this service as {words!r}, and its dispatches may name it so; set "
                           "the service as Seko describes it to that, or they will not map back to this ship-via.")
    return "ok", "Known to Seko."


# --- CSV ------------------------------------------------------------------------------------------

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

    @property
    def ok(self) -> bool:
        return not self.errors


TRUE_WORDS, FALSE_WORDS = {"true", "1", "yes", "y", "active"}, {"false", "0", "no", "n", "inactive"}


def import_csv(table: MappingTable, text: str) -> ImportResult:
    """Create or update rows from a CSV with a header (the export's columns; ``active`` may be
    left out and means true). Every row is checked first; with any error nothing is written and
    every error is listed with its line number. Importing the same file again changes nothing."""
    result = ImportResult()
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in (reader.fieldnames or [])]
    required = [c for c in table.columns
                if c not in ("description", "active", "service_level", "seko_service_description")]
    missing = [c for c in required if c not in header]
    unknown = [h for h in header if h not in table.columns]
    if missing or unknown:
        expected = ", ".join(table.columns)
        if missing:
            result.errors.append(f"The header lacks column(s) {', '.join(missing)}; expected {expected}.")
        if unknown:
            result.errors.append(f"Unknown column(s) {', '.join(unknown)}; expected {expected}.")
        return result
    existing = {getattr(r, table.key_field): r for r in table.model.objects.all()}
    forms_to_save: list[tuple[int, forms.ModelForm, bool]] = []
    seen_keys: dict[str, int] = {}
    seen_services: dict[tuple[str, str], int] = {}
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
        if key in seen_keys:
            result.errors.append(f"Line {line_no}: {table.key_label()} {key!r} is already on line {seen_keys[key]}.")
            continue
        seen_keys[key] = line_no
        if table.slug == "carriers" and data["active"]:
            pair = (data.get("seko_courier_name", ""), data.get("seko_courier_service", ""))
            if pair in seen_services:
                result.errors.append(f"Line {line_no}: Seko service {pair[0]}/{pair[1]} is already active on line "
                                     f"{seen_services[pair]}; the way back to a ship-via must be unambiguous.")
                continue
            seen_services[pair] = line_no
        instance = existing.get(key)
        form = table.form(data=data, instance=instance)
        if not form.is_valid():
            problems = "; ".join(f"{name}: {' '.join(errs)}" for name, errs in form.errors.items())
            result.errors.append(f"Line {line_no} ({key or 'no code'}): {problems}")
            continue
        changed = instance is None or form.has_changed()
        forms_to_save.append((line_no, form, changed))
    if result.errors:
        return result
    # Counted before saving: the saves release the orders (on commit), after which none are held.
    result.releases = sum(
        release_preview(table, form.cleaned_data[table.key_field], form.cleaned_data.get("active", True))
        for _, form, changed in forms_to_save if changed
    )
    try:
        with transaction.atomic():
            for _, form, changed in forms_to_save:
                if not changed:
                    result.unchanged += 1
                    continue
                is_new = form.instance.pk is None
                form.save()
                result.created += is_new
                result.updated += not is_new
    except IntegrityError as error:
        result.errors.append(f"The rows clash with the table as it is now ({error}); nothing was imported.")
        result.created = result.updated = result.unchanged = result.releases = 0
    return result
