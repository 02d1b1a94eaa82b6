"""The cross-reference tables as people edit them: forms, Seko's reference check, the release
preview, and CSV export/import. The views (mapping_views.py) only wire these to pages.

Saving an active row releases the orders it blocked through the post_save signal
(integration/signals.py), whatever saved it: this form, the CSV import, the API or the admin.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from django import forms
from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, models, transaction
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.text import capfirst
from django_q.tasks import async_task

from exceptions import catalogue
from integration.clients import seko_client
from integration.clients.errors import ClientError
from integration.flows.orders import orders_blocked_by_mapping
from integration.models import CarrierMapping, Order, StockPosition, WarehouseMapping
from integration.roles import can

SERVICE_WORDS_LIST_ID = "seko-service-words"
# Plain words for the one clash the database can still report after the form's own checks: a
# row for the same Blue Cherry code saved by someone else between the check and the save.
CLASH_MESSAGE = ("Someone saved a row for the same Blue Cherry code while you were editing; nothing was saved. "
                 "Open the table again to see it.")


class _CodesStripped(forms.ModelForm):
    """Codes are compared exactly by the flows, so stray spaces from a paste are removed here,
    and the Blue Cherry code is taken as Blue Cherry writes it (``_blue_cherry_code``).
    ``notes`` says, for the page, what was adjusted or should be checked."""

    key_field = ""
    order_field = ""  # the Order field that holds this Blue Cherry code

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.notes: list[str] = []

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for name, value in list(data.items()):
            if isinstance(value, str):
                data[name] = value.strip()
        if data.get(self.key_field):
            try:
                data[self.key_field] = self._blue_cherry_code(data[self.key_field])
            except forms.ValidationError as error:
                self.add_error(self.key_field, error)
        return data

    def _blue_cherry_code(self, code: str) -> str:
        """Blue Cherry's codes are matched exactly, capitals included (``zzfast`` never matches
        ``ZZFAST``). The spelling is taken from the orders Blue Cherry sent: a code typed in
        another case is saved as Blue Cherry writes it; a second row differing only in case is
        refused; a code no order has used yet is saved as typed, with a reminder."""
        label = self._meta.model._meta.get_field(self.key_field).verbose_name
        twin = (self._meta.model.objects.filter(**{f"{self.key_field}__iexact": code})
                .exclude(pk=self.instance.pk).exclude(**{self.key_field: code}).first())
        if twin is not None:
            raise forms.ValidationError(
                f"{getattr(twin, self.key_field)} already has a row, and {label} codes are matched exactly, "
                f"capitals included: edit that row rather than adding {code!r}.")
        spellings = sorted(set(Order.objects.filter(**{f"{self.order_field}__iexact": code})
                               .values_list(self.order_field, flat=True)))
        if code in spellings:
            return code
        if len(spellings) == 1:
            self.notes.append(f"Saved {label} as {spellings[0]}, as Blue Cherry writes it on its orders "
                              f"(you typed {code}; codes are matched exactly, capitals included).")
            return spellings[0]
        if not spellings:
            self.notes.append(f"No order from Blue Cherry has used {label} {code} yet. Codes are matched exactly, "
                              "capitals included: check it is written as Blue Cherry writes it.")
        return code


class WarehouseMappingForm(_CodesStripped):
    key_field = "bc_location"
    order_field = "location"

    class Meta:
        model = WarehouseMapping
        fields = ["bc_location", "seko_dc_code", "description", "active"]


def service_level_choices(current: str = "") -> list[tuple[str, str]]:
    """The service levels the SLA settings know (DISPATCH_SLA_BY_SERVICE), and the default.
    Keys of that setting that are a mapped ship-via (it may name one) are not levels. A row
    saved before this was a choice keeps its value, labelled for what it does."""
    default = f"{settings.DISPATCH_SLA_HOURS:g} h"
    ship_vias = set(CarrierMapping.objects.values_list("bc_ship_via", flat=True))
    choices = [("", f"Default (dispatch SLA {default})")]
    choices += [(key, f"{key} (dispatch SLA {hours:g} h)")
                for key, hours in sorted(settings.DISPATCH_SLA_BY_SERVICE.items()) if key not in ship_vias]
    if current and current not in {value for value, _ in choices}:
        choices.append((current, f"{current} (not a level the SLA settings know: the default {default} applies)"))
    return choices


class CarrierMappingForm(_CodesStripped):
    key_field = "bc_ship_via"
    order_field = "ship_via"

    class Meta:
        model = CarrierMapping
        fields = ["bc_ship_via", "seko_courier_name", "seko_courier_service", "seko_service_description",
                  "service_level", "description", "active"]

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        # Offered from Seko's courier-service list where it gives the words (mapping_views.py).
        self.fields["seko_service_description"].widget.attrs["list"] = SERVICE_WORDS_LIST_ID
        # A level the SLA settings do not know (NEXDAY) would silently get the default SLA.
        choices = service_level_choices(self.instance.service_level if self.instance.pk else "")
        known = ", ".join(value for value, _ in choices if value)
        self.fields["service_level"] = forms.ChoiceField(
            choices=choices, required=False, label="Service level",
            help_text="Sets the dispatch SLA (DISPATCH_SLA_BY_SERVICE); leave it on Default for the default SLA.",
            error_messages={"invalid_choice": f"%(value)s is not a service level the SLA settings know; choose one "
                                              f"of {known or 'none'}, or leave it empty for the default."})


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

def orders_to_release(table: MappingTable, code: str, active: bool) -> list[str]:
    """The numbers of the held orders saving an active row for ``code`` releases (none for an
    inactive row), in order."""
    code = (code or "").strip()
    if not active or not code:
        return []
    return sorted(order.ord_num for order in orders_blocked_by_mapping(**{table.release_arg: code}))


def release_preview(table: MappingTable, code: str, active: bool) -> int:
    """How many held orders saving an active row for ``code`` releases (0 for an inactive row)."""
    return len(orders_to_release(table, code, active))


def release_held_dispatches_on_commit(table: MappingTable) -> None:
    """After a carrier row is saved active: the dispatches held because no carrier row mapped
    them back are checked again (and posted) by a worker. A warehouse row holds no dispatch."""
    if table.slug != "carriers":
        return
    transaction.on_commit(lambda: async_task(
        "integration.flows.dispatches.release_dispatches_held_for_carrier",
        task_name="release_dispatches_held_for_carrier"))


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
            services = seko.reference_courier_service_list()
        reference = SekoReference(
            frozenset(dcs) if dcs is not None else None,
            frozenset((s.courier_name, s.service) for s in services) if services is not None else None,
            "" if dcs is not None and services is not None else "this Seko account has no reference list for it",
            tuple(sorted(((s.courier_name, s.service), s.description) for s in services or [] if s.description)),
        )
        ttl = settings.SEKO_REFERENCE_CACHE_SECONDS
    except ClientError as error:
        reference = SekoReference(None, None, f"Seko did not answer ({error})")
        ttl = min(30, settings.SEKO_REFERENCE_CACHE_SECONDS)
    cache.set(key, reference, ttl)
    return reference


@dataclass(frozen=True)
class CodeCheck:
    """What Seko's reference lists say of the Seko codes a row is about to be saved with.
    ``corrected``: Seko's own spelling of a code typed in another case (field name -> value)."""

    state: Literal["ok", "unknown", "unchecked"]
    message: str = ""
    field_name: str = ""  # the form field an "unknown" message belongs to
    corrected: dict[str, str] = field(default_factory=dict)


def check_codes(table: MappingTable, values: Mapping[str, Any], reference: SekoReference) -> CodeCheck:
    """Check a row's Seko side against Seko's lists (pure: the lists are given)."""
    if table.slug == "warehouses":
        dc = str(values.get("seko_dc_code") or "")
        if reference.dcs is None:
            return CodeCheck("unchecked", f"Seko's list of DCs could not be read: {reference.why_unchecked}")
        if dc in reference.dcs:
            return CodeCheck("ok")
        same = [known for known in reference.dcs if known.casefold() == dc.casefold()]
        if len(same) == 1:
            return CodeCheck("ok", f"Saved the Seko DC as {same[0]}, as Seko writes it.",
                             corrected={"seko_dc_code": same[0]})
        known = ", ".join(sorted(reference.dcs)) or "none"
        return CodeCheck("unknown", f"Seko does not know DC {dc!r}, so every order sent with it would be rejected. "
                                    f"Seko's DCs: {known}.", field_name="seko_dc_code")
    courier, service = str(values.get("seko_courier_name") or ""), str(values.get("seko_courier_service") or "")
    if reference.services is None:
        return CodeCheck("unchecked", f"Seko's list of courier services could not be read: {reference.why_unchecked}")
    if (courier, service) in reference.services:
        return CodeCheck("ok")
    same = [pair for pair in reference.services
            if pair[0].casefold() == courier.casefold() and pair[1].casefold() == service.casefold()]
    if len(same) == 1:
        return CodeCheck("ok", f"Saved the Seko courier and service as {same[0][0]} {same[0][1]}, as Seko writes them.",
                         corrected={"seko_courier_name": same[0][0], "seko_courier_service": same[0][1]})
    of_courier = sorted(code for name, code in reference.services if name.casefold() == courier.casefold())
    if of_courier:
        return CodeCheck("unknown", f"Seko does not know service {service!r} of courier {courier!r}, so every order "
                                    f"sent with it would be rejected. Seko's services of {courier}: "
                                    f"{', '.join(of_courier)}.", field_name="seko_courier_service")
    couriers = ", ".join(sorted({name for name, _ in reference.services})) or "none"
    return CodeCheck("unknown", f"Seko does not know courier {courier!r}, so every order sent with it would be "
                                f"rejected. Seko's couriers: {couriers}.", field_name="seko_courier_name")


SEKO_FIELDS = {"warehouses": ("seko_dc_code",), "carriers": ("seko_courier_name", "seko_courier_service")}


def needs_seko_check(table: MappingTable, form: forms.ModelForm) -> bool:
    """A new row, a changed Seko code or a row being made active is checked; a row whose
    description alone changed is not (its codes were checked when they were saved)."""
    if form.instance.pk is None or any(name in form.changed_data for name in SEKO_FIELDS[table.slug]):
        return True
    return "active" in form.changed_data and bool(form.cleaned_data.get("active"))


def check_before_save(table: MappingTable, values: Mapping[str, Any],
                      reference: Callable[[bool], SekoReference] = seko_reference) -> CodeCheck:
    """``check_codes`` on the cached lists, asked again once when they do not know the code or
    could not be read (Seko may have added it since, or be back)."""
    found = check_codes(table, values, reference(False))
    return found if found.state == "ok" else check_codes(table, values, reference(True))


@dataclass
class SaveOutcome:
    """What saving a form did: ``refused`` (nothing saved) or the row, with notes for the page."""

    row: Any = None
    refused: str = ""
    saved_inactive: str = ""  # why a row asked to be active was saved inactive
    notes: list[str] = field(default_factory=list)


def save_checked(table: MappingTable, form: forms.ModelForm, reason: str = "",
                 reference: Callable[[bool], SekoReference] = seko_reference) -> SaveOutcome:
    """Save a valid form after Seko's lists have been checked: an unknown code is refused (an
    error on its field, nothing saved); when the lists cannot be read the row is saved
    inactive, so no order is released into a rejection. ``reason`` goes into the row's history."""
    outcome = SaveOutcome(notes=list(getattr(form, "notes", [])))
    if needs_seko_check(table, form):
        found = check_before_save(table, form.cleaned_data, reference)
        if found.state == "unknown":
            form.add_error(found.field_name or None, found.message)
            outcome.refused = found.message
            return outcome
        for name, value in found.corrected.items():
            setattr(form.instance, name, value)
        if found.message and found.state == "ok":
            outcome.notes.append(found.message)
        if found.state == "unchecked" and form.instance.active:
            form.instance.active = False
            outcome.saved_inactive = found.message
            reason = (reason + "; " if reason else "") + "saved inactive: Seko's list could not be read"
    if reason:
        form.instance._change_reason = reason  # read by django-simple-history for the history row
    try:
        with transaction.atomic():
            outcome.row = form.save()
            if outcome.row.active:
                release_held_dispatches_on_commit(table)
    except IntegrityError:
        form.add_error(None, CLASH_MESSAGE)
        outcome.refused = CLASH_MESSAGE
    return outcome


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
    saved_inactive: list[str] = field(default_factory=list)  # codes saved inactive: Seko's list unreadable
    unchecked_why: str = ""
    notes: list[str] = field(default_factory=list)  # codes adjusted to Blue Cherry's or Seko's spelling

    @property
    def ok(self) -> bool:
        return not self.errors


TRUE_WORDS, FALSE_WORDS = {"true", "1", "yes", "y", "active"}, {"false", "0", "no", "n", "inactive"}


def import_csv(table: MappingTable, text: str,
               reference: Callable[[bool], SekoReference] = seko_reference) -> ImportResult:
    """Create or update rows from a CSV with a header (the export's columns; ``active`` may be
    left out and means true). Every row is checked first, its Seko codes against Seko's lists
    too; with any error nothing is written and every error is listed with its line number. When
    Seko's lists cannot be read, new or changed rows are saved inactive (and listed). Several
    ship-vias may name one Seko service. Importing the same file again changes nothing."""
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
    # A code written in another case than its row is that row (codes match exactly, capitals included).
    existing_any_case = {code.casefold(): code for code in existing}
    forms_to_save: list[tuple[int, forms.ModelForm, bool]] = []
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
        instance = existing.get(key)
        form = table.form(data=data, instance=instance)
        if not form.is_valid():
            problems = "; ".join(f"{_field_label(form, name)}: {' '.join(errs)}" for name, errs in form.errors.items())
            result.errors.append(f"Line {line_no} ({key or 'no code'}): {problems}")
            continue
        changed = instance is None or form.has_changed()
        if changed:
            result.notes.extend(f"Line {line_no}: {note}" for note in form.notes)
        forms_to_save.append((line_no, form, changed))
    _check_imported_codes(table, forms_to_save, result, reference)
    if result.errors:
        return result
    # Counted before saving: the saves release the orders (on commit), after which none are held.
    result.releases = sum(
        release_preview(table, getattr(form.instance, table.key_field), form.instance.active)
        for _, form, changed in forms_to_save if changed
    )
    try:
        with transaction.atomic():
            for _, form, changed in forms_to_save:
                if not changed:
                    result.unchanged += 1
                    continue
                is_new = form.instance.pk is None
                form.instance._change_reason = "CSV import"  # read by django-simple-history
                form.save()
                result.created += is_new
                result.updated += not is_new
            if any(changed and form.instance.active for _, form, changed in forms_to_save):
                release_held_dispatches_on_commit(table)
    except IntegrityError:
        result.errors.append(CLASH_MESSAGE)
        result.created = result.updated = result.unchanged = result.releases = 0
    return result


def _field_label(form: forms.ModelForm, name: str) -> str:
    return str(form.fields[name].label or name) if name in form.fields else "row"


def _check_imported_codes(table: MappingTable, forms_to_save: list[tuple[int, forms.ModelForm, bool]],
                          result: ImportResult, reference: Callable[[bool], SekoReference]) -> None:
    """The Seko check of ``save_checked``, for every new or changed row of an import: unknown
    codes become errors; unreadable lists make the row inactive (listed in the result)."""
    to_check = [(line_no, form) for line_no, form, changed in forms_to_save
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


# --- Deactivating: what it affects ------------------------------------------------------------

WAITING_TO_SEND = [Order.Status.RECEIVED, Order.Status.SENDING]
AT_SEKO = [Order.Status.SENT, Order.Status.CANCEL_REFUSED]


def _orders(count: int) -> str:
    return f"{count} order{'s' if count != 1 else ''}"


def orders_at_seko_with(table: MappingTable, row: Any) -> list[str]:
    """The numbers of the orders Seko holds for us with ``row``'s Blue Cherry code, in order."""
    code = getattr(row, table.key_field)
    return sorted(Order.objects.filter(status__in=AT_SEKO, **{table.release_arg: code})
                  .values_list("ord_num", flat=True))


def deactivation_effects(table: MappingTable, row: Any) -> list[str]:
    """What deactivating ``row`` does, in words, for the confirmation step. Deactivating stops
    new orders only: what is already at Seko goes on through the row it was sent with."""
    code = getattr(row, table.key_field)
    field_name = table.release_arg
    waiting = Order.objects.filter(status__in=WAITING_TO_SEND, **{field_name: code}).count()
    at_seko = len(orders_at_seko_with(table, row))
    kind = catalogue.MAPPING_WAREHOUSE_UNKNOWN if table.slug == "warehouses" else catalogue.MAPPING_CARRIER_UNKNOWN
    effects = [f"New orders with {table.key_label()} {code} are held ({kind.code}) until a row for it is active "
               "again; nothing is sent to Seko for them meanwhile."]
    if waiting:
        effects.append(f"{_orders(waiting)} with it waiting to be sent now will be held instead.")
    if table.slug == "carriers":
        effects.append(f"{_orders(at_seko)} already at Seko with it: they stay there, and their dispatches are "
                       f"still matched back through this row (as the orders were sent with it) and posted to "
                       f"Blue Cherry as ship-via {code}, as usual.")
        return effects
    dc = row.seko_dc_code
    effects.append(f"{_orders(at_seko)} already at Seko from it: they stay there, and the dispatch poll still "
                   f"asks DC {dc} for their dispatches.")
    stock = StockPosition.objects.filter(dc_code=dc).aggregate(
        skus=models.Count("id", filter=models.Q(free__gt=0) | models.Q(held_units__gt=0)),
        free=models.Sum("free", filter=models.Q(free__gt=0)), held=models.Sum("held_units"))
    if stock["skus"]:
        held = f" and {stock['held']} held, not for sale" if stock["held"] else ""
        effects.append(f"Stock positions at DC {dc}: {stock['skus']} SKU{'s' if stock['skus'] != 1 else ''} "
                       f"({stock['free'] or 0} units free{held}). They are still read from Seko, published to "
                       f"Blue Cherry for location {code} and audited while the DC holds stock or orders of ours, "
                       "so Blue Cherry's available figure does not go stale.")
    else:
        effects.append(f"No stock positions at DC {dc}: once it has no orders of ours either, the stock runs stop "
                       f"publishing for location {code}.")
    return effects


# --- History (django-simple-history) ----------------------------------------------------------

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


# --- Codes waiting for a row, and "Map this code" ---------------------------------------------

UNMAPPED_KIND = {"warehouses": catalogue.MAPPING_WAREHOUSE_UNKNOWN.code,
                 "carriers": catalogue.MAPPING_CARRIER_UNKNOWN.code}


@dataclass(frozen=True)
class UnmappedCode:
    code: str
    orders: list[str]  # the numbers of the orders it holds
    map_url: str


def map_code_url(table: MappingTable, code: str, back: str = "") -> str:
    """The form for ``code``: its row when one exists (inactive, or wrong), else a new row
    prefilled with it. ``back``: where the saved form returns to."""
    row = table.model.objects.filter(**{table.key_field: code}).first()
    if row is not None:
        url, params = reverse("mapping_edit", args=[table.slug, row.pk]), {}
    else:
        url, params = reverse("mapping_new", args=[table.slug]), {table.key_field: code}
    if back:
        params["next"] = back
    return url + (f"?{urlencode(params)}" if params else "")


def unmapped_codes(table: MappingTable) -> list[UnmappedCode]:
    """The Blue Cherry codes that open ``mapping.*`` exceptions hold orders for, most orders first."""
    from exceptions.models import IntegrationException

    kind = UNMAPPED_KIND[table.slug]
    held: dict[str, set[str]] = {}
    open_ones = IntegrationException.objects.filter(kind=kind, status=IntegrationException.Status.OPEN)
    for problems, ord_num, trace_key in open_ones.values_list("problems", "order__ord_num", "trace_key"):
        for problem in problems or []:
            if isinstance(problem, dict) and problem.get("kind") == kind and problem.get("value"):
                held.setdefault(str(problem["value"]), set()).add(ord_num or trace_key)
    return [UnmappedCode(code, sorted(orders), map_code_url(table, code))
            for code, orders in sorted(held.items(), key=lambda item: (-len(item[1]), item[0]))]


def map_code_links(exception: Any, user: Any) -> list[tuple[str, str]]:
    """(label, url) of the mapping forms that fix an open mapping exception, for a person who may
    edit the tables: the code it names, prefilled; for a rejection, the rows the order used."""
    if not can(user, "edit_mappings") or exception.status != "open":
        return []
    back = reverse("exception_detail", args=[exception.pk])
    links: list[tuple[str, str]] = []
    for slug, kind in UNMAPPED_KIND.items():
        if exception.kind != kind:
            continue
        table = TABLES[slug]
        codes = sorted({str(p["value"]) for p in exception.problems or []
                        if isinstance(p, dict) and p.get("kind") == kind and p.get("value")})
        links += [(f"Map this code: {table.key_label()} {code}", map_code_url(table, code, back)) for code in codes]
    if exception.kind == catalogue.ORDER_REJECTED_MAPPING.code and exception.order is not None:
        for table, code in ((TABLES["warehouses"], exception.order.location),
                            (TABLES["carriers"], exception.order.ship_via)):
            if code and table.model.objects.filter(**{table.key_field: code}).exists():
                links.append((f"Check the {table.title.lower()} row for {code}", map_code_url(table, code, back)))
    return links
