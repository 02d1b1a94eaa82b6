"""What the control API does to the simulator's data: upserts, edits as a Blue Cherry user
would make them, generation, reset and counts. Separate from services.py, which is what the
ERP itself does when the integration calls it."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone
from django.utils.dateparse import parse_date

from simulators.bluecherry import faults, generate, tally
from simulators.bluecherry.httputil import ApiError, Details, parse_iso_datetime, validation_error
from simulators.bluecherry.models import (
    ITEM_STATUSES,
    ORDER_STATUSES,
    AtsBatch,
    InventoryPosition,
    Invoice,
    Item,
    Notification,
    SalesOrder,
    Shipment,
)
from simulators.bluecherry.serializers import SHIP_TO_KEYS

T = TypeVar("T")

ITEM_TEXT = (
    "division",
    "style",
    "style_name",
    "color_code",
    "color_name",
    "label",
    "dimension",
    "size",
    "upc",
    "season",
    "hs_number",
    "country_of_origin",
    "currency",
    "wms_reference",
)
ITEM_DECIMALS = ("weight_kg", "wholesale_price", "retail_price")
ORDER_TEXT = (
    "division",
    "season",
    "customer",
    "customer_name",
    "channel",
    "location",
    "ship_via",
    "currency",
    "wms_reference",
)
ORDER_DEFAULTS: dict[str, Any] = {
    "division": "CAS",
    "season": "AW26",
    "channel": "ECOM",
    "location": "UK3PL",
    "ship_via": "RMNDAY",
    "currency": "GBP",
    "status": "RELEASED",
}
PATCHABLE = {
    *ORDER_TEXT,
    "ship_to",
    "lines",
    "status",
    "order_date",
    "start_date",
    "cancel_date",
    "updated_at",
}


# ---- items -------------------------------------------------------------------------------------


def upsert_items(payloads: list[Any]) -> list[Item]:
    return _upsert_all(payloads, "sku", "each item needs a sku", _upsert_item)


def _upsert_all(payloads: list[Any], key: str, missing_key: str, upsert: Callable[[str, dict[str, Any]], T]) -> list[T]:
    """Every payload or none: each must be an object with its key, then ``upsert`` takes it with
    its place in the list (``[2]``) for the error details."""
    with transaction.atomic():
        rows = []
        for index, data in enumerate(payloads):
            where = f"[{index}]"
            if not isinstance(data, dict) or not isinstance(data.get(key), str) or not data[key]:
                raise validation_error([{"field": f"{where}.{key}", "message": missing_key}])
            rows.append(upsert(where, data))
        return rows


def _upsert_item(where: str, data: dict[str, Any]) -> Item:
    details: Details = []
    fields: dict[str, Any] = {}
    for name in ITEM_TEXT:
        if name in data:
            fields[name] = "" if data[name] is None else str(data[name])
    for name in ITEM_DECIMALS:
        if name in data:
            fields[name] = _decimal(data[name], f"{where}.{name}", details)
    if "size_bucket" in data:
        fields["size_bucket"] = _whole(data["size_bucket"], f"{where}.size_bucket", details)
    existing = Item.objects.filter(sku=data["sku"]).first()
    # A new item without a status is LIVE, the state most tests want; an update keeps its own.
    status = data.get("status", existing.status if existing else "LIVE")
    if status not in ITEM_STATUSES:
        details.append({"field": f"{where}.status", "message": f"must be one of {', '.join(ITEM_STATUSES)}"})
    fields["status"] = status
    fields["updated_at"] = _timestamp(data.get("updated_at"), f"{where}.updated_at", details)
    inventory = data.get("inventory") or []
    if details:
        raise validation_error(details)
    item = existing or Item(sku=data["sku"])
    for name, value in fields.items():
        setattr(item, name, value)
    item.save()
    if inventory:
        set_inventory([{**row, "sku": item.sku} for row in inventory if isinstance(row, dict)])
    return item


def set_inventory(rows: list[Any]) -> list[InventoryPosition]:
    """Set on_hand / wip (and, for tests, channel_available) per SKU and location."""
    details: Details = []
    result = []
    with transaction.atomic():
        for index, row in enumerate(rows):
            where = f"[{index}]"
            if (
                not isinstance(row, dict)
                or not row.get("sku")
                or not Item.objects.filter(sku=row["sku"]).exists()
            ):
                details.append({"field": f"{where}.sku", "message": "must be a known SKU"})
                continue
            position, _ = InventoryPosition.objects.get_or_create(
                sku=row["sku"], location=row.get("location") or "UK3PL"
            )
            for name in ("on_hand", "wip", "channel_available"):
                if name in row:
                    setattr(position, name, _whole(row[name], f"{where}.{name}", details, allow_none=True))
            position.save()
            result.append(position)
        if details:
            raise validation_error(details)
    return result


# ---- orders ------------------------------------------------------------------------------------


def upsert_orders(payloads: list[Any]) -> list[SalesOrder]:
    return _upsert_all(payloads, "ord_num", "each order needs an ord_num", _upsert_order)


def _upsert_order(where: str, data: dict[str, Any]) -> SalesOrder:
    order = SalesOrder.objects.filter(ord_num=data["ord_num"]).first()
    if order is None:
        order = SalesOrder(ord_num=data["ord_num"], **ORDER_DEFAULTS)
        data = {"order_date": None, "ship_to": {}, "lines": [], **data}
    details: Details = []
    _apply_order_fields(order, data, where, details, merge_ship_to=False)
    if order.order_date is None:
        order.order_date = order.updated_at
    if order.start_date is None:
        order.start_date = order.order_date.date()
    if order.cancel_date is None:
        order.cancel_date = order.start_date + timedelta(days=7)
    if not order.customer_name:
        order.customer_name = str((order.ship_to or {}).get("name", ""))
    if details:
        raise validation_error(details)
    order.save()
    return order


def patch_order(ord_num: str, data: dict[str, Any]) -> SalesOrder:
    """Change an order as a Blue Cherry user would; it always moves updated_at forward."""
    unknown = sorted(set(data) - PATCHABLE)
    if unknown:
        raise validation_error([{"field": name, "message": "cannot be changed"} for name in unknown])
    with transaction.atomic():
        order = SalesOrder.objects.filter(ord_num=ord_num).first()
        if order is None:
            raise ApiError(404, "not_found", f"Sales order '{ord_num}' does not exist.")
        details: Details = []
        _apply_order_fields(order, data, "", details, merge_ship_to=True)
        if details:
            raise validation_error(details)
        order.save()
    return order


def cancel_order(ord_num: str) -> SalesOrder:
    with transaction.atomic():
        order = SalesOrder.objects.filter(ord_num=ord_num).first()
        if order is None:
            raise ApiError(404, "not_found", f"Sales order '{ord_num}' does not exist.")
        if order.status == "CANCELLED":
            return order
        if order.status in ("SHIPPED", "INVOICED"):
            raise ApiError(
                409, "conflict", f"Sales order {ord_num} is {order.status}; it can no longer be cancelled."
            )
        for line in order.lines:
            line["qty_cancelled"] = int(line.get("qty_ordered", 0)) - int(line.get("qty_shipped", 0))
        order.status = "CANCELLED"
        order.updated_at = timezone.now()
        order.save(update_fields=["status", "lines", "updated_at"])
    return order


def _apply_order_fields(
    order: SalesOrder, data: dict[str, Any], where: str, details: Details, merge_ship_to: bool
) -> None:
    prefix = f"{where}." if where else ""
    for name in ORDER_TEXT:
        if name in data:
            setattr(order, name, "" if data[name] is None else str(data[name]))
    if "status" in data:
        if data["status"] not in ORDER_STATUSES:
            details.append(
                {"field": f"{prefix}status", "message": f"must be one of {', '.join(ORDER_STATUSES)}"}
            )
        else:
            order.status = data["status"]
    if "order_date" in data:
        order.order_date = (
            None
            if data["order_date"] is None
            else _timestamp(data["order_date"], f"{prefix}order_date", details)
        )
    for name in ("start_date", "cancel_date"):
        if name in data:
            setattr(order, name, _date(data[name], f"{prefix}{name}", details))
    if "ship_to" in data:
        ship_to = data["ship_to"]
        if not isinstance(ship_to, dict):
            details.append({"field": f"{prefix}ship_to", "message": "must be an object"})
        else:
            base = dict(order.ship_to or {}) if merge_ship_to else {}
            base.update({key: "" if value is None else str(value) for key, value in ship_to.items()})
            order.ship_to = {key: base.get(key, "") for key in SHIP_TO_KEYS} | base
    if "lines" in data:
        order.lines = _lines(data["lines"], f"{prefix}lines", details)
    # An edit is a change in Blue Cherry: it moves updated_at unless the caller sets it.
    order.updated_at = _timestamp(data.get("updated_at"), f"{prefix}updated_at", details)


def _lines(lines: Any, where: str, details: Details) -> list[dict[str, Any]]:
    if not isinstance(lines, list):
        details.append({"field": where, "message": "must be a list"})
        return []
    items = {
        item.sku: item
        for item in Item.objects.filter(sku__in=[line.get("sku") for line in lines if isinstance(line, dict)])
    }
    result = []
    for index, line in enumerate(lines):
        here = f"{where}[{index}]"
        if not isinstance(line, dict) or not isinstance(line.get("sku"), str):
            details.append({"field": f"{here}.sku", "message": "each line needs a sku"})
            continue
        item = items.get(line["sku"])
        price = line.get("unit_price", item.retail_price if item else "0.00")
        result.append(
            {
                "line_no": _whole(line.get("line_no", index + 1), f"{here}.line_no", details),
                "sku": line["sku"],
                "upc": str(line.get("upc", item.upc if item else "") or ""),
                "qty_ordered": _whole(line.get("qty_ordered", 1), f"{here}.qty_ordered", details),
                "qty_shipped": _whole(line.get("qty_shipped", 0), f"{here}.qty_shipped", details),
                "qty_cancelled": _whole(line.get("qty_cancelled", 0), f"{here}.qty_cancelled", details),
                "unit_price": str(_decimal(price, f"{here}.unit_price", details).quantize(Decimal("0.01"))),
            }
        )
    return result


# ---- generate, reset, state -------------------------------------------------------------------------


def generate_data(body: dict[str, Any]) -> dict[str, Any]:
    params, details = generate.parse_params(body)
    if params is None:
        raise validation_error(details, "The generate request is not valid.")
    now = timezone.now()
    with transaction.atomic():
        existing = _existing()
        try:
            plan = generate.build(random.Random(params.seed), params, existing, now)
        except ValueError as exc:
            raise validation_error([{"field": "items", "message": str(exc)}], str(exc)) from exc
        Item.objects.bulk_create([Item(**item) for item in plan.items], batch_size=500)
        InventoryPosition.objects.bulk_create(
            [InventoryPosition(**row) for row in plan.positions], batch_size=500
        )
        SalesOrder.objects.bulk_create([SalesOrder(**order) for order in plan.orders], batch_size=500)
    return plan.summary()


def _existing() -> generate.Existing:
    skus, upcs, styles = set(), set(), set()
    for sku, upc, style in Item.objects.values_list("sku", "upc", "style").iterator():
        skus.add(sku)
        styles.add(style)
        if upc:
            upcs.add(upc)
    highest = (
        SalesOrder.objects.filter(ord_num__regex=r"^SO-[0-9]{6}$")
        .order_by("-ord_num")
        .values_list("ord_num", flat=True)
        .first()
    )

    def sample(queryset: Any) -> tuple[dict[str, Any], ...]:
        return tuple(
            {"sku": i.sku, "upc": i.upc, "retail_price": str(i.retail_price)}
            for i in queryset.order_by("sku")[:500]
        )

    return generate.Existing(
        skus=frozenset(skus),
        upcs=frozenset(upcs),
        styles=frozenset(styles),
        highest_order_number=int(highest[3:]) if highest else 0,
        live_items=sample(Item.objects.filter(status="LIVE")),
        not_live_items=sample(Item.objects.exclude(status="LIVE")),
        # Waiting for the warehouse and sound (not a planted invalid item): the item flow will
        # set them LIVE, so orders may use them when nothing is LIVE yet.
        ready_items=sample(Item.objects.filter(status="PENDING_WMS", pk__in=[
            i.pk for i in Item.objects.filter(status="PENDING_WMS").exclude(hs_number="").order_by("sku")[:2000]
            if generate.is_valid_gtin13(i.upc) and re.fullmatch(r"[A-Z]{2}", i.country_of_origin or "")
        ])),
    )


def reset() -> None:
    with transaction.atomic():
        for model in (Notification, Invoice, Shipment, SalesOrder, InventoryPosition, AtsBatch, Item):
            model.objects.all().delete()
    faults.reset()
    tally.reset()


def state() -> dict[str, Any]:
    def by_status(model: Any) -> dict[str, int]:
        return {row["status"]: row["n"] for row in model.objects.values("status").annotate(n=Count("id"))}

    return {
        "items": Item.objects.count(),
        "items_by_status": by_status(Item),
        "orders": SalesOrder.objects.count(),
        "orders_by_status": by_status(SalesOrder),
        "shipments": Shipment.objects.count(),
        "invoices": Invoice.objects.count(),
        # A second post of a dispatch is refused, so no shipment or invoice is ever doubled: these
        # count how often that happened (our side posting a dispatch it had already posted).
        "duplicate_posts_refused": Shipment.objects.aggregate(n=Sum("duplicate_posts"))["n"] or 0,
        "dispatches_posted_more_than_once": sorted(Shipment.objects.filter(duplicate_posts__gt=0)
                                                   .values_list("wms_dispatch_id", flat=True)),
        "notifications": Notification.objects.count(),
        **tally.counts(),  # items set LIVE through the API, and how many more than once
        "inventory_positions": InventoryPosition.objects.count(),
        "ats_batches": AtsBatch.objects.count(),
        "ats_batches_by_status": by_status(AtsBatch),
        "faults": faults.current().as_dict(),
    }


# ---- value parsing -------------------------------------------------------------------------------


def _decimal(value: Any, field: str, details: Details) -> Decimal:
    try:
        if isinstance(value, bool):
            raise InvalidOperation
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        details.append({"field": field, "message": "must be a decimal number"})
        return Decimal("0")


def _whole(value: Any, field: str, details: Details, allow_none: bool = False) -> Any:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        details.append({"field": field, "message": "must be a whole number"})
        return 0
    return value


def _timestamp(value: Any, field: str, details: Details) -> datetime:
    if value is None:
        return timezone.now()
    parsed = parse_iso_datetime(value)
    if parsed is None:
        details.append({"field": field, "message": "must be an ISO 8601 date-time"})
        return timezone.now()
    return parsed


def _date(value: Any, field: str, details: Details) -> Any:
    if value is None:
        return None
    try:
        parsed = parse_date(str(value)[:10])
    except ValueError:
        parsed = None
    if parsed is None:
        details.append({"field": field, "message": "must be a date (YYYY-MM-DD)"})
    return parsed


# ---- planted differences (issue 7: reconciliation) -----------------------------------------------
# What a Blue Cherry user may do by hand after the integration posted a shipment: raise an
# invoice, edit a shipped quantity, change an invoice's amount. The reconciliation must find each.


def raise_invoice(data: dict[str, Any]) -> Invoice:
    """An invoice raised by hand, tied to no shipment. Without ``amount`` it bills what the order
    has shipped (else what it ordered), at the order's prices."""
    ord_num = data.get("ord_num")
    order = SalesOrder.objects.filter(ord_num=ord_num).first() if isinstance(ord_num, str) else None
    if order is None:
        raise ApiError(404, "not_found", f"Sales order '{ord_num}' does not exist.")
    details: Details = []
    lines = []
    for line in order.lines:
        qty = int(line.get("qty_shipped", 0)) or int(line.get("qty_ordered", 0))
        price = Decimal(str(line.get("unit_price", "0"))).quantize(Decimal("0.01"))
        lines.append({"line_no": line["line_no"], "sku": line.get("sku", ""), "qty": qty,
                      "unit_price": str(price), "amount": str((price * qty).quantize(Decimal("0.01")))})
    amount = (_decimal(data["amount"], "amount", details) if "amount" in data
              else sum((Decimal(row["amount"]) for row in lines), Decimal("0.00")))
    day = _date(data.get("invoice_date"), "invoice_date", details) or timezone.now().date()
    if details:
        raise validation_error(details)
    with transaction.atomic():
        last = Invoice.objects.order_by("-id").values_list("invoice_num", flat=True).first()
        number = int(last[3:]) + 1 if last and last[3:].isdigit() else 100001
        return Invoice.objects.create(
            invoice_num=f"IN-{number:06d}", order=order, shipment=None, invoice_date=day, customer=order.customer,
            currency=order.currency, amount=amount, lines=lines, created_at=timezone.now())


def edit_shipment(ship_num: str, data: dict[str, Any]) -> Shipment:
    """Change shipped quantities (``{"lines": [{"line_no", "qty_shipped"}]}``) as a user would;
    the order's lines follow, the invoice is left as it was."""
    with transaction.atomic():
        shipment = Shipment.objects.select_related("order").filter(ship_num=ship_num).first()
        if shipment is None:
            raise ApiError(404, "not_found", f"Shipment '{ship_num}' does not exist.")
        wanted = {int(line["line_no"]): int(line["qty_shipped"]) for line in data.get("lines") or []
                  if isinstance(line, dict) and isinstance(line.get("line_no"), int)
                  and isinstance(line.get("qty_shipped"), int)}
        if not wanted:
            raise validation_error([{"field": "lines", "message": "give [{line_no, qty_shipped}]"}])
        deltas: dict[int, int] = {}
        for line in shipment.lines:
            if int(line["line_no"]) in wanted:
                deltas[int(line["line_no"])] = wanted[int(line["line_no"])] - int(line.get("qty_shipped", 0))
                line["qty_shipped"] = wanted[int(line["line_no"])]
        shipment.save(update_fields=["lines"])
        order = shipment.order
        for line in order.lines:
            line["qty_shipped"] = int(line.get("qty_shipped", 0)) + deltas.get(int(line["line_no"]), 0)
        order.updated_at = timezone.now()
        order.save(update_fields=["lines", "updated_at"])
    return shipment


def edit_invoice(invoice_num: str, data: dict[str, Any]) -> Invoice:
    """Change an invoice's amount (``{"amount": "12.34"}``) as a user would."""
    details: Details = []
    invoice = Invoice.objects.select_related("order", "shipment").filter(invoice_num=invoice_num).first()
    if invoice is None:
        raise ApiError(404, "not_found", f"Invoice '{invoice_num}' does not exist.")
    invoice.amount = _decimal(data.get("amount"), "amount", details)
    if details:
        raise validation_error(details)
    invoice.save(update_fields=["amount"])
    return invoice
