"""A Blue Cherry item as a Seko ``ProductMaster`` (contracts/seko-ihub.md). Pure: dict in, dict
out. ``map_product`` expects an item that ``item_rules.validate_item`` passed.

``fingerprint`` names the version of an item that matters to Seko: two versions with the same
fingerprint make the same product, so Blue Cherry touching an item (setting it LIVE moves its
``updated_at``) never sends it to Seko again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

# Each ProductMaster field and the Blue Cherry item fields it is made of (``map_product``). A
# change to any of these fields sends the item to Seko again; a change to any other field
# (color_code, the status, dates) changes nothing Seko holds and sends nothing.
SEKO_PRODUCT_SOURCES: dict[str, tuple[str, ...]] = {
    "ProductCode": ("sku",),
    "ProductDescription": ("style_name", "color_name", "size"),
    "EAN": ("upc",),
    "StyleCode": ("style",),
    "Colour": ("color_name",),
    "Size": ("size",),
    "Brand": ("division",),
    "CountryOfOrigin": ("country_of_origin",),
    "HTSCode": ("hs_number",),
    "GrossWeight": ("weight_kg",),
    "UnitPrice": ("retail_price",),
    "Currency": ("currency",),
}
# The Blue Cherry fields a ProductMaster is made of: the fingerprint's, so exactly these resend.
PRODUCT_FIELDS: tuple[str, ...] = tuple(sorted({f for fields in SEKO_PRODUCT_SOURCES.values() for f in fields}))


def _text(item: Mapping[str, Any], key: str) -> str:
    value = item.get(key)
    return "" if value is None else str(value).strip()


def describe(item: Mapping[str, Any]) -> str:
    """What a person calls the SKU: style name, colour, size ("Training Tee Navy M")."""
    return " ".join(p for p in (_text(item, "style_name"), _text(item, "color_name"), _text(item, "size")) if p)


def map_product(item: Mapping[str, Any]) -> dict[str, Any]:
    """The ProductMaster Seko is sent for this item."""
    return {
        "ProductCode": _text(item, "sku"),
        "ProductDescription": describe(item),
        "EAN": _text(item, "upc"),
        "StyleCode": _text(item, "style"),
        "Colour": _text(item, "color_name"),
        "Size": _text(item, "size"),
        "Brand": _text(item, "division"),
        "CountryOfOrigin": _text(item, "country_of_origin"),
        "HTSCode": _text(item, "hs_number"),
        # iHub takes numbers here; Blue Cherry sends decimal strings (money and weights).
        "GrossWeight": float(Decimal(_text(item, "weight_kg"))),
        "GrossWeightUOM": "KG",
        "UnitPrice": float(Decimal(_text(item, "retail_price"))),
        "Currency": _text(item, "currency").upper(),
    }


def fingerprint(item: Mapping[str, Any]) -> str:
    """A short hash of the fields Seko's product is made of (see the module docstring)."""
    relevant = {key: _text(item, key) for key in PRODUCT_FIELDS}
    return hashlib.sha1(json.dumps(relevant, sort_keys=True).encode()).hexdigest()
