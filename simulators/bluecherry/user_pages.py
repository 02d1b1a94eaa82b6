"""A few HTML pages on the Blue Cherry simulator, under /user/, where a person plays the Blue
Cherry user in the demo: edit an order's address or lines, release, hold or cancel it, and fix an
item's data. They are the simulator's, never the product's: the product only links here when
BLUECHERRY_USER_PAGE_URL names this page (the demo sets it).

Each change goes through the same code as the control API (records.py), so it moves the order's
or item's ``updated_at`` and the integration picks it up on its next pull, as it would a change
made in the real Blue Cherry. The pages ask for the simulator's API key once (a form; or ``?key=``)
and keep it in a cookie for this port; the simulator has no users of its own.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from django.conf import settings
from django.db.models import Model, Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template import Context, Engine
from django.views.decorators.csrf import csrf_exempt

from simulators.bluecherry import records
from simulators.bluecherry.httputil import WRITES, ApiError
from simulators.bluecherry.models import Item, SalesOrder
from simulators.bluecherry.serializers import SHIP_TO_KEYS

# The simulator's settings configure no template engine (its API is JSON): one of its own.
ENGINE = Engine(dirs=[str(Path(__file__).parent / "templates")], autoescape=True)
KEY_COOKIE = "bc_sim_user_key"
# The item fields a Blue Cherry user corrects for Seko's product (item_rules in the integration).
ITEM_FIELDS = (("style_name", "Description (style name)"), ("upc", "UPC (EAN-13)"), ("hs_number", "HS code"),
               ("country_of_origin", "Country of origin (2 letters)"), ("weight_kg", "Weight (kg)"),
               ("retail_price", "Retail price"), ("currency", "Currency"))
ITEM_STATUS_CHOICES = ("DRAFT", "PENDING_WMS", "LIVE", "DISCONTINUED")
BLANK_LINES = 1  # empty rows under an order's lines, to add a line

T = TypeVar("T")
M = TypeVar("M", bound=Model)


def render(request: HttpRequest, template: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
    body = ENGINE.get_template(template).render(Context({"base": "/user/", **context}))
    return HttpResponse(body, status=status, content_type="text/html; charset=utf-8")


def _key_given(request: HttpRequest) -> str:
    return request.GET.get("key") or request.COOKIES.get(KEY_COOKIE, "")


def _key_ok(key: str) -> bool:
    return bool(key) and hmac.compare_digest(key.encode(), str(settings.SIM_API_KEY).encode())


class Missing(Exception):
    """The page's order or item does not exist: signed_in answers with the 404 page."""


def _found(model: type[M], what: str, **lookup: str) -> M:
    row = model.objects.filter(**lookup).first()
    if row is None:
        raise Missing(what)
    return row


def signed_in(view: Any) -> Any:
    """Ask for the simulator's key (once per browser) before any page; keep it in a cookie."""

    @csrf_exempt  # no CSRF middleware here; the key cookie is SameSite=Strict instead
    def wrapped(request: HttpRequest, **kwargs: Any) -> HttpResponse:
        key = _key_given(request)
        if not _key_ok(key):
            wrong = bool(key)
            return render(request, "bcsim/sign_in.html", {"next": request.path, "wrong": wrong}, status=401)
        try:
            response = view(request, **kwargs)
        except Missing as missing:
            response = render(request, "bcsim/missing.html", {"what": str(missing)}, status=404)
        if request.GET.get("key"):
            _remember(response, key)
        return response

    return wrapped


def _remember(response: HttpResponse, key: str) -> None:
    response.set_cookie(KEY_COOKIE, key, httponly=True, samesite="Strict", path="/user/")


@csrf_exempt
def sign_in(request: HttpRequest) -> HttpResponse:
    key = request.POST.get("key", "")
    target = request.POST.get("next", "/user/")
    if not target.startswith("/user/"):
        target = "/user/"
    if request.method != "POST" or not _key_ok(key):
        return render(request, "bcsim/sign_in.html", {"next": target, "wrong": request.method == "POST"},
                      status=401)
    response = HttpResponseRedirect(target)
    _remember(response, key)
    return response


def _save(change: Callable[[], T]) -> tuple[T | None, list[str]]:
    """Make the person's change under the write lock: (its result, no errors), or, when the
    records refuse it, (None, the refusal as lines to show on the form)."""
    try:
        with WRITES:
            return change(), []
    except ApiError as error:
        return None, [error.message, *(f"{d.get('field')}: {d.get('message')}" for d in error.details)]


@signed_in
def home(request: HttpRequest) -> HttpResponse:
    q = (request.GET.get("q") or "").strip()
    orders = SalesOrder.objects.order_by("-updated_at")
    item_rows = Item.objects.exclude(status="LIVE").order_by("sku")
    if q:
        orders = orders.filter(ord_num__icontains=q)
        item_rows = Item.objects.filter(Q(sku__icontains=q) | Q(upc__startswith=q)).order_by("sku")
    return render(request, "bcsim/home.html", {"q": q, "orders": orders[:30], "items": item_rows[:30]})


@signed_in
def order_page(request: HttpRequest, ord_num: str) -> HttpResponse:
    order = _found(SalesOrder, f"Sales order {ord_num}", ord_num=ord_num)
    errors: list[str] = []
    notice = ""
    form: dict[str, Any] | None = None
    if request.method == "POST":
        action = request.POST.get("action", "save")
        form = _order_form(request.POST)
        changed, errors = _save(lambda: _change_order(order, action, form))
        if changed is not None:
            order, notice = changed
            form = None  # saved: the form shows the order as it now is
    ship_to = form["ship_to"] if form else {key: (order.ship_to or {}).get(key, "") for key in SHIP_TO_KEYS}
    lines = form["lines"] if form else [{"sku": line.get("sku", ""), "qty_ordered": line.get("qty_ordered", 1),
                                         "line_no": line.get("line_no")} for line in order.lines or []]
    context = {"order": order, "ship_to": [(key, ship_to.get(key, "")) for key in SHIP_TO_KEYS],
               "lines": [*lines, *({"sku": "", "qty_ordered": ""} for _ in range(BLANK_LINES))],
               "errors": errors, "notice": notice}
    return render(request, "bcsim/order.html", context, status=422 if errors else 200)


def _change_order(order: SalesOrder, action: str, form: dict[str, Any]) -> tuple[SalesOrder, str]:
    """The order as the action left it, and what to tell the person."""
    ord_num = order.ord_num
    if action == "cancel":
        return records.cancel_order(ord_num), f"{ord_num} is cancelled."
    if action in ("release", "hold"):
        status = "RELEASED" if action == "release" else "HELD"
        return records.patch_order(ord_num, {"status": status}), f"{ord_num} is {status}."
    prices = {line.get("sku"): line.get("unit_price") for line in order.lines or []}
    lines = [{**line, "unit_price": prices[line["sku"]]} if prices.get(line["sku"]) else line
             for line in form["lines"]]  # a kept line keeps its price
    order = records.patch_order(ord_num, {"ship_to": form["ship_to"], "lines": lines})
    return order, f"{ord_num} saved: the integration picks the change up on its next pull."


def _order_form(post: Any) -> dict[str, Any]:
    """The ship-to and lines as typed; a line without a SKU or with quantity 0 is dropped."""
    ship_to = {key: post.get(f"ship_to.{key}", "").strip() for key in SHIP_TO_KEYS}
    lines = []
    for sku, qty in zip(post.getlist("line_sku"), post.getlist("line_qty"), strict=False):
        sku, qty = sku.strip(), qty.strip()
        if not sku:
            continue
        number = int(qty) if qty.lstrip("-").isdigit() else qty  # the records' check words a bad one
        if number == 0:
            continue
        lines.append({"line_no": len(lines) + 1, "sku": sku, "qty_ordered": number})
    return {"ship_to": ship_to, "lines": lines}


@signed_in
def item_page(request: HttpRequest, sku: str) -> HttpResponse:
    item = _found(Item, f"Item {sku}", sku=sku)
    errors: list[str] = []
    notice = ""
    values = {name: str(getattr(item, name)) for name, _ in ITEM_FIELDS}
    status = item.status
    if request.method == "POST":
        values = {name: request.POST.get(name, "").strip() for name, _ in ITEM_FIELDS}
        status = request.POST.get("status", item.status)
        saved, errors = _save(lambda: records.upsert_items([{"sku": sku, **values, "status": status}]))
        if saved is not None:
            [item] = saved
            notice = f"{sku} saved: the integration picks the change up on its next pull."
    context = {"item": item, "fields": [(name, label, values[name]) for name, label in ITEM_FIELDS],
               "status": status, "statuses": ITEM_STATUS_CHOICES, "errors": errors, "notice": notice}
    return render(request, "bcsim/item.html", context, status=422 if errors else 200)
