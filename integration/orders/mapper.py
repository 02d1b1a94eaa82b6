"""Blue Cherry order -> Seko ``salesorders/v4/submit`` body. Pure: dict in, dict out.

Seko rejects an order that repeats a ProductCode, so lines repeating a SKU are consolidated
into one Seko line; ``coverage`` remembers which Blue Cherry lines each Seko line stands for,
so a dispatch coming back can be split onto the right lines again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class SekoLine:
    line_number: int
    sku: str
    upc: str
    quantity: int
    unit_price: Decimal
    covers: tuple[int, ...]  # Blue Cherry line numbers


def consolidate_lines(lines: list[Mapping[str, Any]]) -> list[SekoLine]:
    """One Seko line per SKU, in order of first appearance, quantities summed. The unit price
    is the quantity-weighted average, so the order's value is unchanged."""
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for line in lines:
        grouped.setdefault(str(line["sku"]), []).append(line)
    result = []
    for number, (sku, group) in enumerate(grouped.items(), start=1):
        quantity = sum(int(line["qty_ordered"]) for line in group)
        value = sum(Decimal(str(line.get("unit_price") or "0")) * int(line["qty_ordered"]) for line in group)
        unit_price = (value / quantity).quantize(Decimal("0.01")) if quantity else Decimal("0.00")
        result.append(SekoLine(
            line_number=number,
            sku=sku,
            upc=str(group[0].get("upc") or ""),
            quantity=quantity,
            unit_price=unit_price,
            covers=tuple(int(line["line_no"]) for line in group),
        ))
    return result


def split_name(full_name: str) -> tuple[str, str]:
    parts = full_name.strip().split(None, 1)
    if not parts:
        return "", ""
    return parts[0], parts[1] if len(parts) > 1 else ""


def map_order(
    order: Mapping[str, Any], *, dc_code: str, courier_name: str, courier_service: str
) -> tuple[dict[str, Any], list[SekoLine]]:
    """Return the Seko submit body for a validated order, and its consolidated lines."""
    ship_to = order.get("ship_to") or {}
    first, last = split_name(str(ship_to.get("name") or order.get("customer_name") or ""))
    currency = str(order.get("currency") or "").upper()
    seko_lines = consolidate_lines(list(order.get("lines") or []))
    line2 = ", ".join(p for p in (ship_to.get("address2"), ship_to.get("address3")) if p)
    body = {
        "SalesOrderHeader": {"DCCode": dc_code},
        "SalesOrder": {
            "SalesOrderNumber": order["ord_num"],
            "SalesOrderReference": str(order.get("customer") or ""),
            "SalesOrderDate": order.get("order_date") or "",
            "OrderType": "Retail" if order.get("channel") in (None, "", "ECOM", "RETAIL") else "Wholesale",
            "CourierName": courier_name,
            "CourierService": courier_service,
            "CurrencyCode": currency,
            "SpecialInstructions": "",
            "ScheduledShipDate": order.get("start_date") or "",
        },
        "DeliveryDetails": {
            "FirstName": first,
            "LastName": last,
            "Line1": ship_to.get("address1") or "",
            "Line2": line2,
            "City": ship_to.get("city") or "",
            "County": ship_to.get("county") or "",
            "PostcodeZip": ship_to.get("postcode") or "",
            "CountryCode": str(ship_to.get("country") or "").upper(),
            "PhoneNumber": ship_to.get("phone") or "",
            "EmailAddress": ship_to.get("email") or "",
        },
        "ShipToCompany": {
            "CompanyCode": str(order.get("customer") or ""),
            "CompanyDescription": str(ship_to.get("company") or order.get("customer_name") or ""),
        },
        "List": {
            "SalesOrderLineItem": [
                {
                    "LineNumber": line.line_number,
                    "ProductCode": line.sku,
                    "EAN": line.upc,
                    "Quantity": line.quantity,
                    "UnitPrice": float(line.unit_price),
                    "CurrencyCode": currency,
                    "VAT": 0,
                }
                for line in seko_lines
            ]
        },
    }
    return body, seko_lines
