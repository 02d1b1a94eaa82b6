"""What the warehouse does with orders and stock: accept, allocate, cancel, dispatch, adjust.
Each operation runs in one IMMEDIATE transaction, so concurrent callers cannot both allocate
the same free stock or both accept the same SalesOrderNumber."""

from __future__ import annotations

import os
import random
import uuid
from datetime import timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from . import faults, pushes, rules
from .models import (
    CourierService,
    DistributionCentre,
    Product,
    SalesOrder,
    SalesOrderLine,
    Stock,
    SubmitAttempt,
)
from .state import get_setting, next_value

CLOSED_STATUSES = ("Dispatched", "Cancelled")
DEFAULT_UNIT_WEIGHT = 0.2  # kg, for products seeded without a GrossWeight


def iso_now() -> str:
    return timezone.now().strftime("%Y-%m-%dT%H:%M:%SZ")


# Callers hold the writing transaction (IMMEDIATE), so update-then-create cannot race. One
# UPDATE where the row exists (nearly always) rather than get_or_create and UPDATE: the submit
# is serialised, and its statements were most of a submit's time (issue 9, profiled).

def _count_attempt(so: str, outcome: str) -> None:
    """One more submit of ``so`` answered ``outcome`` ("accepted", "duplicate" or "refused")."""
    if not so:
        return
    if not SubmitAttempt.objects.filter(sales_order_number=so).update(count=F("count") + 1,
                                                                       **{outcome: F(outcome) + 1}):
        SubmitAttempt.objects.create(sales_order_number=so, count=1, **{outcome: 1})


# Orders allocate from this location type only; the others hold stock that may not be sold.
AVAILABLE = "Available Stock"


def stock_lag_seconds() -> float:
    """How long an accepted order stays out of the stock figures ("Retrieve Stock Quantity":
    about 5 minutes); ``_sim/stock/config`` or SEKO_SIM_STOCK_LAG_SECONDS."""
    configured = (get_setting("stock") or {}).get("lag_seconds")
    if configured is None:
        configured = os.environ.get("SEKO_SIM_STOCK_LAG_SECONDS", "300")
    return max(0.0, float(configured))


def recently_allocated(codes: list[str] | None, dc_code: str | None) -> dict[tuple[str, str], int]:
    """Units per (SKU, DC) of orders accepted within the stock lag and not cancelled: allocated
    already, not yet shown by the stock figures."""
    lag = stock_lag_seconds()
    if lag <= 0:
        return {}
    lines = SalesOrderLine.objects.filter(order__created_at__gt=timezone.now() - timedelta(seconds=lag)) \
        .exclude(order__status="Cancelled")
    if codes:
        lines = lines.filter(product_code__in=codes)
    if dc_code:
        lines = lines.filter(order__dc_code=dc_code)
    totals: dict[tuple[str, str], int] = {}
    for code, dc, quantity in lines.values_list("product_code", "order__dc_code", "quantity"):
        totals[(code, dc)] = totals.get((code, dc), 0) + quantity
    return totals


def _move_stock(product_code: str, dc_code: str, *, free: int = 0, allocated: int = 0,
                location_type: str = AVAILABLE) -> None:
    if not Stock.objects.filter(product_code=product_code, dc_code=dc_code, location_type=location_type).update(
            free=F("free") + free, allocated=F("allocated") + allocated):
        Stock.objects.create(product_code=product_code, dc_code=dc_code, location_type=location_type, free=free,
                             allocated=allocated)


def submit_order(raw_body: str, body: dict[str, Any]) -> tuple[str | None, str | None]:
    """(error message, None) or (None, new GUID). The attempt is counted either way."""
    header = body.get("SalesOrder")
    so = rules.code(header.get("SalesOrderNumber")) if isinstance(header, dict) else ""
    with transaction.atomic():
        error = rules.order_model_error(body)
        if error:
            _count_attempt(so, "refused")
            return error, None
        order = rules.parse_order(body)
        codes = [line.product_code for line in order.lines]
        free = dict(Stock.objects.filter(dc_code=order.dc_code, product_code__in=codes, location_type=AVAILABLE)
                    .values_list("product_code", "free"))
        exists = SalesOrder.objects.filter(sales_order_number=so).exists()
        error = rules.order_business_error(
            order,
            order_exists=exists,
            dc_codes=set(DistributionCentre.objects.values_list("code", flat=True)),
            services=set(CourierService.objects.values_list("courier_name", "courier_service")),
            known_products=set(Product.objects.filter(code__in=codes).values_list("code", flat=True)),
            free_stock=lambda product_code: free.get(product_code, 0),
        )
        if error:
            _count_attempt(so, "duplicate" if exists else "refused")
            return error, None
        _count_attempt(so, "accepted")
        now = timezone.now()
        created = SalesOrder.objects.create(
            sales_order_number=so, guid=str(uuid.uuid4()), status="To Be Picked", status_changed_at=now,
            dc_code=order.dc_code, courier_name=order.courier_name, courier_service=order.courier_service,
            reference=order.reference, raw_body=raw_body)
        SalesOrderLine.objects.bulk_create([
            SalesOrderLine(order=created, line_number=line.line_number, ean=line.ean,
                           product_code=line.product_code, quantity=line.quantity)
            for line in order.lines
        ])
        # Allocate: one prepared UPDATE run per line where the stock row exists (``free`` was
        # read above), a new row where it does not.
        with connection.cursor() as cursor:
            cursor.executemany(
                f"UPDATE {Stock._meta.db_table} SET free = free - %s, allocated = allocated + %s "
                "WHERE product_code = %s AND dc_code = %s AND location_type = %s",
                [(line.quantity, line.quantity, line.product_code, order.dc_code, AVAILABLE)
                 for line in order.lines if line.product_code in free])
        for line in order.lines:
            if line.product_code not in free:
                _move_stock(line.product_code, order.dc_code, free=-line.quantity, allocated=line.quantity)
        return None, created.guid


# What a cancel call that reached the warehouse did, counted per order (``cancel_attempts`` in
# ``_sim/orders``): a cancel passed on exactly once shows one "cancelled" however often a lost
# reply had it sent again ("repeated": already cancelled, answered as done).
CANCEL_OUTCOMES = ("cancelled", "repeated", "refused")
CANCEL_COUNTER_PREFIX = "cancel:"  # the Counter rows: "cancel:<outcome>:<SalesOrderNumber>"


def cancel_counter(outcome: str, so: str) -> str:
    return f"{CANCEL_COUNTER_PREFIX}{outcome}:{so}"


def cancel_order(so: str, reason_code: str) -> str | None:
    with transaction.atomic():
        order = SalesOrder.objects.filter(sales_order_number=so).first()
        error = rules.cancel_error(so, reason_code=reason_code, status=order.status if order else None)
        if error or order is None or order.status == "Cancelled":
            if so:
                next_value(cancel_counter("refused" if error else "repeated", so))
            return error
        next_value(cancel_counter("cancelled", so))
        for line in order.lines.all():  # the allocation goes back to free stock
            _move_stock(line.product_code, order.dc_code, free=line.quantity, allocated=-line.quantity)
        order.status, order.status_changed_at = "Cancelled", timezone.now()
        order.save(update_fields=["status", "status_changed_at"])
        return None


def _weight(lines: list[dict[str, Any]], weights: dict[str, float]) -> float:
    total = sum(weights.get(line["ProductCode"], DEFAULT_UNIT_WEIGHT) * line["Quantity"] for line in lines)
    return round(total, 3)


def _dispatch_one(order: SalesOrder, rng: random.Random, rates: dict[str, float], quirky: bool,
                  shape: dict[str, Any]) -> bool:
    """Dispatch one order: its confirmation and, when it has a tracking number, its
    TrackingDetails. True when the tracking number was held back for a later push."""
    # Draw the same numbers for every order whatever the rates, so a seed gives one story.
    short, no_tracking, no_carrier, pick = rng.random(), rng.random(), rng.random(), rng.random()
    # Seko's documented shapes draw from their own generator, per order, so they leave the
    # story above (which orders ship short, lack tracking, ...) as it was.
    shapes_rng = random.Random(f"{shape['seed']}:{order.sales_order_number}")
    later, zoneless = shapes_rng.random(), shapes_rng.random()
    number = next_value("dispatch")  # numbers the tracking; the DispatchId itself is a GUID
    dispatch_id = str(uuid.uuid4())  # "SupplyStream internal value", a GUID ("Push Dispatch Confirmation")
    order_lines = list(order.lines.order_by("line_number", "id"))
    short_index = int(pick * len(order_lines)) if short < rates["short_ship_rate"] else None
    codes = [line.product_code for line in order_lines]
    products = {p.code: p.master for p in Product.objects.filter(code__in=codes)}
    lines = []
    for index, line in enumerate(order_lines):
        shipped = line.quantity
        if index == short_index:
            shipped = rng.randint(0, line.quantity - 1)  # may be 0: such a line is still listed
        line.dispatched_quantity = shipped
        line.save(update_fields=["dispatched_quantity"])
        # The whole allocation leaves: what was not found on the shelf is not free stock either.
        _move_stock(line.product_code, order.dc_code, allocated=-line.quantity)
        ean = line.ean or rules.code(products.get(line.product_code, {}).get("EAN"))
        lines.append({"LineNumber": line.line_number, "ProductCode": line.product_code, "EAN": ean,
                      "LotNo": "", "Quantity": shipped})
    tracking = "" if no_tracking < rates["missing_tracking_rate"] else f"JD{number:09d}GB"
    tracking_url = f"https://track.example/{tracking}" if tracking else ""
    tracking_later = bool(tracking) and later < rates["tracking_later_rate"]
    carrier_missing = no_carrier < rates["missing_carrier_rate"]
    courier_name = "" if carrier_missing else order.courier_name
    service = "" if carrier_missing else order.courier_service
    if service and shape["courier_service_as"] == "text":  # the service in words, e.g. "Next Day"
        service = CourierService.objects.filter(courier_name=order.courier_name, courier_service=service) \
            .values_list("description", flat=True).first() or service
    weights = {code: float(m.get("GrossWeight") or DEFAULT_UNIT_WEIGHT) for code, m in products.items()}
    # Push dates are UTC ("Additional points to note"); a share carry no zone at all.
    dispatch_date = iso_now()[:-1] if zoneless < shape["zoneless_date_rate"] else iso_now()
    body = {
        "SalesOrderNumber": order.sales_order_number, "SalesOrderReference": order.reference,
        "GUID": order.guid, "DCCode": order.dc_code, "DispatchId": dispatch_id, "DispatchDate": dispatch_date,
        "CourierName": courier_name, "CourierService": service,
        "TrackingNumber": "" if tracking_later else tracking, "TrackingUrl": "" if tracking_later else tracking_url,
        "Weight": _weight(lines, weights), "WeightUOM": "KG", "List": {"DispatchLineItem": lines},
    }
    # InterfaceRecordId: the order's GUID, on the confirmation and its tracking alike (the pages).
    order.dispatch = pushes.emit("DispatchConfirmation", body, shapes=quirky, record_id=order.guid)
    now = timezone.now()
    order.status, order.status_changed_at, order.dispatched_at = "Dispatched", now, now
    order.save(update_fields=["status", "status_changed_at", "dispatched_at", "dispatch"])
    if tracking:  # no tracking number yet: no TrackingDetails either
        # DispatchNumber: the client's counter of the order's dispatches ("Push Tracking
        # Details"); Seko dispatches an order once, so it is 1.
        pushes.emit("TrackingDetails", {
            "SalesOrderNumber": order.sales_order_number, "SalesOrderReference": order.reference,
            "DispatchNumber": "1", "Courier": courier_name, "TrackingNumber": tracking, "TrackingUrl": tracking_url,
        }, shapes=quirky, record_id=order.guid,
            not_before=now + timedelta(seconds=shape["tracking_later_seconds"]) if tracking_later else None)
    return tracking_later


def advance(config: dict[str, Any]) -> list[str]:
    """Pick and dispatch the oldest open orders; returns their SalesOrderNumbers.

    Shapes as Seko's pages document them, by default: ``courier_service_as`` "text" names the
    service in words where the reference list has them ("code": as the order sent it);
    ``zoneless_date_rate`` of DispatchDates carry no zone; ``tracking_later_rate`` of dispatches
    have no tracking number in their confirmation, and their TrackingDetails come
    ``tracking_later_seconds`` later (default: two push cycles) in their own push."""
    rates = {key: float(config.get(key) or 0) for key in
             ("short_ship_rate", "missing_tracking_rate", "missing_carrier_rate", "tracking_later_rate")}
    interval = float(pushes.get_config().get("push_interval_seconds") or 900)
    shape = {
        "seed": config.get("seed", 0),
        "courier_service_as": "code" if config.get("courier_service_as") == "code" else "text",
        "zoneless_date_rate": float(config.get("zoneless_date_rate", 0.25) or 0),
        "tracking_later_seconds": float(config.get("tracking_later_seconds") or 2 * interval),
    }
    rng = random.Random(config.get("seed", 0))
    limit = config.get("orders", "all")
    quirky = faults.quirks_on()
    with transaction.atomic():
        orders = SalesOrder.objects.exclude(status__in=CLOSED_STATUSES).order_by("created_at", "id")
        if limit != "all":
            orders = orders[: max(0, int(limit))]
        dispatched = []
        for order in list(orders):
            _dispatch_one(order, rng, rates, quirky, shape)
            dispatched.append(order.sales_order_number)
        return dispatched


def adjust(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Signed deltas on stock, pushed as Seko documents StockAdjustment ("Push Stock
    Adjustment"): a header (InternalId, StockAdjustmentType, StockAdjustmentDate, DCCode,
    LocationType) and its lines (LineInternalId, LineNumber, ProductCode, EAN, Quantity as a
    magnitude, ReasonCode, ReasonDescription, LotNumber), increases and decreases never in one
    message. Items with the same ``Message`` label (ours) share a message when their DC, type
    and direction agree; an item without one is a message of its own."""
    quirky = faults.quirks_on()
    records = []
    with transaction.atomic():
        messages: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        for index, item in enumerate(items):
            product_code, dc_code = rules.code(item.get("ProductCode")), rules.code(item.get("DCCode"))
            location_type = str(item.get("LocationType") or AVAILABLE)
            delta = int(item.get("Quantity", 0))
            _move_stock(product_code, dc_code, free=delta, location_type=location_type)
            label = item.get("Message")
            key = (dc_code, location_type, delta >= 0, label if label is not None else f"#{index}")
            messages.setdefault(key, []).append({**item, "ProductCode": product_code, "Quantity": delta})
        eans = dict(Product.objects.filter(code__in={i["ProductCode"] for m in messages.values() for i in m})
                    .values_list("code", "master__EAN"))
        for (dc_code, location_type, increase, _), lines in messages.items():
            header = {
                "InternalId": str(uuid.uuid4()), "StockAdjustmentType": "Increase" if increase else "Decrease",
                "StockAdjustmentDate": iso_now(), "DCCode": dc_code, "LocationType": location_type,
            }
            reason = ADJUSTMENT_REASONS["Increase" if increase else "Decrease"]
            header["List"] = {"StockAdjustmentLineItem": [{
                "LineInternalId": str(uuid.uuid4()), "LineNumber": number, "ProductCode": line["ProductCode"],
                "EAN": rules.code(eans.get(line["ProductCode"]) or ""), "Quantity": abs(line["Quantity"]),
                "ReasonCode": str(line.get("ReasonCode") or reason[0]),
                "ReasonDescription": str(line.get("Reason") or line.get("ReasonDescription") or reason[1]),
                "LotNumber": "",
            } for number, line in enumerate(lines, start=1)]}
            records.append(pushes.emit("StockAdjustment", header, shapes=quirky))
    return records


# Our sample reason per direction (the codes Seko lists on its reason-code page vary by DC).
ADJUSTMENT_REASONS = {"Increase": ("FOUND", "Stock found"), "Decrease": ("DAMAGED", "Damaged")}


def move_between_types(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Move units of a SKU from one location type to another ("Push Stock Status Movement"),
    one StockStatusMovement per item: ``{"ProductCode", "DCCode", "FromLocationType",
    "ToLocationType", "Quantity"}``. Never more than the origin holds free."""
    records = []
    with transaction.atomic():
        for item in items:
            product_code, dc_code = rules.code(item.get("ProductCode")), rules.code(item.get("DCCode"))
            origin = str(item.get("FromLocationType") or AVAILABLE)
            destination = str(item.get("ToLocationType") or "Quarantine")
            if origin == destination:  # Seko sends no movement within one type
                continue
            there = Stock.objects.filter(product_code=product_code, dc_code=dc_code, location_type=origin) \
                .values_list("free", flat=True).first() or 0
            quantity = min(int(item.get("Quantity", 0)), max(0, there))
            if quantity <= 0:
                continue
            _move_stock(product_code, dc_code, free=-quantity, location_type=origin)
            _move_stock(product_code, dc_code, free=quantity, location_type=destination)
            ean = Product.objects.filter(code=product_code).values_list("master__EAN", flat=True).first()
            records.append(pushes.emit("StockStatusMovement", {
                "DcCode": dc_code, "UtcDate": iso_now(), "FromLocationType": origin, "FromChannel": "",
                "ToLocationType": destination, "ToChannel": "", "Quantity": quantity, "ProductCode": product_code,
                "Ean": rules.code(ean or ""), "MovementID": str(uuid.uuid4()),
            }))
    return records


# "Push Stock Overnight Summary" quantity fields per location type (the others are not kept here).
OVERNIGHT_FIELDS = {"Available Stock": "QuantityOnHand", "Cross Dock": "QuantityInCrossDock",
                    "Quarantine": "QuantityInQuarantine", "Returns": "QuantityInReturns", "QC": "QuantityInQC",
                    "Query": "QuantityInQuery"}
OVERNIGHT_PART_SIZE = 100  # "Each MessagePart will have a max of 100 records"


def overnight_summary(dc_code: str) -> dict[str, Any]:
    """Push a StockOvernightSummary of one DC now: every SKU with some stock, 100 a part, the
    parts sharing one MessageGroupId "<DC>-<time>". QuantityOnHand is free Available Stock
    (allocated units are QuantityInAllocated); ProductCode and DCCode on each line are ours (the
    public field table does not show them)."""
    at = iso_now()
    by_sku: dict[str, dict[str, Any]] = {}
    rows = Stock.objects.filter(dc_code=dc_code).order_by("product_code", "location_type")
    for row in rows:
        line = by_sku.setdefault(row.product_code, {
            "SummaryStockHeaderId": str(uuid.uuid4()), "AtEndOfDate": at, "ProductCode": row.product_code,
            "DCCode": dc_code, "QuantityInAllocated": 0})
        name = OVERNIGHT_FIELDS.get(row.location_type)
        if name and row.free > 0:
            line[name] = line.get(name, 0) + row.free
        if row.location_type == AVAILABLE and row.allocated > 0:
            line["QuantityInAllocated"] += row.allocated
    lines = [line for line in by_sku.values() if any(v > 0 for k, v in line.items() if k.startswith("Quantity"))]
    parts = [lines[i:i + OVERNIGHT_PART_SIZE] for i in range(0, len(lines), OVERNIGHT_PART_SIZE)] or [[]]
    group = f"{dc_code}-{at}"
    with transaction.atomic():
        for number, part in enumerate(parts, start=1):
            pushes.emit("StockOvernightSummary", {
                "MessageGroupId": group, "MessagePart": number, "MessageTotal": len(parts),
                "List": {"StockOvernightSummaryLineItem": part},
            })
    return {"MessageGroupId": group, "parts": len(parts), "skus": len(lines)}
