"""Model rows to the contract's JSON bodies. Plain functions; the API bodies hold exactly the
contract's fields, the control API adds what only a tester needs (wms_reference, history)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from simulators.bluecherry.httputil import fmt_date, fmt_dt
from simulators.bluecherry.models import AtsBatch, InventoryPosition, Invoice, Item, Notification, SalesOrder, Shipment

SHIP_TO_KEYS = (
    "name",
    "company",
    "address1",
    "address2",
    "address3",
    "city",
    "county",
    "postcode",
    "country",
    "phone",
    "email",
)


def _as_is(row: object, *names: str) -> dict[str, Any]:
    """The named attributes under their own names, for the contract fields that need no formatting."""
    return {name: getattr(row, name) for name in names}


def money(value: Decimal | str | int | float) -> str:
    return str(Decimal(str(value)).quantize(Decimal("0.01")))


def item(row: Item) -> dict[str, Any]:
    return {
        **_as_is(row, "sku", "division", "style", "style_name", "color_code", "color_name", "label", "dimension",
                 "size", "size_bucket", "upc", "season", "hs_number", "country_of_origin"),
        "weight_kg": str(Decimal(row.weight_kg).quantize(Decimal("0.001"))),
        "wholesale_price": money(row.wholesale_price),
        "retail_price": money(row.retail_price),
        "currency": row.currency,
        "status": row.status,
        "updated_at": fmt_dt(row.updated_at),
    }


def item_control(row: Item) -> dict[str, Any]:
    return {**item(row), "wms_reference": row.wms_reference}


def order(row: SalesOrder) -> dict[str, Any]:
    return {
        **_as_is(row, "ord_num", "division", "season", "customer", "customer_name", "channel", "location", "ship_via"),
        "order_date": fmt_dt(row.order_date),
        "start_date": fmt_date(row.start_date),
        "cancel_date": fmt_date(row.cancel_date),
        "currency": row.currency,
        "status": row.status,
        "ship_to": {key: (row.ship_to or {}).get(key, "") for key in SHIP_TO_KEYS},
        "lines": [order_line(line) for line in row.lines or []],
        "updated_at": fmt_dt(row.updated_at),
    }


def order_line(line: dict[str, Any]) -> dict[str, Any]:
    return {
        "line_no": line["line_no"],
        "sku": line.get("sku", ""),
        "upc": line.get("upc", ""),
        "qty_ordered": line.get("qty_ordered", 0),
        "qty_shipped": line.get("qty_shipped", 0),
        "qty_cancelled": line.get("qty_cancelled", 0),
        "unit_price": money(line.get("unit_price", "0")),
    }


def order_control(row: SalesOrder) -> dict[str, Any]:
    return {
        **order(row),
        "wms_reference": row.wms_reference,
        "shipments": [shipment(s) for s in row.shipments.select_related("order", "invoice").order_by("id")],
        "invoices": [invoice(i) for i in row.invoices.select_related("order", "shipment").order_by("id")],
        "notifications": [notification(n) for n in row.notifications.select_related("order").order_by("id")],
    }


def shipment(row: Shipment) -> dict[str, Any]:
    try:
        invoice_num: str | None = row.invoice.invoice_num
    except Invoice.DoesNotExist:
        invoice_num = None
    return {
        "ship_num": row.ship_num,
        "ord_num": row.order.ord_num,
        "wms_dispatch_id": row.wms_dispatch_id,
        "ship_date": fmt_dt(row.ship_date),
        "carrier": row.carrier,
        "ship_via": row.ship_via,
        "tracking_numbers": list(row.tracking_numbers or []),
        "lines": list(row.lines or []),
        "cancel_remainder": row.cancel_remainder,
        "invoice_num": invoice_num,
        "created_at": fmt_dt(row.created_at),
    }


def invoice(row: Invoice) -> dict[str, Any]:
    return {
        "invoice_num": row.invoice_num,
        "ord_num": row.order.ord_num,
        "ship_num": row.shipment.ship_num if row.shipment_id else None,  # None: raised by hand
        "invoice_date": fmt_date(row.invoice_date),
        "customer": row.customer,
        "currency": row.currency,
        "amount": money(row.amount),
        "lines": list(row.lines or []),
        "created_at": fmt_dt(row.created_at),
    }


def notification(row: Notification) -> dict[str, Any]:
    return {
        "id": row.id,
        "ord_num": row.order.ord_num,
        **_as_is(row, "kind", "recipient", "subject", "payload"),
        "created_at": fmt_dt(row.created_at),
    }


def inventory(row: InventoryPosition) -> dict[str, Any]:
    return {
        **_as_is(row, "sku", "location", "on_hand", "wip"),
        # Blue Cherry's own ATS counts open work orders: fine for planning, wrong for selling.
        "ats": row.on_hand + row.wip,
        "channel_available": row.channel_available,
        "channel_available_as_of": fmt_dt(row.channel_available_as_of),
    }


def ats_batch(row: AtsBatch) -> dict[str, Any]:
    return {
        "batch_id": row.batch_id,
        "location": row.location,
        "as_of": fmt_dt(row.as_of),
        "status": row.status,
        "accepted": len(row.positions or []),
        "queued_at": fmt_dt(row.created_at),
        "applied_at": fmt_dt(row.applied_at),
        "errors": list(row.errors or []),
    }
