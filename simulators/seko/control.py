"""The ``_sim/`` control API: seed data, move the warehouse on, configure pushes and faults,
and look inside. Same api_key as iHub; faults and quirks never apply here."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from . import faults, pushes, rules, tally, warehouse
from .api import BadRequest, control, read_json
from .models import (
    ORDER_STATUSES,
    Counter,
    CourierService,
    DistributionCentre,
    Product,
    Push,
    SalesOrder,
    SalesOrderLine,
    Setting,
    Stock,
    SubmitAttempt,
)
from .state import forget_settings, put_setting

KEPT_COUNTERS = ("record", "sequence", "dispatch")


def _list_body(request: HttpRequest) -> list[Any]:
    body = read_json(request)
    if not isinstance(body, list):
        raise BadRequest("expected a JSON list")
    return body


def _dict_body(request: HttpRequest) -> dict[str, Any]:
    body = read_json(request)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise BadRequest("expected a JSON object")
    return body


@control("POST")
def reset(request: HttpRequest) -> dict[str, Any]:
    """Everything back to a fresh start, faults and push config included (env defaults). The id
    counters (InterfaceRecordId, SequenceNumber, DispatchId) carry on: an integration that keeps
    its state across a simulator reset must not take new pushes for repeats of old ones."""
    with transaction.atomic():
        for model in (SalesOrderLine, SalesOrder, SubmitAttempt, Product, Stock, DistributionCentre,
                      CourierService, Push, Setting):
            model.objects.all().delete()
        Counter.objects.exclude(name__in=KEPT_COUNTERS).delete()
    forget_settings()
    tally.reset()
    return {"reset": True}


def _count_by_status(rows: QuerySet[Any]) -> dict[str, int]:
    return dict(rows.values_list("status").annotate(n=Count("id")).values_list("status", "n"))


@control("GET")
def state(request: HttpRequest) -> dict[str, Any]:
    by_status = _count_by_status(SalesOrder.objects.all())
    pushes_by_status = _count_by_status(Push.objects.all())
    return {
        "products": Product.objects.count(),
        "orders": {status: by_status.get(status, 0) for status in ORDER_STATUSES},
        "orders_total": sum(by_status.values()),
        "stock_rows": Stock.objects.count(),
        "dcs": DistributionCentre.objects.count(),
        "courier_services": CourierService.objects.count(),
        "pending_pushes": pushes_by_status.get(Push.PENDING, 0) + pushes_by_status.get(Push.SENDING, 0),
        "delivered_pushes": pushes_by_status.get(Push.DELIVERED, 0),
        "dropped_pushes": pushes_by_status.get(Push.DROPPED, 0),
        **_stock_push_counts(),
        **tally.counts(),  # products accepted (submit or update), and how many more than once
    }


@control("POST")
def dcs(request: HttpRequest) -> dict[str, Any]:
    """Add DC codes (``["DCCL01"]`` or ``[{"DCCode": "DCCL01"}]``); reset removes them."""
    for item in _list_body(request):
        dc_code = rules.code(item.get("DCCode") if isinstance(item, dict) else item)
        if dc_code:
            DistributionCentre.objects.get_or_create(code=dc_code)
    return {"dcs": list(DistributionCentre.objects.order_by("code").values_list("code", flat=True))}


@control("POST")
def services(request: HttpRequest) -> dict[str, Any]:
    """Add (CourierName, CourierService) pairs, each with the service in words when given
    (``"Description": "Next Day"``, which dispatch confirmations then name it by); reset removes them."""
    for item in _list_body(request):
        CourierService.objects.update_or_create(
            courier_name=rules.code(item["CourierName"]), courier_service=rules.code(item["CourierService"]),
            defaults={"description": str(item.get("Description") or "").strip()})
    return {"courier_services": CourierService.objects.count()}


@control("POST")
def products(request: HttpRequest) -> dict[str, Any]:
    """Upsert ProductMasters directly (either the master itself or {"ProductMaster": ...})."""
    count = 0
    with transaction.atomic():
        for item in _list_body(request):
            master = rules.normalise_product(item.get("ProductMaster", item))
            if not master.get("ProductCode"):
                raise BadRequest("ProductCode is required")
            Product.objects.update_or_create(code=master["ProductCode"], defaults={"master": master})
            count += 1
    return {"products": count}


@control("POST")
def stock(request: HttpRequest) -> dict[str, Any]:
    """Set free stock per (ProductCode, DCCode, LocationType: "Available Stock" when not given);
    allocations are left alone."""
    with transaction.atomic():
        items = _list_body(request)
        for item in items:
            Stock.objects.update_or_create(
                product_code=rules.code(item["ProductCode"]), dc_code=rules.code(item["DCCode"]),
                location_type=str(item.get("LocationType") or warehouse.AVAILABLE),
                defaults={"free": int(item["Quantity"])})
    return {"stock": len(items)}


@control("GET", "POST")
def stock_config(request: HttpRequest) -> dict[str, Any]:
    """``{"lag_seconds": N}``: how long an accepted order stays out of stock/v3/quantity."""
    if request.method == "POST":
        body = _dict_body(request)
        unknown = set(body) - {"lag_seconds"}
        if unknown:
            raise BadRequest(f"unknown stock config keys: {sorted(unknown)}")
        if "lag_seconds" in body:
            put_setting("stock", {"lag_seconds": max(0.0, float(body["lag_seconds"]))})
    return {"lag_seconds": warehouse.stock_lag_seconds()}


@control("POST")
def warehouse_move(request: HttpRequest) -> dict[str, Any]:
    """Move stock between location types, each move pushed as a StockStatusMovement."""
    return {"movements": warehouse.move_between_types(_list_body(request))}


@control("POST")
def warehouse_overnight(request: HttpRequest) -> dict[str, Any]:
    """``{"DCCode": ...}``: push a StockOvernightSummary of that DC now."""
    dc_code = rules.code(_dict_body(request).get("DCCode"))
    if not dc_code:
        raise BadRequest("DCCode is required")
    return warehouse.overnight_summary(dc_code)


def _stock_push_counts() -> dict[str, int]:
    """What the warehouse pushed about stock (for a demo's report): adjustment lines, status
    movements, overnight summary parts."""
    counts = {"adjustment_lines_pushed": 0, "status_movements_pushed": 0, "overnight_parts_pushed": 0}
    for kind, record in Push.objects.filter(kind__in=["StockAdjustment", "StockStatusMovement",
                                                      "StockOvernightSummary"]).values_list("kind", "record"):
        if kind == "StockAdjustment":
            listing = record.get("List") if isinstance(record, dict) else None
            lines = listing.get("StockAdjustmentLineItem") if isinstance(listing, dict) else None
            counts["adjustment_lines_pushed"] += len(lines) if isinstance(lines, list) else 1
        elif kind == "StockStatusMovement":
            counts["status_movements_pushed"] += 1
        else:
            counts["overnight_parts_pushed"] += 1
    return counts


def _attempts_of(counts: tuple[int, int, int, int] | None) -> dict[str, int]:
    count, accepted, duplicate, refused = counts or (0, 0, 0, 0)
    return {"attempts": count, "accepted_attempts": accepted, "duplicate_attempts": duplicate,
            "refused_attempts": refused}


@control("GET")
def submit_attempts(request: HttpRequest) -> dict[str, Any]:
    """Every submit Seko read, per sales order number (held or not) and in total, by outcome:
    what would show an order sent twice (``duplicate``) or sent over and over (``max_attempts``)."""
    rows = list(SubmitAttempt.objects.values("sales_order_number", "count", "accepted", "duplicate", "refused"))
    return {
        "max_attempts": max((row["count"] for row in rows), default=0),
        "duplicate_refusals": sum(row["duplicate"] for row in rows),
        "orders_refused_as_duplicates": sorted(row["sales_order_number"] for row in rows if row["duplicate"]),
        "accepted_more_than_once": sorted(row["sales_order_number"] for row in rows if row["accepted"] > 1),
        "by_order": {row.pop("sales_order_number"): row for row in rows},
    }


def planted_dispatch_faults(order: SalesOrder, tracked: set[str]) -> list[str]:
    """What the warehouse left out of this order's dispatch, as the integration must notice it:
    ``missing_carrier`` (no courier named), ``missing_tracking`` (no tracking number, then or
    later), ``short_shipped`` (a line dispatched short)."""
    if order.dispatch is None:
        return []
    found = []
    if not order.dispatch.get("CourierName"):
        found.append("missing_carrier")
    if not order.dispatch.get("TrackingNumber") and order.guid not in tracked:
        found.append("missing_tracking")
    if any(line.dispatched_quantity is not None and line.dispatched_quantity < line.quantity
           for line in order.lines.all()):
        found.append("short_shipped")
    return found


def _cancel_attempts() -> dict[str, dict[str, int]]:
    """Per sales order number, what the cancel calls that reached the warehouse did (see
    ``warehouse.CANCEL_OUTCOMES``)."""
    found: dict[str, dict[str, int]] = {}
    counters = Counter.objects.filter(name__startswith=warehouse.CANCEL_COUNTER_PREFIX)
    for name, value in counters.values_list("name", "value"):
        _, outcome, so = name.split(":", 2)
        found.setdefault(so, dict.fromkeys(warehouse.CANCEL_OUTCOMES, 0))[outcome] = value
    return found


@control("GET")
def orders(request: HttpRequest) -> dict[str, Any]:
    attempts = {row[0]: row[1:] for row in SubmitAttempt.objects.values_list(
        "sales_order_number", "count", "accepted", "duplicate", "refused")}
    cancels = _cancel_attempts()
    no_cancel = dict.fromkeys(warehouse.CANCEL_OUTCOMES, 0)
    result = []
    tracked = {str(record.get("InterfaceRecordId")) for record in
               Push.objects.filter(kind="TrackingDetails").values_list("record", flat=True)}
    for order in SalesOrder.objects.order_by("created_at", "id").prefetch_related("lines"):
        result.append({
            "SalesOrderNumber": order.sales_order_number, "GUID": order.guid, "Status": order.status,
            "DCCode": order.dc_code, "CourierName": order.courier_name,
            "CourierService": order.courier_service,
            **_attempts_of(attempts.get(order.sales_order_number)),
            "dispatch_faults": planted_dispatch_faults(order, tracked),
            "cancel_attempts": cancels.get(order.sales_order_number, no_cancel),
            "raw_body": order.raw_body,
            "lines": [{"LineNumber": line.line_number, "ProductCode": line.product_code,
                       "Quantity": line.quantity, "DispatchedQuantity": line.dispatched_quantity}
                      for line in order.lines.all()],
        })
    return {"orders": result}


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if moment is not None else None


@control("GET")
def order_times(request: HttpRequest) -> dict[str, Any]:
    """Read only: per order ``[SalesOrderNumber, Status, accepted at, dispatched at]`` (UTC, ISO
    8601; dispatched at null until then), Seko's own clock, without the bodies ``_sim/orders``
    carries: what a benchmark times the flows by at tens of thousands of orders."""
    rows = SalesOrder.objects.order_by("id").values_list("sales_order_number", "status", "created_at",
                                                         "dispatched_at")
    return {"orders": [[so, status, _iso(accepted), _iso(dispatched)] for so, status, accepted, dispatched in rows]}


@control("POST")
def order_set_status(request: HttpRequest, so: str) -> dict[str, Any]:
    """Move an order without dispatching it (e.g. to "Pick Complete", so a cancel is refused)."""
    new_status = _dict_body(request).get("Status")
    if new_status not in ORDER_STATUSES:
        raise BadRequest(f"Status must be one of {ORDER_STATUSES}")
    updated = SalesOrder.objects.filter(sales_order_number=so).update(status=new_status,
                                                                       status_changed_at=timezone.now())
    if not updated:
        raise BadRequest(f"no order {so}")
    return {"SalesOrderNumber": so, "Status": new_status}


@control("POST")
def warehouse_advance(request: HttpRequest) -> dict[str, Any]:
    return {"dispatched": warehouse.advance(_dict_body(request))}


@control("POST")
def warehouse_adjust(request: HttpRequest) -> dict[str, Any]:
    return {"adjustments": warehouse.adjust(_list_body(request))}


@control("GET", "POST")
def config(request: HttpRequest) -> dict[str, Any]:
    if request.method == "POST":
        return pushes.update_config(_dict_body(request))
    return pushes.get_config()


@control("POST")
def push_flush(request: HttpRequest) -> dict[str, Any]:
    return pushes.deliver(due_only=False)


@control("GET")
def push_outbox(request: HttpRequest) -> dict[str, Any]:
    return {"pushes": [
        {"id": p.id, "kind": p.kind, "status": p.status, "failures": p.failures,
         "delivered_count": p.delivered_count, "drop_reason": p.drop_reason, "last_error": p.last_error,
         "record": p.record}
        for p in Push.objects.order_by("id")
    ]}


@control("GET", "POST")
def fault_config(request: HttpRequest) -> dict[str, Any]:
    if request.method == "POST":
        return faults.set_faults(_dict_body(request))
    return faults.get_faults()
