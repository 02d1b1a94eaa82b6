"""What deactivating a row affects: the orders at Seko or waiting that use it, said before
the save."""

from __future__ import annotations

from typing import Any

from django.db import models

from exceptions import catalogue
from integration.mappings.tables import MappingTable
from integration.models import Order, StockPosition

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
