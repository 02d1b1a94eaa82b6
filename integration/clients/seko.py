"""Client of SEKO's iHub API: the only module that knows its envelope and its quirks.

Every body iHub sends, answers and pushes alike, goes through the same pure normaliser before
anything reads it: the older ``{"Response": ...}`` wrapper is removed, ``{}`` becomes ``None``,
whatever sits in a ``List`` is a list, numeric codes become strings and currencies upper case.
Business errors arrive as HTTP 200 with ``CallStatus.Success`` false; they are raised as
``Rejected`` with iHub's own message, except the few that mean something else (an order that
already exists, "No results found").
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote

from integration.clients.errors import MalformedPayload, NotFound, Rejected, Transient, Unsupported
from integration.clients.http import HttpClient, OnExchange, Reply

# Fields that are codes: iHub may send them as numbers, they are compared as text.
CODE_KEYS = frozenset({
    "ProductCode", "SalesOrderNumber", "SalesOrderReference", "DCCode", "CourierName", "CourierService",
    "Courier", "CompanyCode", "SupplierCode", "EAN", "StyleCode", "HTSCode", "Size", "Colour", "Brand",
    "GUID", "LineItemGUID", "DispatchId", "DispatchNumber", "TrackingNumber", "InterfaceRecordId",
    "MessageGroupId", "IntegrationId", "LotNo", "ASNNumber", "CountryCode", "CountryOfOrigin",
})
CURRENCY_KEYS = frozenset({"Currency", "CurrencyCode"})
PUSH_TYPES = ("DispatchConfirmation", "TrackingDetails", "StockAdjustment", "StockStatusMovement",
              "StockOvernightSummary")
# Push types whose lines Seko sends in a ``List`` beside the header inside ``Response`` ("Push
# Stock Adjustment"; the overnight summary's layout is our assumption, by analogy), not in it.
SIBLING_LINES = {"StockAdjustment": "StockAdjustmentLineItem", "StockOvernightSummary": "StockOvernightSummaryLineItem"}
# "Push Dispatch Confirmation" names its entity "Dispatch" (the other push pages name theirs as
# their JSON key: "TrackingDetails", "StockAdjustment"); our first contract said
# "DispatchConfirmation". Both are read, as a DispatchConfirmation.
PUSH_ALIASES = {"Dispatch": "DispatchConfirmation"}
# The dispatch fields we read, under the other names Seko's pages use for the same thing (its
# tracking and dispatch-carton pages say Courier, CarrierName, DcCode, PrimaryTrackingNumber):
# a name we read is filled from the first alias present when it is missing or empty.
DISPATCH_FIELD_ALIASES = {
    "CourierName": ("Courier", "CarrierName"),
    "CourierService": ("CarrierService",),
    "TrackingNumber": ("PrimaryTrackingNumber",),
    "TrackingUrl": ("PrimaryTrackingUrl",),
    "DCCode": ("DcCode",),
}

NO_RESULTS = re.compile(r"no results found", re.IGNORECASE)
# ASP.NET's own answer for a route iHub does not have (HTTP 404, no CallStatus envelope).
NO_SUCH_RESOURCE = re.compile(r"No HTTP resource was found", re.IGNORECASE)


def refusal(subject: str, outcome: str, code: str | None = None) -> re.Pattern:
    """iHub's "<subject> [<code>] <outcome>" inside one of its error texts. Seko's pages show
    both forms: with the code ("Product Code PMTest123 already exists", our first samples) and
    without it ("Product Code already exists", "Sales Order does not exist"). The code, when
    given, is matched as sent (it may hold spaces); otherwise one word may stand in its place.
    Anchored on the subject, so the "Error Submitting SalesOrder: SO-1 -" prefix of an order's
    message never counts as "Sales Order ... already exists" for some other thing that does."""
    name = r"\s*".join(re.escape(word) for word in subject.split())  # "SalesOrder" as well as "Sales Order"
    token = rf"(?:{re.escape(code)}|\S+)" if code else r"\S+"
    tail = r"\s+".join(re.escape(word) for word in outcome.split())
    return re.compile(rf"\b{name}(?:\s+{token})?\s+{tail}\b", re.IGNORECASE)


ORDER_EXISTS = refusal("Sales Order", "already exists")
ORDER_MISSING = refusal("Sales Order", "does not exist")
PRODUCT_EXISTS = refusal("Product Code", "already exists")
PRODUCT_MISSING = refusal("Product Code", "does not exist")

MAX_QUERY_LENGTH = 2048  # iHub refuses a longer query string; ours stay strictly under it
DISPATCH_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"

T = TypeVar("T")


class AlreadyExists(Rejected):
    """iHub refused to create something it already has (a product code)."""


# --- results -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SubmitResult:
    guid: str | None
    already_existed: bool


@dataclass(frozen=True)
class OrderStatus:
    guid: str | None
    status: str


@dataclass(frozen=True)
class StockLine:
    product_code: str
    dc_code: str | None
    quantity: int
    location_type: str | None


@dataclass(frozen=True)
class DispatchRef:
    dc_code: str | None
    guid: str | None
    sales_order_number: str | None


@dataclass(frozen=True)
class PushRecord:
    type: str
    fields: dict


@dataclass(frozen=True)
class CallStatus:
    success: bool
    code: int | str | None
    message: str


# --- pure normalisers ----------------------------------------------------------------------


def _code_text(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    if isinstance(value, float):
        if not value.is_integer():
            return repr(value)
        value = int(value)
    try:
        return str(value)
    except ValueError:  # beyond Python's int-to-str digit limit: leave it alone
        return value


def as_list(value: Any) -> list:
    """A list from iHub's "one item or many": ``None`` → ``[]``, one object → ``[object]``."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [item for item in items if item is not None]


def normalise(value: Any, key: str | None = None) -> Any:
    """iHub's quirks removed from a decoded JSON value (pure and idempotent): ``{}`` → ``None``,
    each value inside a ``List`` (and ``Responses``) a list, numeric codes → strings,
    currency codes upper case. ``key`` is the name the value was found under."""
    if isinstance(value, dict):
        if not value:
            return None
        out = {}
        for k, v in value.items():
            v = normalise(v, k)
            if key == "List" or k == "Responses":
                v = as_list(v)
            out[k] = v
        return out
    if isinstance(value, list):
        return [normalise(item, key) for item in value]
    if key in CODE_KEYS:
        return _code_text(value)
    if key in CURRENCY_KEYS and isinstance(value, str):
        return value.upper()
    return value


def unwrap(data: Any) -> Any:
    """The body inside the older ``{"Response": {...}}`` envelope, or ``data`` itself."""
    if isinstance(data, dict) and "CallStatus" not in data and isinstance(data.get("Response"), dict):
        return data["Response"]
    return data


def decode(raw: bytes | str | Any) -> Any:
    if isinstance(raw, bytes | bytearray):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedPayload(f"Seko body is not UTF-8: {exc}") from None
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise MalformedPayload(f"Seko body is not JSON ({exc}): {raw[:200]!r}") from None
        except RecursionError:  # issue 8: nested thousands deep; no real iHub body is
            raise MalformedPayload(f"Seko body is nested too deeply to read: {raw[:200]!r}") from None
    return raw


def parse_body(raw: bytes | str | dict) -> dict:
    """A Seko response body, unwrapped and normalised; ``MalformedPayload`` without a CallStatus.
    A list answer (a body with a ``List``) may come without one, as real iHub stock replies
    do: it is given a successful CallStatus."""
    data = decode(raw)
    if not isinstance(data, dict):
        raise MalformedPayload(f"Seko body is not a JSON object: {str(data)[:200]!r}")
    body = normalise(unwrap(data)) or {}
    if "CallStatus" not in body and isinstance(body.get("List"), dict):
        body = {"CallStatus": {"Success": True, "Code": None, "Message": ""}, **body}
    status = body.get("CallStatus")
    if not isinstance(status, dict) or "Success" not in status:
        raise MalformedPayload(f"Seko body has no CallStatus.Success: {str(data)[:200]!r}")
    return body


def call_status(body: dict) -> CallStatus:
    status = body["CallStatus"]
    success = status.get("Success")
    if isinstance(success, str) and success.strip().lower() in {"true", "false"}:
        success = success.strip().lower() == "true"
    if not isinstance(success, bool):
        raise MalformedPayload(f"Seko CallStatus.Success is not a boolean: {success!r}")
    message = status.get("Message")
    if message is None:
        message = ""
    elif isinstance(message, list):
        message = "; ".join(str(m) for m in message if m is not None)
    elif not isinstance(message, str):
        message = str(message)
    return CallStatus(success=success, code=status.get("Code"), message=message.strip())


def list_items(body: dict, name: str) -> list:
    """The items of ``List.<name>`` (always a list after ``normalise``)."""
    container = body.get("List")
    if container is None:
        return []
    if not isinstance(container, dict):
        raise MalformedPayload(f"Seko List is not an object: {str(container)[:200]!r}")
    items = as_list(container.get(name))
    for item in items:
        if not isinstance(item, dict):
            raise MalformedPayload(f"Seko List.{name} holds a non-object: {str(item)[:200]!r}")
    return items


def _quantity(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise MalformedPayload(f"Seko {what} is not a quantity: {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise MalformedPayload(f"Seko {what} is not a quantity: {value!r}") from None
    if not number.is_integer():
        raise MalformedPayload(f"Seko {what} is not a whole quantity: {value!r}")
    return int(number)


def parse_stock_line(item: dict, dc: str | None = None) -> StockLine:
    """One ``StockQuantityLineItem``; ``Quantity`` or ``FreeQuantity``, whichever is there.
    ``dc`` is the DC asked for, used when the line does not name its own."""
    code = item.get("ProductCode")
    if not code:
        raise MalformedPayload(f"Seko stock line without ProductCode: {item!r}")
    quantity = item.get("Quantity")
    if quantity is None:
        quantity = item.get("FreeQuantity")
    if quantity is None:
        raise MalformedPayload(f"Seko stock line for {code} has no Quantity or FreeQuantity")
    return StockLine(product_code=str(code), dc_code=item.get("DCCode") or dc,
                     quantity=_quantity(quantity, f"stock quantity for {code}"),
                     location_type=item.get("LocationType"))


def parse_dispatch_ref(item: dict) -> DispatchRef:
    guid, number = item.get("GUID"), item.get("SalesOrderNumber")
    if not guid and not number:
        raise MalformedPayload(f"Seko dispatch line with neither GUID nor SalesOrderNumber: {item!r}")
    return DispatchRef(dc_code=item.get("DCCode"), guid=guid, sales_order_number=number)


def parse_push(body: bytes | str | dict) -> list[PushRecord]:
    """The records of one push: ``{"Responses": [{"Response": {"<Type>": {...}}}]}``, normalised.
    Also read: ``Responses`` holding a single object, and a lone ``{"Response": {...}}``."""
    data = decode(body)
    if not isinstance(data, dict):
        raise MalformedPayload(f"Seko push is not a JSON object: {str(data)[:200]!r}")
    if "Responses" in data:
        entries = as_list(normalise(data["Responses"], "Responses"))
    elif "Response" in data:
        entries = [normalise(data)]
    else:
        raise MalformedPayload(f"Seko push has no Responses: keys {sorted(data)[:10]}")
    records = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise MalformedPayload(f"Seko push entry {index} is not an object: {str(entry)[:200]!r}")
        inner = entry.get("Response", entry)
        if not isinstance(inner, dict):
            raise MalformedPayload(f"Seko push entry {index} has an empty Response")
        found = [(key, PUSH_ALIASES.get(key, key)) for key in [*PUSH_TYPES, *PUSH_ALIASES] if key in inner]
        if not found:
            raise MalformedPayload(
                f"Seko push entry {index} is none of {', '.join(PUSH_TYPES)}: keys {sorted(inner)[:10]}")
        for key, name in found:
            fields = inner[key]
            if not isinstance(fields, dict):
                raise MalformedPayload(f"Seko push entry {index}: {key} is empty or not an object")
            if name == "DispatchConfirmation":
                fields = {**dispatch_fields(fields), "List": {"DispatchLineItem": dispatch_lines(fields, inner)}}
            elif name in SIBLING_LINES:
                fields = _with_sibling_lines(fields, inner, SIBLING_LINES[name])
            records.append(PushRecord(type=name, fields=fields))
    return records


def dispatch_fields(fields: dict) -> dict:
    """A dispatch with the fields we read filled from their aliases where they are missing."""
    out = dict(fields)
    for name, aliases in DISPATCH_FIELD_ALIASES.items():
        if out.get(name) in (None, ""):
            found = next((out[alias] for alias in aliases if out.get(alias) not in (None, "")), None)
            if found is not None:
                out[name] = found
    return out


def dispatch_lines(fields: dict, response: dict | None = None) -> list[dict]:
    """A dispatch's lines. No public page shows their layout (the line table is not in what we
    could read): ``List.DispatchLineItem`` inside the dispatch, as our first contract had it, is
    read first; else a ``List`` beside it in the Response, as the stock pushes document theirs;
    in either, a ``List`` holding one entry of another name is read the same way."""
    for holder in (fields, response or {}):
        container = holder.get("List")
        if not isinstance(container, dict) or not container:
            continue
        name = "DispatchLineItem" if "DispatchLineItem" in container or len(container) != 1 else next(iter(container))
        return list_items({"List": container}, name)
    return []


def _with_sibling_lines(fields: dict, response: dict, name: str) -> dict:
    """The header with its lines attached as ``List.<name>``: from the ``List`` beside it in the
    Response (as documented), else from a ``List`` inside it. A header with neither (the flat
    shape we first guessed) is returned as it came."""
    lines: list = []
    for holder in (response, fields):
        if isinstance(holder.get("List"), dict):
            # Not checked here: a line that is not an object is reported by the stock flow,
            # which applies the message's other lines.
            lines.extend(as_list(holder["List"].get(name)))
    if not lines and not any(isinstance(holder.get("List"), dict) for holder in (response, fields)):
        return fields
    return {**fields, "List": {name: lines}}


def dispatch_time(value: datetime) -> str:
    """``yyyy-MM-ddTHH:mm:ss`` in UTC, as the dispatch poll takes it."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: give a timezone-aware one")
    return value.astimezone(UTC).strftime(DISPATCH_TIME_FORMAT)


def _segment(value: str) -> str:
    return quote(str(value), safe="")


def _product_code(product: Any) -> str | None:
    code = product.get("ProductCode") if isinstance(product, dict) else None
    return str(code) if code not in (None, "") else None


def _order_number(payload: Any) -> str | None:
    order = payload.get("SalesOrder") if isinstance(payload, dict) else None
    number = order.get("SalesOrderNumber") if isinstance(order, dict) else None
    return str(number) if number not in (None, "") else None


# --- the client ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CourierService:
    """One entry of Seko's courier-service reference list."""

    courier_name: str
    service: str
    description: str = ""


class SekoClient(HttpClient):
    """iHub over HTTP. Methods return plain data or raise the errors of ``errors.py``."""

    system = "seko"

    def __init__(self, base_url: str, api_key: str, *, timeout: tuple[float, float] = (3.0, 20.0),
                 max_retries: int = 2, backoff: float = 0.5, on_exchange: OnExchange | None = None,
                 **kwargs: Any):
        super().__init__(base_url, timeout=timeout, max_retries=max_retries, backoff=backoff,
                         on_exchange=on_exchange, params={"api_key": api_key}, secrets=[api_key],
                         secret_params=["api_key"], **kwargs)

    def _call(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        idempotent: bool = True,
        read: Callable[[dict], T] = lambda body: body,
        lookup: bool = False,
        absent_is_none: bool = False,
        undocumented: bool = False,
        tolerate: re.Pattern | None = None,
        refusals: Sequence[tuple[re.Pattern, type[Rejected]]] = (),
    ) -> T:
        """One iHub call: ``read(body)`` of the normalised body when the call succeeded or its
        failure is tolerated. ``read`` runs before the exchange is logged, so what it finds
        wrong is logged with it.

        ``lookup``: "No results found" and 404 raise ``NotFound`` (otherwise "No results" is an
        empty answer). ``absent_is_none``: a 404 means the endpoint does not exist → ``None``.
        ``undocumented``: an endpoint no Seko page documents, which a real iHub may lack: a 404
        without iHub's envelope, or ASP.NET's "No HTTP resource was found", raises
        ``Unsupported`` (never ``NotFound``: the object may exist, we cannot ask); iHub's own
        envelope saying "No results found" is still ``NotFound``.
        ``tolerate``: a failure message that is not an error (the caller reads the status).
        ``refusals``: failure messages raised as a more precise ``Rejected`` subclass."""

        def interpret(reply: Reply) -> Any:
            http = reply.status_code
            if http == 404 and absent_is_none:
                return None
            try:
                data = parse_body(reply.text)
            except MalformedPayload as exc:
                if undocumented and (http == 404 or NO_SUCH_RESOURCE.search(reply.text)):
                    raise self.error(Unsupported, f"Seko has no endpoint {path} (HTTP {http}): {reply.text[:200]}",
                                     reply, status_code=http) from None
                if http >= 400:
                    # Not iHub's envelope: a proxy's or gateway's error page between us and Seko. Seko
                    # has not judged the request, so it is never a refusal: try again later.
                    raise self.error(Transient, f"Seko {operation}: HTTP {http} without iHub's answer (a proxy or "
                                                f"gateway in between?): {reply.text[:200]}", reply) from None
                raise exc
            status = call_status(data)
            if status.success and http < 400:
                return read(data)
            message = status.message or f"HTTP {http}, no message"
            if undocumented and NO_SUCH_RESOURCE.search(message):
                raise self.error(Unsupported, f"Seko has no endpoint {path} (HTTP {http}): {message}", reply,
                                 status_code=http)
            kwargs = {"remote_message": message, "code": status.code, "status_code": http}
            no_results = bool(NO_RESULTS.search(message))
            if no_results and not lookup and http < 400:
                return read(data)
            if no_results or http == 404:
                raise self.error(NotFound, f"Seko found no {path}: {message}", reply, **kwargs)
            if tolerate is not None and tolerate.search(message):
                return read(data)
            cls = next((cls for pattern, cls in refusals if pattern.search(message)), Rejected)
            raise self.error(cls, f"Seko rejected {path}: {message}", reply, **kwargs)

        def parse(reply: Reply) -> Any:
            try:
                return interpret(reply)
            except MalformedPayload as exc:
                if exc.exchange is not None:
                    raise
                raise self.error(MalformedPayload, f"Seko {operation}: {exc}", reply) from None

        return self.request(operation, method, path, params=params, json_body=body, idempotent=idempotent,
                            parse=parse)

    # --- sales orders -------------------------------------------------------------------

    def submit_order(self, payload: dict) -> SubmitResult:
        """Submit a sales order. ``SalesOrderNumber`` is iHub's idempotency key, so a retry
        after a lost reply is safe: a repeat comes back as ``already_existed=True`` (GUID then
        usually None: read it with ``order_status``)."""

        def read(body: dict) -> SubmitResult:
            if not call_status(body).success:
                return SubmitResult(guid=body.get("GUID"), already_existed=True)
            if not body.get("GUID"):
                raise MalformedPayload("Seko accepted the order but returned no GUID")
            return SubmitResult(guid=body["GUID"], already_existed=False)

        return self._call("submit_order", "POST", "salesorders/v4/submit", body=payload, read=read,
                          tolerate=refusal("Sales Order", "already exists", _order_number(payload)))

    def order_status(self, sales_order_number: str) -> OrderStatus:
        """The order's GUID and warehouse status; ``NotFound`` when iHub does not know it,
        ``Unsupported`` when this iHub has no such endpoint (no Seko page documents the status by
        sales-order number: it is our assumption)."""

        def read(body: dict) -> OrderStatus:
            status = body.get("Status")
            if not status or not isinstance(status, str):
                raise MalformedPayload("no Status in the reply")
            return OrderStatus(guid=body.get("GUID"), status=status)

        path = f"salesorders/v4/{_segment(sales_order_number)}/status"
        return self._call("order_status", "GET", path, read=read, lookup=True, undocumented=True)

    def cancel_order(self, sales_order_number: str, reason_code: str = "001") -> None:
        """Cancel an order (cancelling a cancelled order is fine); ``Rejected`` with iHub's
        message when it is too late, ``NotFound`` when iHub does not know the order."""
        path = f"salesorders/v3/{_segment(sales_order_number)}/cancel"
        self._call("cancel_order", "POST", path, params={"reasonCode": reason_code}, lookup=True,
                   refusals=[(refusal("Sales Order", "does not exist", sales_order_number), NotFound)])

    def order_dispatch(self, sales_order_number: str) -> dict:
        """The order's ``DispatchConfirmation``, normalised (``List.DispatchLineItem`` a list);
        ``NotFound`` while it has none, ``Unsupported`` when this iHub has no such endpoint (no
        Seko page documents the per-order dispatch fetch: it is our assumption)."""

        def read(body: dict) -> dict:
            confirmation = body.get("DispatchConfirmation", body.get("Dispatch"))
            if confirmation is None:  # the object itself beside CallStatus
                confirmation = {k: v for k, v in body.items() if k != "CallStatus"}
            if not isinstance(confirmation, dict) or not confirmation:
                raise MalformedPayload("no DispatchConfirmation in the reply")
            return {**dispatch_fields(confirmation), "List": {"DispatchLineItem": dispatch_lines(confirmation, body)}}

        path = f"salesorders/v4/{_segment(sales_order_number)}/dispatch"
        return self._call("order_dispatch", "GET", path, read=read, lookup=True, undocumented=True)

    def dispatched_orders(self, since: datetime, until: datetime, dc: str | None = None,
                          status: str = "Dispatched") -> list[DispatchRef]:
        """Orders that reached ``status`` between ``since`` and ``until`` (GUID at least)."""
        path = f"dispatches/v1/status/{dispatch_time(since)}/{dispatch_time(until)}"
        return self._call(
            "dispatched_orders", "GET", path, params={"status": status, "dc": dc},
            read=lambda body: [parse_dispatch_ref(item) for item in list_items(body, "DispatchLineItem")],
        )

    # --- products -----------------------------------------------------------------------

    @staticmethod
    def _product_body(product: dict, supplier_mappings: list | None) -> dict:
        body: dict[str, Any] = {"ProductMaster": product}
        if supplier_mappings:
            body["List"] = {"SupplierMapping": supplier_mappings}
        return body

    def submit_product(self, product: dict, supplier_mappings: list | None = None) -> None:
        """Create a product; ``AlreadyExists`` (a ``Rejected``) when iHub has the code, whether
        its message names the code or not. Any other refusal keeps iHub's text verbatim."""
        body = self._product_body(product, supplier_mappings)
        self._call("submit_product", "POST", "products/v4/submit", body=body,
                   refusals=[(refusal("Product Code", "already exists", _product_code(product)), AlreadyExists)])

    def update_product(self, product: dict, supplier_mappings: list | None = None) -> None:
        """Update a product; ``NotFound`` when iHub does not have the code ("Product Code [code]
        does not exist", or "Product <code> does not exist" as iHub words it elsewhere)."""
        body = self._product_body(product, supplier_mappings)
        self._call("update_product", "POST", "products/v4/update", body=body,
                   refusals=[(refusal("Product Code", "does not exist", _product_code(product)), NotFound),
                             (refusal("Product", "does not exist", _product_code(product)), NotFound)])

    def get_product(self, code: str) -> dict:
        """The product master; ``NotFound`` when iHub does not have the code."""

        def read(body: dict) -> dict:
            product = body.get("ProductMaster")
            if not isinstance(product, dict):
                raise MalformedPayload("no ProductMaster in the reply")
            return product

        return self._call("get_product", "GET", f"products/v4/{_segment(code)}", read=read, lookup=True)

    def iter_products(self, page_size: int = 1000) -> Iterator[dict]:
        """Every product master, page by page."""

        def read_page(page: int) -> Callable[[dict], tuple[list[dict], int | None]]:
            def read(body: dict) -> tuple[list[dict], int | None]:
                next_page = body.get("NextPage")
                if next_page in (None, ""):
                    return list_items(body, "ProductMaster"), None
                try:
                    next_page = int(next_page)
                except (TypeError, ValueError):
                    raise MalformedPayload(f"NextPage is {next_page!r}") from None
                if next_page <= page:
                    raise MalformedPayload(f"NextPage {next_page} after page {page}")
                return list_items(body, "ProductMaster"), next_page

            return read

        page: int | None = 1
        while page is not None:
            products, page = self._call("iter_products", "GET", "products/v4/all",
                                        params={"page": page, "pageSize": page_size}, read=read_page(page))
            yield from products

    # --- stock --------------------------------------------------------------------------

    def stock_chunks(self, product_codes: Sequence[str], dc: str | None = None) -> list[list[str]]:
        """``product_codes`` split so that each call's query string (key included) stays
        under iHub's 2048-character cap."""

        def query_length(codes: list[str]) -> int:
            url = self.build_url("stock/v3/quantity", {"productCodes": ",".join(codes), "dc": dc})
            return len(url.partition("?")[2])

        chunks: list[list[str]] = []
        chunk: list[str] = []
        for code in product_codes:
            if query_length([code]) >= MAX_QUERY_LENGTH:
                raise ValueError(f"product code too long for one stock query: {code[:50]!r}...")
            if chunk and query_length([*chunk, code]) >= MAX_QUERY_LENGTH:
                chunks.append(chunk)
                chunk = []
            chunk.append(code)
        if chunk:
            chunks.append(chunk)
        return chunks

    def stock(self, product_codes: list[str] | None = None, dc: str | None = None) -> list[StockLine]:
        """Free stock lines, all SKUs when ``product_codes`` is None. Zero lines are kept."""
        if product_codes is None:
            chunks: list[list[str] | None] = [None]
        else:
            codes = list(dict.fromkeys(str(code) for code in product_codes))
            if not codes:
                return []
            chunks = list(self.stock_chunks(codes, dc))

        def read(body: dict) -> list[StockLine]:
            return [parse_stock_line(item, dc) for item in list_items(body, "StockQuantityLineItem")]

        lines: list[StockLine] = []
        for chunk in chunks:
            params = {"productCodes": ",".join(chunk) if chunk is not None else None, "dc": dc}
            lines.extend(self._call("stock", "GET", "stock/v3/quantity", params=params, read=read))
        return lines

    # --- reference data -----------------------------------------------------------------

    def _reference(self, operation: str, path: str, entry: Callable[[Any], T]) -> list[T] | None:
        def read(body: dict) -> list[T]:
            container = body.get("List")
            if container is None:
                return []
            if not isinstance(container, dict):
                raise MalformedPayload("List is not an object")
            return [entry(item) for value in container.values() for item in as_list(value)]

        return self._call(operation, "GET", path, read=read, absent_is_none=True)

    def reference_dcs(self) -> list[str] | None:
        """Active DC codes; ``None`` when this iHub has no such endpoint (404)."""

        def entry(item: Any) -> str:
            code = item.get("DCCode") or item.get("Code") if isinstance(item, dict) else _code_text(item)
            if not code or not isinstance(code, str):
                raise MalformedPayload(f"DC entry unreadable: {str(item)[:200]!r}")
            return code

        return self._reference("reference_dcs", "reference/v1/dcs", entry)

    def reference_courier_services(self) -> list[tuple[str, str]] | None:
        """Active (CourierName, CourierService) pairs; ``None`` when the endpoint is absent (404)."""

        def entry(item: Any) -> tuple[str, str]:
            if not isinstance(item, dict) or not item.get("CourierService"):
                raise MalformedPayload(f"courier service entry unreadable: {str(item)[:200]!r}")
            return str(item.get("CourierName") or ""), str(item["CourierService"])

        return self._reference("reference_courier_services", "reference/v1/courierservices", entry)

    def reference_courier_service_list(self) -> list[CourierService] | None:
        """Active courier services with the service in words where the list gives them (our
        simulator adds ``Description``; no Seko page documents the list, so an entry without
        words has ``description`` ""). ``None`` when the endpoint is absent (404)."""

        def entry(item: Any) -> CourierService:
            if not isinstance(item, dict) or not item.get("CourierService"):
                raise MalformedPayload(f"courier service entry unreadable: {str(item)[:200]!r}")
            words = item.get("Description") or item.get("CourierServiceDescription") or ""
            return CourierService(str(item.get("CourierName") or ""), str(item["CourierService"]), str(words).strip())

        return self._reference("reference_courier_services", "reference/v1/courierservices", entry)
