"""The simulator's control API under /api/v1/_sim/: set up data, act as a Blue Cherry user,
inject faults. Same key as the API, never subject to faults."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Min
from django.http import HttpRequest, JsonResponse

from simulators.bluecherry import faults, records, serializers
from simulators.bluecherry.httputil import (
    endpoint,
    json_list,
    json_object,
    ok,
    paginate,
    query_list,
    validation_error,
)
from simulators.bluecherry.models import Notification, SalesOrder, Shipment


def reset(request: HttpRequest) -> JsonResponse:
    records.reset()
    return ok({"reset": True})


def state(request: HttpRequest) -> JsonResponse:
    return ok(records.state())


def upsert_items(request: HttpRequest) -> JsonResponse:
    rows = records.upsert_items(json_list(request))
    return ok({"upserted": len(rows), "results": [serializers.item_control(row) for row in rows]})


def set_inventory(request: HttpRequest) -> JsonResponse:
    rows = records.set_inventory(json_list(request))
    return ok({"upserted": len(rows), "results": [serializers.inventory(row) for row in rows]})


def upsert_orders(request: HttpRequest) -> JsonResponse:
    rows = records.upsert_orders(json_list(request))
    return ok({"upserted": len(rows), "results": [serializers.order(row) for row in rows]})


def get_order(request: HttpRequest, ord_num: str) -> JsonResponse:
    order = SalesOrder.objects.filter(ord_num=ord_num).first()
    if order is None:
        return ok(
            {"error": {"code": "not_found", "message": f"Sales order '{ord_num}' does not exist."}}, 404
        )
    return ok(serializers.order_control(order))


def patch_order(request: HttpRequest, ord_num: str) -> JsonResponse:
    return ok(serializers.order_control(records.patch_order(ord_num, json_object(request))))


def cancel_order(request: HttpRequest, ord_num: str) -> JsonResponse:
    return ok(serializers.order_control(records.cancel_order(ord_num)))


def notifications(request: HttpRequest) -> JsonResponse:
    queryset = Notification.objects.select_related("order")
    ord_nums = query_list(request, "ord_num")
    if ord_nums:
        queryset = queryset.filter(order__ord_num__in=ord_nums)
    return paginate(request, queryset.order_by("id"), serializers.notification)


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if moment is not None else None


def order_times(request: HttpRequest) -> JsonResponse:
    """Read only: per order ``[ord_num, status, updated_at, first shipment's created_at,
    shipments]`` (UTC, ISO 8601), Blue Cherry's own clock; ``?from=`` and ``?to=`` bound the
    order numbers (inclusive). An order not touched since it was released carries its release
    time as ``updated_at``."""
    orders = SalesOrder.objects.order_by("ord_num")
    shipments = Shipment.objects.all()
    if request.GET.get("from"):
        orders = orders.filter(ord_num__gte=request.GET["from"])
        shipments = shipments.filter(order__ord_num__gte=request.GET["from"])
    if request.GET.get("to"):
        orders = orders.filter(ord_num__lte=request.GET["to"])
        shipments = shipments.filter(order__ord_num__lte=request.GET["to"])
    shipped = {ord_num: (first, count) for ord_num, first, count in shipments.values("order__ord_num").annotate(
        first=Min("created_at"), count=Count("id")).values_list("order__ord_num", "first", "count")}
    rows = []
    for ord_num, status, updated_at in orders.values_list("ord_num", "status", "updated_at"):
        first, count = shipped.get(ord_num, (None, 0))
        rows.append([ord_num, status, _iso(updated_at), _iso(first), count])
    return ok({"orders": rows})


def generate(request: HttpRequest) -> JsonResponse:
    return ok(records.generate_data(json_object(request)), status=201)


def get_faults(request: HttpRequest) -> JsonResponse:
    return ok(faults.current().as_dict())


def set_faults(request: HttpRequest) -> JsonResponse:
    config, details = faults.parse(json_object(request))
    if config is None:
        raise validation_error(details, "The fault settings are not valid.")
    faults.configure(config)
    return ok(config.as_dict())


sim_reset = endpoint({"POST": reset}, control=True)
sim_state = endpoint({"GET": state}, control=True)
sim_items = endpoint({"POST": upsert_items}, control=True)
sim_inventory = endpoint({"POST": set_inventory}, control=True)
sim_orders = endpoint({"POST": upsert_orders}, control=True)
sim_order = endpoint({"GET": get_order, "PATCH": patch_order}, control=True)
sim_order_cancel = endpoint({"POST": cancel_order}, control=True)
sim_notifications = endpoint({"GET": notifications}, control=True)
sim_generate = endpoint({"POST": generate}, control=True)
sim_order_times = endpoint({"GET": order_times}, control=True)
sim_faults = endpoint({"GET": get_faults, "POST": set_faults}, control=True)


# ---- planted differences (issue 7: reconciliation) ---------------------------------------------------


def raise_invoice(request: HttpRequest) -> JsonResponse:
    return ok(serializers.invoice(records.raise_invoice(json_object(request))), status=201)


def edit_invoice(request: HttpRequest, invoice_num: str) -> JsonResponse:
    return ok(serializers.invoice(records.edit_invoice(invoice_num, json_object(request))))


def edit_shipment(request: HttpRequest, ship_num: str) -> JsonResponse:
    return ok(serializers.shipment(records.edit_shipment(ship_num, json_object(request))))


sim_invoices = endpoint({"POST": raise_invoice}, control=True)
sim_invoice = endpoint({"PATCH": edit_invoice}, control=True)
sim_shipment = endpoint({"PATCH": edit_shipment}, control=True)
