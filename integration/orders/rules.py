"""Pre-validation of a Blue Cherry order before anything is sent to Seko. Pure: plain data in,
a list of problems out, one clear message per problem, so a quarantined order tells the reader
everything that is wrong at once (Seko itself stops at the first error).
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from typing import Any

from django.utils.dateparse import parse_datetime

from exceptions import catalogue

# Seko's required address fields (its own messages: "The City field is required." ...),
# by the Blue Cherry ship_to key that fills each, with the words a person would use.
REQUIRED_ADDRESS_FIELDS = {
    "address1": "address line 1",
    "city": "city",
    "postcode": "postcode",
    "country": "country",
}


@dataclass(frozen=True)
class Problem:
    kind: str
    message: str
    value: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "message": self.message, "value": self.value}


@dataclass(frozen=True)
class Lookups:
    """What validation needs to know besides the order: the active cross-reference rows, the
    Blue Cherry status of each SKU on the order (None: Blue Cherry does not know it) and which
    of them Seko has acknowledged as products. A SKU is sellable only when it is both LIVE and
    acknowledged: LIVE alone is how orders get rejected at the warehouse door."""

    warehouses: Mapping[str, str]  # bc_location -> seko DC code (active rows only)
    carriers: Mapping[str, tuple[str, str]]  # bc_ship_via -> (courier name, service) (active only)
    sku_status: Mapping[str, str | None] = field(default_factory=dict)
    seko_acknowledged: Set[str] = frozenset()


def validate_order(order: Mapping[str, Any], lookups: Lookups) -> list[Problem]:
    """Return every problem that would stop this order at Seko's door; empty when it may go."""
    problems: list[Problem] = []
    location = str(order.get("location") or "")
    ship_via = str(order.get("ship_via") or "")
    if location not in lookups.warehouses:
        problems.append(Problem(
            catalogue.MAPPING_WAREHOUSE_UNKNOWN.code,
            f"Blue Cherry location '{location}' has no active warehouse mapping to a Seko DC.",
            location,
        ))
    if ship_via not in lookups.carriers:
        problems.append(Problem(
            catalogue.MAPPING_CARRIER_UNKNOWN.code,
            f"Blue Cherry ship-via '{ship_via}' has no active carrier mapping to a Seko courier service.",
            ship_via,
        ))

    ship_to = order.get("ship_to") or {}
    for key, words in REQUIRED_ADDRESS_FIELDS.items():
        if not str(ship_to.get(key) or "").strip():
            problems.append(Problem(
                catalogue.ORDER_ADDRESS_INCOMPLETE.code, f"The ship-to address has no {words} (Seko requires it).", key
            ))

    lines = order.get("lines") or []
    if not lines:
        problems.append(Problem(catalogue.ORDER_INVALID_LINES.code, "The order has no lines."))
    for line in lines:
        line_no = line.get("line_no")
        sku = str(line.get("sku") or "")
        qty = line.get("qty_ordered")
        if not isinstance(qty, int) or isinstance(qty, bool) or qty <= 0:
            problems.append(Problem(
                catalogue.ORDER_INVALID_LINES.code,
                f"Line {line_no} ({sku or 'no SKU'}) orders {qty!r}; the quantity must be a positive whole number.",
                sku,
            ))
        if not sku:
            problems.append(Problem(catalogue.ORDER_SKU_NOT_LIVE.code, f"Line {line_no} has no SKU.", ""))
            continue
        status = lookups.sku_status.get(sku)
        if status is None:
            problems.append(Problem(
                catalogue.ORDER_SKU_NOT_LIVE.code, f"Line {line_no}: SKU '{sku}' is not known to Blue Cherry.", sku
            ))
        elif status != "LIVE":
            problems.append(Problem(
                catalogue.ORDER_SKU_NOT_LIVE.code,
                f"Line {line_no}: SKU '{sku}' is {status} in Blue Cherry, not LIVE, "
                "so it cannot be sent to the warehouse.",
                sku,
            ))
        elif sku not in lookups.seko_acknowledged:
            problems.append(Problem(
                catalogue.ORDER_SKU_NOT_LIVE.code,
                f"Line {line_no}: SKU '{sku}' is LIVE in Blue Cherry but Seko has not acknowledged the product "
                "yet, so the warehouse could not pick it.",
                sku,
            ))
    return problems


def order_record_problems(record: Any) -> list[str]:
    """What makes a pulled order record unreadable (as opposed to a readable order with
    problems, which ``validate_order`` finds). Empty when it can be taken."""
    if not isinstance(record, Mapping):
        return [f"expected an object, got {type(record).__name__}"]
    problems = []
    if not str(record.get("ord_num") or "").strip():
        problems.append("it has no ord_num")
    if not _is_timestamp(record.get("updated_at")):
        problems.append(f"updated_at {record.get('updated_at')!r} is not an ISO 8601 timestamp")
    if not isinstance(record.get("ship_to") or {}, Mapping):
        problems.append("ship_to is not an object")
    lines = record.get("lines")
    if lines is not None and not isinstance(lines, list):
        problems.append("lines is not a list")
    elif lines:
        numbers = [line.get("line_no") if isinstance(line, Mapping) else None for line in lines]
        if any(not isinstance(n, int) or isinstance(n, bool) for n in numbers):
            problems.append("every line needs an object with a whole-number line_no")
        elif len(set(numbers)) != len(numbers):
            problems.append(f"line numbers repeat: {sorted(numbers)}")
    return problems


def _is_timestamp(value: Any) -> bool:
    try:
        return bool(value) and parse_datetime(str(value)) is not None
    except ValueError:  # well-formed but impossible, e.g. month 13
        return False


def classify_seko_rejection(remote_message: str) -> catalogue.Kind:
    """Which exception kind a Seko rejection of an order submit is. iHub's messages are plain
    text (contracts/seko-ihub.md), so this is the one place that reads them."""
    text = remote_message.lower()
    if "invalid mapping" in text:
        return catalogue.ORDER_REJECTED_MAPPING
    if "no free stock" in text:
        return catalogue.ORDER_REJECTED_STOCK
    if "product" in text and "does not exist" in text:
        return catalogue.ORDER_REJECTED_PRODUCT
    return catalogue.ORDER_REJECTED_DATA
