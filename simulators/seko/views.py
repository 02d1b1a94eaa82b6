"""The iHub API as the integration sees it (every path under /api/). Views return a Reply;
the ``ihub`` decorator adds auth, faults and quirks."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse

from . import quirks, rules, tally, warehouse
from .api import BadRequest, Reply, error, ihub, ok, read_json
from .models import CourierService, DistributionCentre, Product, SalesOrder, Stock

NO_RESULTS = "No results found for search criteria"
QUERY_STRING_LIMIT = 2048


def _body(request: HttpRequest) -> dict[str, Any]:
    body = rules.unwrap(read_json(request))
    if not isinstance(body, dict):
        raise BadRequest("The request is invalid.")
    return body


# --- products ---------------------------------------------------------------------------------


def _save_product(request: HttpRequest, *, new: bool) -> Reply:
    body = _body(request)
    master = body.get("ProductMaster") if isinstance(body.get("ProductMaster"), dict) else {}
    message = rules.product_model_error(master)
    if message:
        return error(message)
    data = rules.normalise_product(master)
    product_code = data["ProductCode"]
    listing = body.get("List")
    mapping = rules.as_list(listing.get("SupplierMapping")) if isinstance(listing, dict) else []
    with transaction.atomic():
        exists = Product.objects.filter(code=product_code).exists()
        if new and exists:
            return error(rules.product_exists_error(product_code))
        if not new and not exists:
            return error(rules.product_missing_error(product_code))
        Product.objects.update_or_create(code=product_code,
                                         defaults={"master": data, "supplier_mapping": mapping})
    tally.product_accepted(product_code)
    return ok()


@ihub("POST")
def product_submit(request: HttpRequest) -> Reply:
    return _save_product(request, new=True)


@ihub("POST")
def product_update(request: HttpRequest) -> Reply:
    return _save_product(request, new=False)


@ihub("GET")
def product_detail(request: HttpRequest, product_code: str) -> Reply:
    product = Product.objects.filter(code=product_code).first()
    if product is None:
        return error(NO_RESULTS, ProductMaster=None)
    return ok(ProductMaster=product.master)


def _positive_int(value: str | None, default: int) -> int:
    try:
        return max(1, int(value)) if value else default
    except ValueError as exc:
        raise BadRequest(f"The value '{value}' is not valid.") from exc


@ihub("GET")
def product_list(request: HttpRequest) -> Reply:
    page = _positive_int(request.GET.get("page"), 1)
    size = min(_positive_int(request.GET.get("pageSize"), 1000), 1000)
    rows = list(Product.objects.order_by("code")[(page - 1) * size: page * size + 1])
    next_page = page + 1 if len(rows) > size else None
    masters = [row.master for row in rows[:size]]
    return ok("" if masters else NO_RESULTS, List={"ProductMaster": masters}, NextPage=next_page)


# --- sales orders -----------------------------------------------------------------------------


@ihub("POST")
def order_submit(request: HttpRequest) -> Reply:
    body = _body(request)
    message, guid = warehouse.submit_order(request.body.decode("utf-8"), body)
    return error(message, GUID=None) if message else ok(GUID=guid)


@ihub("GET")
def order_status(request: HttpRequest, so: str) -> Reply:
    order = SalesOrder.objects.filter(sales_order_number=so).first()
    if order is None:
        return error(NO_RESULTS, GUID=None, Status=None)
    return ok(GUID=order.guid, Status=order.status)


@ihub("POST")
def order_cancel(request: HttpRequest, so: str) -> Reply:
    message = warehouse.cancel_order(so, request.GET.get("reasonCode", ""))
    return error(message, GUID=None) if message else ok(GUID=None)


@ihub("GET")
def order_dispatch(request: HttpRequest, so: str) -> Reply:
    order = SalesOrder.objects.filter(sales_order_number=so).first()
    if order is None or not order.dispatch:
        return error(NO_RESULTS, DispatchConfirmation=None)
    return ok(DispatchConfirmation=order.dispatch)


# --- stock ------------------------------------------------------------------------------------


@ihub("GET")
def stock_quantity(request: HttpRequest) -> Reply:
    """Stock per SKU, DC and location type ("Retrieve Stock Quantity"): a line only where the
    quantity is above 0. An order Seko accepted shows in these figures only after the stock lag
    (``warehouse.stock_lag_seconds``), as documented; allocation itself is immediate. A query
    string (api_key included, as IIS counts it) over 2048 characters is refused with HTTP 414 and
    a CallStatus error: the client must chunk."""
    if len(request.META.get("QUERY_STRING", "")) > QUERY_STRING_LIMIT:
        return error(f"The query string exceeds the maximum length of {QUERY_STRING_LIMIT} characters.",
                     status=414, List={"StockQuantityLineItem": []})
    codes = [c.strip() for c in request.GET.get("productCodes", "").split(",") if c.strip()]
    dc = request.GET.get("dc", "").strip()
    rows = Stock.objects.order_by("product_code", "dc_code", "location_type")
    if codes:
        rows = rows.filter(product_code__in=codes)
    if dc:
        rows = rows.filter(dc_code=dc)
    not_shown_yet = warehouse.recently_allocated(codes or None, dc or None)

    def line(row: Stock, quantity: int) -> dict[str, Any]:
        return {"ProductCode": row.product_code, "DCCode": row.dc_code, "LocationType": row.location_type,
                "Quantity": quantity}

    lines, zero_lines = [], []
    for row in rows:
        quantity = row.free
        if row.location_type == warehouse.AVAILABLE:
            quantity += not_shown_yet.get((row.product_code, row.dc_code), 0)
        (lines if quantity > 0 else zero_lines).append(line(row, quantity))
    reply = ok("" if lines else NO_RESULTS, List={"StockQuantityLineItem": lines})
    reply.quirk = partial(quirks.stock_lines, zero_lines=[z for z in zero_lines if z["Quantity"] == 0])
    return reply


# --- dispatch poll ----------------------------------------------------------------------------


def _when(value: str) -> datetime:
    for parse in (lambda v: datetime.strptime(v, "%Y-%m-%dT%H:%M:%S"),
                  lambda v: datetime.fromisoformat(v.replace("Z", "+00:00"))):
        try:
            moment = parse(value)
        except ValueError:
            continue
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    raise BadRequest(f"The value '{value}' is not valid.")


@ihub("GET")
def dispatch_poll(request: HttpRequest, start: str, end: str) -> Reply:
    """Orders whose status became ``status`` (default Dispatched) within [start, end], UTC."""
    orders = SalesOrder.objects.filter(
        status=request.GET.get("status") or "Dispatched",
        status_changed_at__gte=_when(start), status_changed_at__lte=_when(end),
    ).order_by("status_changed_at", "id")
    if request.GET.get("dc"):
        orders = orders.filter(dc_code=request.GET["dc"])
    items = [{"DCCode": o.dc_code, "GUID": o.guid, "SalesOrderNumber": o.sales_order_number} for o in orders]
    reply = ok("" if items else NO_RESULTS, List={"DispatchLineItem": items})
    reply.quirk = quirks.dispatch_poll_lines
    return reply


# --- reference data ---------------------------------------------------------------------------


@ihub("GET")
def reference_dcs(request: HttpRequest) -> Reply:
    dcs = [{"DCCode": c} for c in DistributionCentre.objects.order_by("code").values_list("code", flat=True)]
    return ok(List={"DC": dcs})


@ihub("GET")
def reference_courier_services(request: HttpRequest) -> Reply:
    # "Description" (the service in words, as dispatch confirmations name it) is ours, like the list.
    services = [{"CourierName": name, "CourierService": service, **({"Description": words} if words else {})}
                for name, service, words in CourierService.objects.order_by("courier_name", "courier_service")
                .values_list("courier_name", "courier_service", "description")]
    return ok(List={"CourierService": services})


def not_found(request: HttpRequest, path: str = "") -> HttpResponse:
    return JsonResponse({"Message": "No HTTP resource was found that matches the request URI."}, status=404)
