"""What the simulated ERP does when it is asked to change something: one function per action,
each in one transaction (IMMEDIATE on SQLite, so read-check-write cannot interleave with
another thread). Raise ApiError for anything the caller must be told."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from simulators.bluecherry import faults, models, tally
from simulators.bluecherry.httputil import ApiError, Details, fmt_dt, parse_iso_datetime, validation_error

SHIPPABLE = ("RELEASED", "PICKING")
PICKED = ("PICKING", "SHIPPED", "INVOICED")


def not_found(what: str, key: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} '{key}' does not exist.")


def get_order(ord_num: str) -> models.SalesOrder:
    order = models.SalesOrder.objects.filter(ord_num=ord_num).first()
    if order is None:
        raise not_found("Sales order", ord_num)
    return order


# ---- items -----------------------------------------------------------------------------------


def _status_change_problems(body: dict[str, Any], prefix: str = "") -> Details:
    details: Details = []
    if body.get("status") not in models.ITEM_STATUSES:
        details.append({"field": f"{prefix}status", "message": f"must be one of {', '.join(models.ITEM_STATUSES)}"})
    reference = body.get("wms_reference", "")
    if reference is not None and not isinstance(reference, str):
        details.append({"field": f"{prefix}wms_reference", "message": "must be a string"})
    return details


def _apply_status(item: models.Item, status: str, reference: str | None) -> None:
    item.status = status
    if reference:
        item.wms_reference = reference
    item.updated_at = timezone.now()
    item.save(update_fields=["status", "wms_reference", "updated_at"])
    if status == "LIVE":
        tally.set_live(item.sku)


def set_item_status(sku: str, body: dict[str, Any]) -> models.Item:
    details = _status_change_problems(body)
    if details:
        raise validation_error(details)
    with transaction.atomic():
        item = models.Item.objects.filter(sku=sku).first()
        if item is None:
            raise not_found("Item", sku)
        _apply_status(item, body["status"], body.get("wms_reference", ""))
    return item


MAX_STATUS_UPDATES = 500


def set_item_statuses(body: dict[str, Any]) -> list[dict[str, Any]]:
    """``POST items/status``: many items' status in one call and one transaction. A malformed
    request is refused whole (422); an unknown SKU is an error in its own place of the results,
    the others are applied. Returns one result per update, in the order asked."""
    updates = body.get("updates")
    if not isinstance(updates, list) or not updates:
        raise validation_error([{"field": "updates", "message": "must be a non-empty list"}])
    if len(updates) > MAX_STATUS_UPDATES:
        raise validation_error([{"field": "updates", "message": f"at most {MAX_STATUS_UPDATES} per call"}])
    details: Details = []
    for index, update in enumerate(updates):
        prefix = f"updates[{index}]."
        if not isinstance(update, dict):
            details.append({"field": f"updates[{index}]", "message": "must be an object"})
            continue
        if not isinstance(update.get("sku"), str) or not update["sku"]:
            details.append({"field": f"{prefix}sku", "message": "is required"})
        details.extend(_status_change_problems(update, prefix))
    if details:
        raise validation_error(details)
    results: list[dict[str, Any]] = []
    with transaction.atomic():
        found = {item.sku: item for item in models.Item.objects.filter(sku__in=[u["sku"] for u in updates])}
        for update in updates:
            item = found.get(update["sku"])
            if item is None:
                error = not_found("Item", update["sku"])
                results.append({"sku": update["sku"], "error": {"code": error.code, "message": error.message}})
                continue
            _apply_status(item, update["status"], update.get("wms_reference", ""))
            results.append({"sku": item.sku, "item": item})
    return results


# ---- pick tickets -----------------------------------------------------------------------------


def send_pick_ticket(ord_num: str, body: dict[str, Any]) -> models.SalesOrder:
    """RELEASED -> PICKING with the warehouse's reference. The same reference again is a no-op
    success (the caller may be retrying after a lost reply); anything else that is not a
    RELEASED order is a conflict."""
    reference = body.get("wms_reference")
    if not isinstance(reference, str) or not reference.strip():
        raise validation_error([{"field": "wms_reference", "message": "is required"}])
    with transaction.atomic():
        order = get_order(ord_num)
        if order.wms_reference == reference and order.status in PICKED:
            return order
        if order.status == "PICKING":
            raise ApiError(
                409,
                "conflict",
                f"Sales order {ord_num} already has pick ticket "
                f"'{order.wms_reference}'; a second one with '{reference}' is refused.",
                [{"field": "wms_reference", "message": f"already '{order.wms_reference}'"}],
            )
        if order.status != "RELEASED":
            raise ApiError(
                409,
                "conflict",
                f"Sales order {ord_num} is {order.status}; a pick ticket "
                "can only be sent for a RELEASED order.",
                [{"field": "status", "message": order.status}],
            )
        order.status = "PICKING"
        order.wms_reference = reference
        order.updated_at = timezone.now()
        order.save(update_fields=["status", "wms_reference", "updated_at"])
    return order


# ---- shipments and invoices ----------------------------------------------------------------------


@dataclass(frozen=True)
class ShipmentRequest:
    ord_num: str
    wms_dispatch_id: str
    ship_date: Any
    carrier: str
    ship_via: str | None
    tracking_numbers: list[str]
    lines: list[dict[str, Any]]
    cancel_remainder: bool
    # The warehouse refused the order's cancel (it was already packed), so it shipped after all:
    # a shipment against a CANCELLED order is taken only when the sender says so.
    cancel_refused: bool = False


def parse_shipment(body: dict[str, Any]) -> ShipmentRequest:
    details: Details = []
    for name in ("ord_num", "wms_dispatch_id", "carrier"):
        if not isinstance(body.get(name), str) or not body[name].strip():
            details.append({"field": name, "message": "is required"})
    ship_date = _date_time(body, "ship_date", details)
    ship_via = body.get("ship_via")
    if ship_via is not None and not isinstance(ship_via, str):
        details.append({"field": "ship_via", "message": "must be a string"})
    tracking = body.get("tracking_numbers", [])
    if not isinstance(tracking, list) or not all(isinstance(t, str) for t in tracking):
        details.append({"field": "tracking_numbers", "message": "must be a list of strings"})
    cancel_remainder = body.get("cancel_remainder", False)
    if not isinstance(cancel_remainder, bool):
        details.append({"field": "cancel_remainder", "message": "must be true or false"})
    cancel_refused = body.get("cancel_refused", False)
    if not isinstance(cancel_refused, bool):
        details.append({"field": "cancel_refused", "message": "must be true or false"})
    lines = _list(body, "lines", details, non_empty=True)
    for where, line in _objects(lines, "lines", details):
        line_no, sku, qty = line.get("line_no"), line.get("sku"), line.get("qty_shipped")
        if line_no is not None and (isinstance(line_no, bool) or not isinstance(line_no, int)):
            details.append({"field": f"{where}.line_no", "message": "must be a whole number"})
        if sku is not None and not isinstance(sku, str):
            details.append({"field": f"{where}.sku", "message": "must be a string"})
        if line_no is None and not sku:
            details.append({"field": where, "message": "needs line_no or sku"})
        if isinstance(qty, bool) or not isinstance(qty, int) or qty < 0:
            details.append(
                {"field": f"{where}.qty_shipped", "message": "must be a whole number of at least 0"}
            )
    if details:
        raise validation_error(details, "The shipment is not valid.")
    return ShipmentRequest(
        ord_num=body["ord_num"],
        wms_dispatch_id=body["wms_dispatch_id"],
        ship_date=ship_date,
        carrier=body["carrier"],
        ship_via=ship_via,
        tracking_numbers=list(tracking),
        lines=lines,
        cancel_remainder=cancel_remainder,
        cancel_refused=cancel_refused,
    )


def _date_time(body: dict[str, Any], name: str, details: Details) -> datetime | None:
    value = parse_iso_datetime(body.get(name))
    if value is None:
        details.append({"field": name, "message": "must be an ISO 8601 date-time"})
    return value


def _list(body: dict[str, Any], name: str, details: Details, *, non_empty: bool = False) -> list[Any]:
    value = body.get(name)
    if not isinstance(value, list) or (non_empty and not value):
        details.append({"field": name, "message": "must be a non-empty list" if non_empty else "must be a list"})
        return []
    return value


def _objects(rows: list[Any], name: str, details: Details) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each row that is a JSON object, with its place for error details (``lines[2]``); any
    other row is itself an error."""
    for index, row in enumerate(rows):
        where = f"{name}[{index}]"
        if isinstance(row, dict):
            yield where, row
        else:
            details.append({"field": where, "message": "must be an object"})


def create_shipment(body: dict[str, Any]) -> tuple[dict[str, str], bool]:
    """Post a dispatch as a shipment, raise its invoice and fire the customer notification.
    Returns (the numbers, created); the same wms_dispatch_id again returns the first numbers."""
    request = parse_shipment(body)
    with transaction.atomic():
        existing = (
            models.Shipment.objects.select_related("order", "invoice")
            .filter(wms_dispatch_id=request.wms_dispatch_id)
            .first()
        )
        if existing is not None:
            models.Shipment.objects.filter(pk=existing.pk).update(duplicate_posts=F("duplicate_posts") + 1)
            if existing.order.ord_num != request.ord_num:
                raise ApiError(
                    409,
                    "conflict",
                    f"Dispatch '{request.wms_dispatch_id}' was already posted for "
                    f"sales order {existing.order.ord_num}, not {request.ord_num}.",
                )
            return _shipment_result(existing), False
        order = models.SalesOrder.objects.filter(ord_num=request.ord_num).first()
        if order is None:
            raise validation_error(
                [{"field": "ord_num", "message": f"sales order '{request.ord_num}' does not exist"}],
                f"Sales order '{request.ord_num}' does not exist.",
            )
        _check_shippable(order, request)
        if order.status == "CANCELLED":
            _reopen_cancelled(order)
        allocations = _allocate(order, request)
        return _post_shipment(order, request, allocations), True


def _check_shippable(order: models.SalesOrder, request: ShipmentRequest) -> None:
    if order.status == "CANCELLED" and not request.cancel_refused:
        raise ApiError(
            409,
            "conflict",
            f"Sales order {order.ord_num} is cancelled; it cannot be shipped (unless the warehouse "
            "refused the cancel: then send cancel_refused true).",
            [{"field": "ord_num", "message": "order is CANCELLED"}],
        )
    if order.shipments.exists():
        raise ApiError(
            409,
            "conflict",
            f"Sales order {order.ord_num} has already been shipped (one shipment per order).",
            [{"field": "ord_num", "message": "already shipped"}],
        )
    if order.status not in SHIPPABLE and not (order.status == "CANCELLED" and request.cancel_refused):
        raise ApiError(
            409,
            "conflict",
            f"Sales order {order.ord_num} is {order.status}; only a RELEASED or "
            "PICKING order can be shipped.",
            [{"field": "ord_num", "message": f"order is {order.status}"}],
        )


def _reopen_cancelled(order: models.SalesOrder) -> None:
    """The goods left the warehouse after all: what the cancel closed on each line is open again,
    so the shipment and its invoice can be raised (and a return against the invoice follow)."""
    for line in order.lines:
        line["qty_cancelled"] = 0


def _open_qty(line: dict[str, Any]) -> int:
    return (
        int(line.get("qty_ordered", 0)) - int(line.get("qty_shipped", 0)) - int(line.get("qty_cancelled", 0))
    )


def _allocate(order: models.SalesOrder, request: ShipmentRequest) -> dict[int, int]:
    """Quantity shipped per order line_no; 422 with one detail per bad line. A line given by SKU
    alone goes to the first line of that SKU with room left (an order may repeat a SKU)."""
    by_no = {int(line["line_no"]): line for line in order.lines}
    allocated: dict[int, int] = {}
    details: Details = []
    for index, wanted in enumerate(request.lines):
        where, qty, sku = f"lines[{index}]", wanted["qty_shipped"], wanted.get("sku")
        line_no = wanted.get("line_no")
        if line_no is not None:
            line = by_no.get(line_no)
            if line is None:
                details.append(
                    {
                        "field": f"{where}.line_no",
                        "message": f"line {line_no} is not on sales order {order.ord_num}",
                    }
                )
                continue
            if sku and sku != line.get("sku"):
                details.append(
                    {
                        "field": f"{where}.sku",
                        "message": f"line {line_no} is SKU '{line.get('sku')}', not '{sku}'",
                    }
                )
                continue
        else:
            candidates = [line for line in order.lines if line.get("sku") == sku]
            if not candidates:
                details.append(
                    {"field": f"{where}.sku", "message": f"SKU '{sku}' is not on sales order {order.ord_num}"}
                )
                continue
            with_room = [c for c in candidates if _open_qty(c) - allocated.get(int(c["line_no"]), 0) >= qty]
            line = (with_room or candidates)[0]
        number = int(line["line_no"])
        allocated[number] = allocated.get(number, 0) + qty
        if allocated[number] > _open_qty(line):
            details.append(
                {
                    "field": f"{where}.qty_shipped",
                    "message": f"ships {allocated[number]} of line {number}; only {_open_qty(line)} is open",
                }
            )
    if details:
        raise validation_error(details, f"The shipment does not match sales order {order.ord_num}.")
    return allocated


def _post_shipment(order: models.SalesOrder, request: ShipmentRequest, allocated: dict[int, int]) -> dict[str, str]:
    now = timezone.now()
    invoice_lines: list[dict[str, Any]] = []
    shipped_lines: list[dict[str, Any]] = []
    total = Decimal("0.00")
    for line in order.lines:
        number = int(line["line_no"])
        qty = allocated.get(number, 0)
        if number in allocated:
            shipped_lines.append({"line_no": number, "sku": line.get("sku", ""), "qty_shipped": qty})
        line["qty_shipped"] = int(line.get("qty_shipped", 0)) + qty
        if request.cancel_remainder:
            line["qty_cancelled"] = int(line.get("qty_cancelled", 0)) + _open_qty(line)
        if qty:
            price = Decimal(str(line.get("unit_price", "0")))
            amount = (price * qty).quantize(Decimal("0.01"))
            total += amount
            invoice_lines.append(
                {
                    "line_no": number,
                    "sku": line.get("sku", ""),
                    "qty": qty,
                    "unit_price": str(price.quantize(Decimal("0.01"))),
                    "amount": str(amount),
                }
            )
    order.status = "INVOICED"
    order.updated_at = now
    order.save(update_fields=["lines", "status", "updated_at"])

    shipment = models.Shipment.objects.create(
        ship_num=_next_number(models.Shipment, "ship_num", "SH-"),
        order=order,
        wms_dispatch_id=request.wms_dispatch_id,
        ship_date=request.ship_date,
        ship_day=request.ship_date.date(),
        carrier=request.carrier,
        ship_via=request.ship_via or order.ship_via,
        tracking_numbers=request.tracking_numbers,
        lines=shipped_lines,
        cancel_remainder=request.cancel_remainder,
        created_at=now,
    )
    invoice = models.Invoice.objects.create(
        invoice_num=_next_number(models.Invoice, "invoice_num", "IN-"),
        order=order,
        shipment=shipment,
        invoice_date=request.ship_date.date(),
        customer=order.customer,
        currency=order.currency,
        amount=total,
        lines=invoice_lines,
        created_at=now,
    )
    ship_to = order.ship_to or {}
    models.Notification.objects.create(
        order=order,
        kind="DISPATCH_CONFIRMATION",
        recipient=str(ship_to.get("email", "")),
        subject=f"Your order {order.ord_num} is on its way",
        payload={
            "ord_num": order.ord_num,
            "ship_num": shipment.ship_num,
            "carrier": request.carrier,
            "tracking_numbers": request.tracking_numbers,
            "ship_date": fmt_dt(request.ship_date),
            "lines": shipped_lines,
        },
        created_at=now,
    )
    return {"ship_num": shipment.ship_num, "invoice_num": invoice.invoice_num, "order_status": order.status}


def update_shipment_tracking(ship_num: str, body: dict[str, Any]) -> models.Shipment:
    """PATCH shipments/{ship_num}: set the tracking numbers of a posted shipment (they may come
    from the warehouse after the shipment was posted). Only ``tracking_numbers`` may change; the
    list replaces the old one, so the same body again changes nothing. A change tells the
    customer, as the dispatch notification would have."""
    unknown = sorted(set(body) - {"tracking_numbers"})
    tracking = body.get("tracking_numbers")
    details: Details = [{"field": name, "message": "cannot be changed"} for name in unknown]
    if not isinstance(tracking, list) or not all(isinstance(t, str) and t.strip() for t in tracking):
        details.append({"field": "tracking_numbers", "message": "must be a list of non-empty strings"})
    if details:
        raise validation_error(details, "The shipment update is not valid.")
    numbers = list(dict.fromkeys(t.strip() for t in tracking))
    with transaction.atomic():
        shipment = models.Shipment.objects.select_related("order", "invoice").filter(ship_num=ship_num).first()
        if shipment is None:
            raise not_found("Shipment", ship_num)
        if list(shipment.tracking_numbers or []) == numbers:
            return shipment
        shipment.tracking_numbers = numbers
        shipment.save(update_fields=["tracking_numbers"])
        order = shipment.order
        models.Notification.objects.create(
            order=order,
            kind="TRACKING_UPDATE",
            recipient=str((order.ship_to or {}).get("email", "")),
            subject=f"Tracking for your order {order.ord_num}",
            payload={"ord_num": order.ord_num, "ship_num": shipment.ship_num, "carrier": shipment.carrier,
                     "tracking_numbers": numbers},
            created_at=timezone.now(),
        )
    return shipment


def _shipment_result(shipment: models.Shipment) -> dict[str, str]:
    return {
        "ship_num": shipment.ship_num,
        "invoice_num": shipment.invoice.invoice_num,
        "order_status": shipment.order.status,
    }


def _next_number(model: type[models.Shipment] | type[models.Invoice], field: str, prefix: str) -> str:
    """Next document number after the highest so far; safe because the caller holds the write lock."""
    last = model.objects.order_by("-id").values_list(field, flat=True).first()
    number = int(last[len(prefix) :]) + 1 if last and last[len(prefix) :].isdigit() else 100001
    return f"{prefix}{number:06d}"


# ---- inventory ---------------------------------------------------------------------------------


def queue_ats_update(body: dict[str, Any]) -> models.AtsBatch:
    """Accept a batch for the next cycle. Only the shape is checked now; unknown SKUs and
    negative quantities fail the batch when it is applied, as in the real batch job."""
    details: Details = []
    location = body.get("location")
    if not isinstance(location, str) or not location.strip():
        details.append({"field": "location", "message": "is required"})
    as_of = _date_time(body, "as_of", details)
    positions = _list(body, "positions", details)
    for where, position in _objects(positions, "positions", details):
        if not isinstance(position.get("sku"), str) or not position["sku"]:
            details.append({"field": f"{where}.sku", "message": "is required"})
        qty = position.get("available_qty")
        if isinstance(qty, bool) or not isinstance(qty, int):
            details.append({"field": f"{where}.available_qty", "message": "must be a whole number"})
    if details:
        raise validation_error(details, "The ATS update is not valid.")
    clean = [{"sku": p["sku"], "available_qty": p["available_qty"]} for p in positions]
    return models.AtsBatch.objects.create(
        batch_id=f"ATS-{uuid.uuid4().hex[:20].upper()}",
        location=location,
        as_of=as_of,
        positions=clean,
        status="QUEUED",
        created_at=timezone.now(),
    )


def apply_due_batches() -> int:
    """Apply every queued batch older than the batch cycle, oldest first; returns how many."""
    cutoff = timezone.now() - timedelta(seconds=faults.batch_cycle_seconds())
    due = list(
        models.AtsBatch.objects.filter(status="QUEUED", created_at__lte=cutoff)
        .order_by("created_at", "id")
        .values_list("id", flat=True)
    )
    return sum(1 for batch_id in due if apply_batch(batch_id))


def apply_batch(batch_pk: int) -> bool:
    """All or nothing: a batch with any bad position is FAILED and changes nothing."""
    with transaction.atomic():
        batch = models.AtsBatch.objects.filter(pk=batch_pk, status="QUEUED").first()
        if batch is None:  # another thread applied it first
            return False
        positions = batch.positions or []
        known = set(models.Item.objects.filter(sku__in={p["sku"] for p in positions}).values_list("sku", flat=True))
        errors = []
        for index, position in enumerate(positions):
            if position["sku"] not in known:
                errors.append(
                    {
                        "field": f"positions[{index}].sku",
                        "sku": position["sku"],
                        "message": f"unknown SKU '{position['sku']}'",
                    }
                )
            if position["available_qty"] < 0:
                errors.append(
                    {
                        "field": f"positions[{index}].available_qty",
                        "sku": position["sku"],
                        "message": f"available_qty {position['available_qty']} is negative",
                    }
                )
        now = timezone.now()
        if errors:
            batch.status, batch.errors = "FAILED", errors
            batch.save(update_fields=["status", "errors"])
            return True
        latest = {p["sku"]: p["available_qty"] for p in positions}  # a repeated SKU: the last one wins
        rows = {
            row.sku: row for row in models.InventoryPosition.objects.filter(location=batch.location, sku__in=latest)
        }
        for sku, qty in latest.items():
            row = rows.get(sku) or models.InventoryPosition(sku=sku, location=batch.location)
            row.channel_available, row.channel_available_as_of = qty, batch.as_of
            rows[sku] = row
        models.InventoryPosition.objects.bulk_update(
            [r for r in rows.values() if r.pk],
            ["channel_available", "channel_available_as_of"],
            batch_size=500,
        )
        models.InventoryPosition.objects.bulk_create([r for r in rows.values() if not r.pk], batch_size=500)
        batch.status, batch.applied_at = "APPLIED", now
        batch.save(update_fields=["status", "applied_at"])
    return True
