"""What the warehouse does with orders and stock: accept, allocate, cancel, dispatch, adjust.
Each operation runs in one IMMEDIATE transaction, so concurrent callers cannot both allocate
the same free stock or both accept the same SalesOrderNumber."""

from __future__ import annotations

import random
import uuid
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
from .state import next_value

CLOSED_STATUSES = ("Dispatched", "Cancelled")
DEFAULT_UNIT_WEIGHT = 0.2  # kg, for products seeded without a GrossWeight


def iso_now() -> str:
    return timezone.now().strftime("%Y-%m-%dT%H:%M:%SZ")


# Callers hold the writing transaction (IMMEDIATE), so update-then-create cannot race. One
# UPDATE where the row exists (nearly always) rather than get_or_create and UPDATE: the submit
# is serialised, and its statements were most of a submit's time (issue 9, profiled).

def _count_attempt(so: str) -> None:
    if not SubmitAttempt.objects.filter(sales_order_number=so).update(count=F("count") + 1):
        SubmitAttempt.objects.create(sales_order_number=so, count=1)


def _move_stock(product_code: str, dc_code: str, *, free: int = 0, allocated: int = 0) -> None:
    if not Stock.objects.filter(product_code=product_code, dc_code=dc_code).update(
            free=F("free") + free, allocated=F("allocated") + allocated):
        Stock.objects.create(product_code=product_code, dc_code=dc_code, free=free, allocated=allocated)


def submit_order(raw_body: str, body: dict[str, Any]) -> tuple[str | None, str | None]:
    """(error message, None) or (None, new GUID). The attempt is counted either way."""
    header = body.get("SalesOrder")
    so = rules.code(header.get("SalesOrderNumber")) if isinstance(header, dict) else ""
    with transaction.atomic():
        if so:
            _count_attempt(so)
        error = rules.order_model_error(body)
        if error:
            return error, None
        order = rules.parse_order(body)
        codes = [line.product_code for line in order.lines]
        free = dict(Stock.objects.filter(dc_code=order.dc_code, product_code__in=codes)
                    .values_list("product_code", "free"))
        error = rules.order_business_error(
            order,
            order_exists=SalesOrder.objects.filter(sales_order_number=so).exists(),
            dc_codes=set(DistributionCentre.objects.values_list("code", flat=True)),
            services=set(CourierService.objects.values_list("courier_name", "courier_service")),
            known_products=set(Product.objects.filter(code__in=codes).values_list("code", flat=True)),
            free_stock=lambda product_code: free.get(product_code, 0),
        )
        if error:
            return error, None
        now = timezone.now()
        created = SalesOrder.objects.create(
            sales_order_number=so, guid=str(uuid.uuid4()), status="To Be Picked", status_changed_at=now,
            dc_code=order.dc_code, courier_name=order.courier_name, courier_service=order.courier_service,
            reference=order.reference, times_submitted=1, raw_body=raw_body)
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
                "WHERE product_code = %s AND dc_code = %s",
                [(line.quantity, line.quantity, line.product_code, order.dc_code)
                 for line in order.lines if line.product_code in free])
        for line in order.lines:
            if line.product_code not in free:
                _move_stock(line.product_code, order.dc_code, free=-line.quantity, allocated=line.quantity)
        return None, created.guid


def cancel_order(so: str, reason_code: str) -> str | None:
    with transaction.atomic():
        order = SalesOrder.objects.filter(sales_order_number=so).first()
        error = rules.cancel_error(so, reason_code=reason_code, status=order.status if order else None)
        if error or order is None or order.status == "Cancelled":
            return error
        for line in order.lines.all():  # the allocation goes back to free stock
            _move_stock(line.product_code, order.dc_code, free=line.quantity, allocated=-line.quantity)
        order.status, order.status_changed_at = "Cancelled", timezone.now()
        order.save(update_fields=["status", "status_changed_at"])
        return None


def _weight(lines: list[dict[str, Any]], weights: dict[str, float]) -> float:
    total = sum(weights.get(line["ProductCode"], DEFAULT_UNIT_WEIGHT) * line["Quantity"] for line in lines)
    return round(total, 3)


def _dispatch_one(order: SalesOrder, rng: random.Random, rates: dict[str, float], quirky: bool) -> None:
    # Draw the same numbers for every order whatever the rates, so a seed gives one story.
    short, no_tracking, no_carrier, pick = rng.random(), rng.random(), rng.random(), rng.random()
    number = next_value("dispatch")
    dispatch_id = f"DSP-{55000 + number}"
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
    carrier_missing = no_carrier < rates["missing_carrier_rate"]
    courier_name = "" if carrier_missing else order.courier_name
    weights = {code: float(m.get("GrossWeight") or DEFAULT_UNIT_WEIGHT) for code, m in products.items()}
    body = {
        "SalesOrderNumber": order.sales_order_number, "SalesOrderReference": order.reference,
        "GUID": order.guid, "DCCode": order.dc_code, "DispatchId": dispatch_id, "DispatchDate": iso_now(),
        "CourierName": courier_name, "CourierService": "" if carrier_missing else order.courier_service,
        "TrackingNumber": tracking, "TrackingUrl": f"https://track.example/{tracking}" if tracking else "",
        "Weight": _weight(lines, weights), "WeightUOM": "KG", "List": {"DispatchLineItem": lines},
    }
    order.dispatch = pushes.emit("DispatchConfirmation", body, split=quirky, shapes=quirky)
    now = timezone.now()
    order.status, order.status_changed_at, order.dispatched_at = "Dispatched", now, now
    order.save(update_fields=["status", "status_changed_at", "dispatched_at", "dispatch"])
    if tracking:  # no tracking number yet: no TrackingDetails either
        pushes.emit("TrackingDetails", {
            "SalesOrderNumber": order.sales_order_number, "DispatchNumber": dispatch_id,
            "Courier": courier_name, "TrackingNumber": tracking, "TrackingUrl": body["TrackingUrl"],
        }, shapes=quirky)


def advance(config: dict[str, Any]) -> list[str]:
    """Pick and dispatch the oldest open orders; returns their SalesOrderNumbers."""
    rates = {key: float(config.get(key) or 0) for key in
             ("short_ship_rate", "missing_tracking_rate", "missing_carrier_rate")}
    rng = random.Random(config.get("seed", 0))
    limit = config.get("orders", "all")
    quirky = faults.quirks_on()
    with transaction.atomic():
        orders = SalesOrder.objects.exclude(status__in=CLOSED_STATUSES).order_by("created_at", "id")
        if limit != "all":
            orders = orders[: max(0, int(limit))]
        dispatched = []
        for order in list(orders):
            _dispatch_one(order, rng, rates, quirky)
            dispatched.append(order.sales_order_number)
        return dispatched


def adjust(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Signed deltas on free stock, each pushed as a StockAdjustment."""
    quirky = faults.quirks_on()
    records = []
    with transaction.atomic():
        for item in items:
            product_code, dc_code = rules.code(item.get("ProductCode")), rules.code(item.get("DCCode"))
            delta = int(item.get("Quantity", 0))
            _move_stock(product_code, dc_code, free=delta)
            records.append(pushes.emit("StockAdjustment", {
                "ProductCode": product_code, "DCCode": dc_code, "Quantity": delta,
                "Reason": item.get("Reason") or "Stock count", "AdjustmentDate": iso_now(),
            }, shapes=quirky))
    return records
