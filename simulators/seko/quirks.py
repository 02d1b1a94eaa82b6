"""Pure transformations that make a correct response look like what real iHub sends at its
worst (see "Quirks a client must survive" in the contract). Applied to response dicts only
when the faults config says ``"quirks": true``; never to ``_sim/``."""

from __future__ import annotations

import copy
from typing import Any

# Keys whose all-digit values the old API sends as JSON numbers (fixtures: ProductCode 100083,
# SalesOrderNumber 123456, CompanyCode 123456).
NUMERIC_CODE_KEYS = {"ProductCode", "SalesOrderNumber", "SalesOrderReference", "CompanyCode", "EAN",
                     "StyleCode"}
CURRENCY_KEYS = {"Currency", "CurrencyCode"}


def _map(value: Any, fn: Any) -> Any:
    """Apply fn(key, value) -> value bottom-up to every dict entry."""
    if isinstance(value, dict):
        return {key: fn(key, _map(item, fn)) for key, item in value.items()}
    if isinstance(value, list):
        return [_map(item, fn) for item in value]
    return value


def numeric_codes(body: Any) -> Any:
    def fn(key: str, value: Any) -> Any:
        # A leading zero would be lost as a number, and 16+ digits lose precision in JSON readers.
        if key in NUMERIC_CODE_KEYS and isinstance(value, str) and value.isdigit() \
                and not (len(value) > 1 and value.startswith("0")) and len(value) <= 15:
            return int(value)
        return value

    return _map(body, fn)


def lower_currency(body: Any) -> Any:
    def fn(key: str, value: Any) -> Any:
        return value.lower() if key in CURRENCY_KEYS and isinstance(value, str) else value

    return _map(body, fn)


def empties_as_objects(body: Any) -> Any:
    """``null`` and ``""`` become ``{}`` (e.g. ``"Message": {}``). Empty lists stay lists."""
    return _map(body, lambda key, value: {} if value is None or value == "" else value)


def single_item_lists(body: Any) -> Any:
    """A one-item list becomes the bare item (``"DispatchLineItem": {...}``)."""
    return _map(body, lambda key, value: value[0] if isinstance(value, list) and len(value) == 1 else value)


def old_envelope(body: dict[str, Any]) -> dict[str, Any]:
    return {"Response": body}


def stock_lines(body: dict[str, Any], zero_lines: list[dict[str, Any]]) -> dict[str, Any]:
    """``FreeQuantity`` instead of ``Quantity``, and the zero lines a correct answer leaves out."""
    body = copy.deepcopy(body)
    items = body.get("List", {}).get("StockQuantityLineItem")
    if isinstance(items, list):
        items = items + [dict(line) for line in zero_lines]
        for item in items:
            if "Quantity" in item:
                item["FreeQuantity"] = item.pop("Quantity")
        body["List"]["StockQuantityLineItem"] = items
    return body


def dispatch_poll_lines(body: dict[str, Any]) -> dict[str, Any]:
    """The real poll carries only DCCode and GUID: the client must map GUIDs back itself."""
    body = copy.deepcopy(body)
    items = body.get("List", {}).get("DispatchLineItem")
    if isinstance(items, list):
        body["List"]["DispatchLineItem"] = [{"DCCode": i.get("DCCode"), "GUID": i.get("GUID")} for i in items]
    return body


def record_shapes(body: Any) -> Any:
    """The value-level quirks, shared by responses and push records."""
    return empties_as_objects(single_item_lists(numeric_codes(lower_currency(body))))


def response(body: dict[str, Any]) -> dict[str, Any]:
    """Every generic quirk, old envelope last."""
    return old_envelope(record_shapes(body))
