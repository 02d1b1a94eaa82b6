"""Validation of a Blue Cherry item before it becomes a Seko product. Pure: the item as Blue
Cherry's API returns it in, every problem out, one clear message each, so the data team sees
all that is wrong at once (Seko itself stops at the first error, and accepts some things a
warehouse cannot work with, such as an EAN that no scanner will read).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from exceptions import catalogue

MAX_PRODUCT_CODE = 100  # Seko's ProductCode limit (contracts/seko-ihub.md)
GTIN_LENGTHS = (8, 12, 13, 14)  # GTIN-8, UPC-A (GTIN-12), EAN-13, GTIN-14
HS_CODE = re.compile(r"\d{6,10}")  # the 6-digit Harmonized System heading, plus national digits
COUNTRY = re.compile(r"[A-Z]{2}")  # ISO 3166-1 alpha-2
CURRENCY = re.compile(r"[A-Za-z]{3}")  # ISO 4217; Seko takes it in upper case, the mapper sends that


@dataclass(frozen=True)
class ItemProblem:
    field: str  # the Blue Cherry field at fault
    message: str
    value: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"kind": catalogue.ITEM_INVALID.code, "field": self.field, "message": self.message,
                "value": self.value}


def gtin_check_digit(body: str) -> str:
    """GS1 check digit for the digits before it: from the right, weights 3 and 1 alternate."""
    total = sum(int(digit) * (3 if index % 2 == 0 else 1) for index, digit in enumerate(reversed(body)))
    return str((10 - total % 10) % 10)


def gtin_problem(upc: str) -> str | None:
    """Why ``upc`` is not a usable GTIN, or None when it is one."""
    if not upc.isdigit() or len(upc) not in GTIN_LENGTHS:
        return f"UPC '{upc}' is not a GTIN: it must be 8, 12, 13 or 14 digits."
    expected = gtin_check_digit(upc[:-1])
    if upc[-1] != expected:
        return (f"UPC '{upc}' has check digit {upc[-1]}, but its digits give {expected}: "
                "it is mistyped, and Seko's scanners would not match it.")
    return None


def _text(item: Mapping[str, Any], key: str) -> str:
    value = item.get(key)
    return "" if value is None else str(value).strip()


def _positive_decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() and number > 0 else None


def validate_item(item: Mapping[str, Any]) -> list[ItemProblem]:
    """Every problem that stops this item becoming a Seko product; empty when it may go."""
    problems: list[ItemProblem] = []

    sku = _text(item, "sku")
    if not sku:
        problems.append(ItemProblem("sku", "The item has no SKU."))
    elif len(sku) > MAX_PRODUCT_CODE:
        problems.append(ItemProblem("sku", f"SKU is {len(sku)} characters; Seko takes at most {MAX_PRODUCT_CODE}.",
                                    sku[:40] + "..."))

    upc = _text(item, "upc")
    if not upc:
        problems.append(ItemProblem("upc", "The item has no UPC; Seko needs the EAN to receive and pick it."))
    else:
        reason = gtin_problem(upc)
        if reason:
            problems.append(ItemProblem("upc", reason, upc))

    if not _text(item, "style_name"):
        problems.append(ItemProblem("style_name", "The item has no description (style name)."))

    hs_number = _text(item, "hs_number")
    if not hs_number:
        problems.append(ItemProblem("hs_number", "The item has no HS code; customs declarations need it."))
    elif not HS_CODE.fullmatch(hs_number):
        problems.append(ItemProblem("hs_number", f"HS code '{hs_number}' must be 6 to 10 digits.", hs_number))

    country = _text(item, "country_of_origin")
    if not country:
        problems.append(ItemProblem("country_of_origin", "The item has no country of origin."))
    elif not COUNTRY.fullmatch(country):
        problems.append(ItemProblem(
            "country_of_origin", f"Country of origin '{country}' is not a 2-letter ISO country code (e.g. PT, GB).",
            country,
        ))

    weight = item.get("weight_kg")
    if _positive_decimal(weight) is None:
        shown = "" if weight is None else str(weight)
        problems.append(ItemProblem(
            "weight_kg", f"Weight '{shown}' is not a positive number of kilograms." if shown
            else "The item has no weight.", shown,
        ))

    price = item.get("retail_price")
    if _positive_decimal(price) is None:
        shown = "" if price is None else str(price)
        problems.append(ItemProblem(
            "retail_price", f"Price '{shown}' is not a positive amount." if shown else "The item has no price.",
            shown,
        ))

    currency = _text(item, "currency")
    if not currency:
        problems.append(ItemProblem("currency", "The item has no currency."))
    elif not CURRENCY.fullmatch(currency):
        problems.append(ItemProblem("currency", f"Currency '{currency}' is not a 3-letter ISO code (e.g. GBP).",
                                    currency))
    return problems
