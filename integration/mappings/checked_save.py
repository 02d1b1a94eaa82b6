"""A row saved only after Seko's reference lists (DCs, courier services) have been checked:
an unknown code is refused, a row whose lists cannot be read is saved inactive."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from django import forms
from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction

from integration.clients.errors import ClientError
from integration.mappings.releases import release_held_dispatches_on_commit
from integration.mappings.tables import CLASH_MESSAGE, MappingTable
from integration.shared.systems import seko_client


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
