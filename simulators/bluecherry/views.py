"""The Blue Cherry API as contracts/bluecherry.md defines it, under /api/v1/."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse

from simulators.bluecherry import models, serializers, services
from simulators.bluecherry.httputil import (
    ApiError,
    endpoint,
    json_object,
    ok,
    paginate,
    query_date,
    query_datetime,
    query_list,
)


def _statuses(request: HttpRequest, allowed: tuple[str, ...]) -> list[str]:
    statuses = query_list(request, "status")
    unknown = [s for s in statuses if s not in allowed]
    if unknown:
        raise ApiError(
            400,
            "bad_request",
            f"Unknown status {', '.join(unknown)}; known: {', '.join(allowed)}.",
            [{"field": "status", "message": f"unknown: {', '.join(unknown)}"}],
        )
    return statuses


# ---- items -------------------------------------------------------------------------------------


def list_items(request: HttpRequest) -> JsonResponse:
    queryset = models.Item.objects.all()
    since = query_datetime(request, "updated_since")
    if since is not None:
        queryset = queryset.filter(updated_at__gte=since)  # inclusive: rows can share a timestamp
    statuses = _statuses(request, models.ITEM_STATUSES)
    if statuses:
        queryset = queryset.filter(status__in=statuses)
    return paginate(request, queryset.order_by("updated_at", "sku"), serializers.item)


def get_item(request: HttpRequest, sku: str) -> JsonResponse:
    item = models.Item.objects.filter(sku=sku).first()
    if item is None:
        raise services.not_found("Item", sku)
    return ok(serializers.item(item))


def set_item_status(request: HttpRequest, sku: str) -> JsonResponse:
    return ok(serializers.item(services.set_item_status(sku, json_object(request))))


def set_item_statuses(request: HttpRequest) -> JsonResponse:
    results = services.set_item_statuses(json_object(request))
    return ok({"results": [{"sku": r["sku"], "item": serializers.item(r["item"])} if "item" in r else r
                           for r in results]})


def get_item_named_status(request: HttpRequest) -> JsonResponse:
    # ``items/status`` is the batch endpoint's path; an item whose SKU is "status" is still read here.
    return get_item(request, "status")


# ---- sales orders --------------------------------------------------------------------------------


def list_orders(request: HttpRequest) -> JsonResponse:
    queryset = models.SalesOrder.objects.all()
    since = query_datetime(request, "updated_since")
    if since is not None:
        queryset = queryset.filter(updated_at__gte=since)
    statuses = _statuses(request, models.ORDER_STATUSES)
    if statuses:
        queryset = queryset.filter(status__in=statuses)
    return paginate(request, queryset.order_by("updated_at", "ord_num"), serializers.order)


def get_order(request: HttpRequest, ord_num: str) -> JsonResponse:
    return ok(serializers.order(services.get_order(ord_num)))


def pick_ticket(request: HttpRequest, ord_num: str) -> JsonResponse:
    return ok(serializers.order(services.send_pick_ticket(ord_num, json_object(request))))


# ---- shipments and invoices ------------------------------------------------------------------------


def list_shipments(request: HttpRequest) -> JsonResponse:
    queryset = models.Shipment.objects.select_related("order", "invoice")
    ord_nums = query_list(request, "ord_num")
    if ord_nums:
        queryset = queryset.filter(order__ord_num__in=ord_nums)
    ship_date = query_date(request, "ship_date")
    if ship_date is not None:
        queryset = queryset.filter(ship_day=ship_date)
    return paginate(request, queryset.order_by("id"), serializers.shipment)


def create_shipment(request: HttpRequest) -> JsonResponse:
    result, created = services.create_shipment(json_object(request))
    return ok(result, status=201 if created else 200)


def update_shipment(request: HttpRequest, ship_num: str) -> JsonResponse:
    return ok(serializers.shipment(services.update_shipment_tracking(ship_num, json_object(request))))


def get_shipment(request: HttpRequest, ship_num: str) -> JsonResponse:
    found = models.Shipment.objects.select_related("order", "invoice").filter(ship_num=ship_num).first()
    if found is None:
        raise services.not_found("Shipment", ship_num)
    return ok(serializers.shipment(found))


def list_invoices(request: HttpRequest) -> JsonResponse:
    queryset = models.Invoice.objects.select_related("order", "shipment")
    invoice_date = query_date(request, "invoice_date")
    if invoice_date is not None:
        queryset = queryset.filter(invoice_date=invoice_date)
    ord_nums = query_list(request, "ord_num")
    if ord_nums:
        queryset = queryset.filter(order__ord_num__in=ord_nums)
    return paginate(request, queryset.order_by("id"), serializers.invoice)


# ---- inventory -------------------------------------------------------------------------------------


def list_inventory(request: HttpRequest) -> JsonResponse:
    services.apply_due_batches()  # a reader never sees a batch that is due but not yet applied
    queryset = models.InventoryPosition.objects.all()
    locations = query_list(request, "location")
    if locations:
        queryset = queryset.filter(location__in=locations)
    skus = query_list(request, "sku")
    if skus:
        queryset = queryset.filter(sku__in=skus)
    return paginate(request, queryset.order_by("location", "sku"), serializers.inventory)


def queue_ats_update(request: HttpRequest) -> JsonResponse:
    batch = services.queue_ats_update(json_object(request))
    return ok({"batch_id": batch.batch_id, "accepted": len(batch.positions)}, status=202)


def get_ats_update(request: HttpRequest, batch_id: str) -> JsonResponse:
    services.apply_due_batches()
    batch = models.AtsBatch.objects.filter(batch_id=batch_id).first()
    if batch is None:
        raise services.not_found("ATS update batch", batch_id)
    return ok(serializers.ats_batch(batch))


items = endpoint({"GET": list_items})
item = endpoint({"GET": get_item})
item_status = endpoint({"POST": set_item_status})
item_statuses = endpoint({"POST": set_item_statuses, "GET": get_item_named_status})
orders = endpoint({"GET": list_orders})
order = endpoint({"GET": get_order})
order_pick_ticket = endpoint({"POST": pick_ticket})
shipments = endpoint({"GET": list_shipments, "POST": create_shipment})
shipment = endpoint({"GET": get_shipment, "PATCH": update_shipment})
invoices = endpoint({"GET": list_invoices})
inventory = endpoint({"GET": list_inventory})
ats_updates = endpoint({"POST": queue_ats_update})
ats_update = endpoint({"GET": get_ats_update})
