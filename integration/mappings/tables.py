"""The cross-reference tables as people edit them: forms, Seko's reference check, the release
preview, and CSV export/import. The views (mapping_views.py) only wire these to pages.

Saving an active row releases the orders it blocked through the post_save signal
(integration/mappings/receivers.py), whatever saved it: this form, the CSV import, the API or the admin.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.conf import settings
from django.db import models

from integration.models import CarrierMapping, Order, WarehouseMapping

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
