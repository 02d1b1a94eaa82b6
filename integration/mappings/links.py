"""Codes waiting for a row, and the "Map this code" links an exception's page shows: they
import no flow, so the exception queue may use them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.urls import reverse
from django.utils.http import urlencode

from exceptions import catalogue
from integration.mappings.tables import TABLES, MappingTable
from integration.shared.roles import can

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
