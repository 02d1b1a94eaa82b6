"""Pure validation of what a client submits, in iHub's words. No database access: the caller
passes in what it knows (existing orders, reference data, stock), so the rules can be read and
tested on their own. iHub reports model errors all at once, then stops at the first business
error; the message texts are the contract's."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

CANCEL_REASON_CODES = {"001", "002", "003", "004", "005", "006"}


def unwrap(body: Any) -> Any:
    """Accept the old ``{"Request": {...}}`` envelope as well as the bare body."""
    if isinstance(body, dict) and set(body) == {"Request"} and isinstance(body["Request"], dict):
        return body["Request"]
    return body


def code(value: Any) -> str:
    """Codes may arrive as JSON numbers (``100083``); iHub treats them as strings."""
    if value is None or isinstance(value, dict | list):  # {} is how the old API says "empty"
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def as_list(value: Any) -> list[Any]:
    """A list of one may arrive as a bare object; ``{}``/null means none."""
    if value is None or value == {}:
        return []
    if isinstance(value, list):
        return value
    return [value]


def _section(body: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = body.get(name)
    return value if isinstance(value, dict) else {}


def _required(field_name: str) -> str:
    return f"The {field_name} field is required."


def _too_long(field_name: str, limit: int) -> str:
    return f"The field {field_name} must be a string with a maximum length of {limit}."


def _check_length(errors: list[str], data: Mapping[str, Any], field_name: str, limit: int) -> None:
    value = code(data.get(field_name))
    if len(value) > limit:
        errors.append(_too_long(field_name, limit))


# --- products ---------------------------------------------------------------------------------


def product_model_error(master: Mapping[str, Any]) -> str | None:
    errors: list[str] = []
    if not code(master.get("ProductCode")):
        errors.append(_required("ProductCode"))
    _check_length(errors, master, "ProductCode", 100)
    _check_length(errors, master, "CountryOfOrigin", 2)
    _check_length(errors, master, "Currency", 3)
    return "; ".join(errors) or None


def normalise_product(master: Mapping[str, Any]) -> dict[str, Any]:
    """Store codes as strings and currency upper case, the way our API then serves them."""
    data = dict(master)
    for key in ("ProductCode", "EAN", "StyleCode", "HTSCode"):
        if key in data:
            data[key] = code(data[key])
    if isinstance(data.get("Currency"), str):
        data["Currency"] = data["Currency"].upper()
    return data


def _product_error(product_code: str, what: str) -> str:
    return f"Error Submitting Product Master: {product_code} - Error. Product Code {product_code} {what}."


def product_exists_error(product_code: str) -> str:
    """Seko's documented duplicate answer names the code once, in the prefix, and not again
    after "Product Code" (an older sample did repeat it; the client reads both)."""
    return f"Error Submitting Product Master: {product_code} - Error. Product Code already exists."


def product_missing_error(product_code: str) -> str:
    return _product_error(product_code, "does not exist")


# --- sales orders -----------------------------------------------------------------------------


@dataclass
class OrderLine:
    line_number: int
    product_code: str
    quantity: int
    ean: str = ""


@dataclass
class ParsedOrder:
    sales_order_number: str
    dc_code: str
    courier_name: str
    courier_service: str
    reference: str
    lines: list[OrderLine] = field(default_factory=list)


def _int(value: Any) -> int | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if number.is_integer() else None


def parse_order(body: Mapping[str, Any]) -> ParsedOrder:
    order = _section(body, "SalesOrder")
    lines = []
    for index, item in enumerate(as_list(_section(body, "List").get("SalesOrderLineItem")), start=1):
        item = item if isinstance(item, dict) else {}
        lines.append(OrderLine(
            line_number=_int(item.get("LineNumber")) or index,
            product_code=code(item.get("ProductCode")),
            quantity=_int(item.get("Quantity")) or 0,
            ean=code(item.get("EAN")),
        ))
    return ParsedOrder(
        sales_order_number=code(order.get("SalesOrderNumber")),
        dc_code=code(_section(body, "SalesOrderHeader").get("DCCode")),
        courier_name=code(order.get("CourierName")),
        courier_service=code(order.get("CourierService")),
        reference=code(order.get("SalesOrderReference")),
        lines=lines,
    )


def order_model_error(body: Mapping[str, Any]) -> str | None:
    """Model validation: every missing/oversized field in one message, joined by "; "."""
    errors: list[str] = []
    order = _section(body, "SalesOrder")
    if not code(order.get("SalesOrderNumber")):
        errors.append(_required("SalesOrderNumber"))
    _check_length(errors, order, "SalesOrderNumber", 50)
    delivery = _section(body, "DeliveryDetails")
    for name in ("City", "CountryCode", "Line1", "PostcodeZip"):
        if not code(delivery.get(name)):
            errors.append(_required(name))
    items = as_list(_section(body, "List").get("SalesOrderLineItem"))
    if not items:
        errors.append(_required("SalesOrderLineItem"))
    for item in items:
        item = item if isinstance(item, dict) else {}
        if not code(item.get("ProductCode")):
            errors.append(_required("ProductCode"))
        quantity = _int(item.get("Quantity"))
        if quantity is None or quantity < 1:
            errors.append("The field Quantity must be between 1 and 2147483647.")
    # Several bad lines say the same thing once, as .NET's model state does per field.
    return "; ".join(dict.fromkeys(errors)) or None


def _order_error(so: str, detail: str) -> str:
    return f"Error Submitting SalesOrder: {so} - Error. {detail}"


def order_business_error(
    order: ParsedOrder,
    *,
    order_exists: bool,
    dc_codes: set[str],
    services: set[tuple[str, str]],
    known_products: set[str],
    free_stock: Callable[[str], int],
) -> str | None:
    """The first business rule the order breaks, in iHub's order of checking, or None."""
    so = order.sales_order_number
    if order_exists:
        return _order_error(so, f"Sales Order {so} already exists.")
    if order.dc_code not in dc_codes:
        return "Error. Invalid Mapping - DC"
    if (order.courier_name, order.courier_service) not in services:
        return "Error. Invalid Mapping - CourierService"
    seen: set[str] = set()
    for line in order.lines:
        if line.product_code in seen:
            return _order_error(so, f"Duplicate ProductCode {line.product_code}.")
        seen.add(line.product_code)
    for line in order.lines:
        if line.product_code not in known_products:
            return _order_error(so, f"Product {line.product_code} does not exist.")
    for line in order.lines:
        if free_stock(line.product_code) < line.quantity:
            return _order_error(so, f"Product {line.product_code} has no free stock.")
    return None


def cancel_error(so: str, *, reason_code: str, status: str | None) -> str | None:
    """None when the order may be cancelled (an already cancelled order is fine: idempotent)."""
    prefix = f"Error Cancelling SalesOrder: {so} - Error."
    if reason_code not in CANCEL_REASON_CODES:
        return f"{prefix} Invalid ReasonCode {reason_code or '(none)'}."
    if status is None:
        return f"{prefix} Sales Order {so} does not exist."
    if status not in {"To Be Picked", "Being Picked", "Cancelled"}:
        return f"{prefix} Sales Order {so} cannot be cancelled in status {status}."
    return None
