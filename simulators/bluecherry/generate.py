"""The data generator behind ``POST _sim/generate``: pure functions of a ``random.Random``, the
request and what already exists, so a seed on an empty simulator always yields the same items
and orders. Planted problems are chosen here and reported back, so a test knows which order
carries which problem.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from simulators.bluecherry.models import ITEM_STATUSES, ORDER_STATUSES

DEFAULT_MIX: dict[str, float] = {
    "bad_ship_via": 0.03,
    "bad_location": 0.01,
    "sku_not_live": 0.02,
    "missing_address": 0.01,
    "repeated_sku": 0.02,
    "invalid_item": 0.02,
}
# Faults drawn per order, in this order, from one draw each: an order carries at most one.
ORDER_FAULTS = ("bad_ship_via", "bad_location", "sku_not_live", "missing_address", "repeated_sku")
ITEM_DEFECTS = ("no_upc", "bad_check_digit", "no_hs_code", "bad_country")
DEFAULT_LOCATIONS = ["UK3PL"]
DEFAULT_SHIP_VIAS = ["RMNDAY", "RM48", "DPDNXT", "DHLEXP"]
BAD_SHIP_VIA = "ZZFAST"
BAD_LOCATION = "UK9XX"
BAD_COUNTRY = "UK1"
UPC_PREFIX = "5056"  # a GS1 UK company prefix range
FIRST_ORDER_NUMBER = 100001
MAX_ITEMS = 100_000
MAX_ORDERS = 200_000

# (style name, HS commodity code, base weight kg, retail prices to pick from)
GARMENTS: list[tuple[str, str, str, list[int]]] = [
    ("Training Tee", "6109100010", "0.180", [18, 20, 25, 30]),
    ("Merino Crew Jumper", "6110111000", "0.350", [60, 75, 90]),
    ("Running Shorts", "6203439000", "0.150", [25, 30, 35]),
    ("Hooded Sweatshirt", "6110209100", "0.520", [45, 55, 65]),
    ("Track Jacket", "6201400000", "0.480", [60, 70, 85]),
    ("Performance Leggings", "6104630000", "0.220", [35, 40, 50]),
    ("Pique Polo Shirt", "6105100000", "0.240", [30, 35, 45]),
    ("Packable Rain Jacket", "6201400090", "0.410", [80, 95, 120]),
    ("Stretch Chino", "6203423100", "0.450", [50, 60, 70]),
    ("Oxford Shirt", "6205200000", "0.280", [45, 55, 65]),
]
COLOURS = [("NAVY", "Navy"), ("BLACK", "Black"), ("WHITE", "White"), ("GREY", "Grey Marl"),
           ("OLIVE", "Olive"), ("RED", "Red"), ("SKY", "Sky Blue"), ("SAND", "Sand")]  # fmt: skip
SIZES = [("XS", 1, "-0.030"), ("S", 2, "-0.015"), ("M", 3, "0.000"), ("L", 4, "0.015"), ("XL", 5, "0.030")]
COUNTRIES = ["PT", "TR", "CN", "BD", "IN", "VN", "GB", "IT", "MA", "LK"]

FIRST_NAMES = ["Ana", "Oliver", "Amelia", "Jack", "Isla", "Harry", "Ava", "George", "Mia", "Noah", "Sophie",
               "Leo", "Grace", "Arthur", "Freya", "Oscar", "Priya", "Mohammed", "Chloe", "Thomas", "Zara",
               "Ewan"]  # fmt: skip
LAST_NAMES = ["Silva", "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies",
              "Patel", "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green",
              "Hall", "Khan"]  # fmt: skip
STREETS = ["Victoria Street", "High Street", "Church Lane", "Station Road", "Mill Lane", "Park Avenue",
           "Queens Road", "Kings Road", "The Green", "Manor Close", "Orchard Way", "London Road",
           "Chapel Street", "York Road", "Meadow View", "Albert Terrace", "Castle Street",
           "Bridge Street"]  # fmt: skip
# (town, county, postcode outward code)
TOWNS = [
    ("Windsor", "Berkshire", "SL4"), ("Bath", "Somerset", "BA1"), ("York", "North Yorkshire", "YO1"),
    ("Leeds", "West Yorkshire", "LS6"), ("Manchester", "Greater Manchester", "M20"), ("Bristol", "", "BS8"),
    ("Cambridge", "Cambridgeshire", "CB2"), ("Oxford", "Oxfordshire", "OX4"), ("Brighton", "", "BN1"),
    ("Norwich", "Norfolk", "NR2"), ("Exeter", "Devon", "EX4"), ("Chester", "Cheshire", "CH2"),
    ("Nottingham", "Nottinghamshire", "NG7"), ("Leicester", "Leicestershire", "LE2"),
    ("Edinburgh", "", "EH10"), ("Glasgow", "", "G12"), ("Cardiff", "", "CF10"), ("London", "", "SW11"),
    ("London", "", "N1"), ("Southampton", "Hampshire", "SO15"), ("Canterbury", "Kent", "CT1"),
    ("Harrogate", "North Yorkshire", "HG1"),
]  # fmt: skip
POSTCODE_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"  # the letters Royal Mail uses in an inward code


@dataclass(frozen=True)
class Params:
    items: int
    orders: int
    seed: int
    mix: dict[str, float]
    statuses: dict[str, int]
    locations: list[str]
    ship_vias: list[str]
    item_status: str


@dataclass(frozen=True)
class Existing:
    """What the simulator already holds, as far as the generator must know it."""

    skus: frozenset[str] = frozenset()
    upcs: frozenset[str] = frozenset()
    styles: frozenset[str] = frozenset()
    highest_order_number: int = 0
    live_items: tuple[dict[str, Any], ...] = ()  # used only when this call creates no usable item
    not_live_items: tuple[dict[str, Any], ...] = ()
    ready_items: tuple[dict[str, Any], ...] = ()  # valid PENDING_WMS: used when nothing is LIVE yet


@dataclass
class Plan:
    items: list[dict[str, Any]] = field(default_factory=list)
    positions: list[dict[str, Any]] = field(default_factory=list)
    orders: list[dict[str, Any]] = field(default_factory=list)
    ord_nums: list[str] = field(default_factory=list)
    extra_ord_nums: dict[str, list[str]] = field(default_factory=dict)
    faults: dict[str, list[str]] = field(default_factory=dict)
    fault_details: dict[str, dict[str, str]] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            "items": len(self.items),
            "orders": len(self.ord_nums),
            "ord_nums": self.ord_nums,
            "skus": [item["sku"] for item in self.items],
            "extra_ord_nums": self.extra_ord_nums,
            "faults": self.faults,
            "fault_details": self.fault_details,
        }


def parse_params(body: dict[str, Any]) -> tuple[Params | None, list[dict[str, str]]]:
    """Validate the request body; returns (params, []) or (None, details)."""
    details: list[dict[str, str]] = []

    def whole(name: str, default: int, maximum: int) -> int:
        value = body.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
            details.append({"field": name, "message": f"must be a whole number from 0 to {maximum}"})
            return 0
        return value

    items = whole("items", 0, MAX_ITEMS)
    orders = whole("orders", 0, MAX_ORDERS)
    seed = body.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        details.append({"field": "seed", "message": "must be a whole number"})

    mix = _object(dict(DEFAULT_MIX) if body.get("mix") is None else body["mix"], "mix", "rates", details)
    for key, rate in mix.items():
        if key not in DEFAULT_MIX:
            details.append(
                {"field": f"mix.{key}", "message": f"unknown fault; known: {', '.join(DEFAULT_MIX)}"}
            )
        elif isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
            details.append({"field": f"mix.{key}", "message": "must be a rate from 0 to 1"})
    if not details and sum(float(mix.get(kind, 0)) for kind in ORDER_FAULTS) > 1:
        details.append({"field": "mix", "message": "the order fault rates must not add up to more than 1"})

    statuses = _object(body.get("statuses") or {}, "statuses", "status: count", details)
    for status, count in statuses.items():
        if status not in ORDER_STATUSES:
            details.append(
                {
                    "field": f"statuses.{status}",
                    "message": f"unknown status; known: {', '.join(ORDER_STATUSES)}",
                }
            )
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_ORDERS:
            details.append({"field": f"statuses.{status}", "message": "must be a whole number of orders"})

    locations = _strings(body, "locations", DEFAULT_LOCATIONS, details)
    ship_vias = _strings(body, "ship_vias", DEFAULT_SHIP_VIAS, details)
    # New items wait for the warehouse: the integration's item flow sets them LIVE once Seko
    # has the product (issue 4). Ask for "LIVE" to get items that are sellable straight away.
    item_status = body.get("item_status", "PENDING_WMS")
    if item_status not in ITEM_STATUSES:
        details.append({"field": "item_status", "message": f"must be one of {', '.join(ITEM_STATUSES)}"})
    if details:
        return None, details
    return Params(
        items=items,
        orders=orders,
        seed=seed,
        mix={k: float(v) for k, v in mix.items()},
        statuses=dict(statuses),
        locations=locations,
        ship_vias=ship_vias,
        item_status=item_status,
    ), []


def _object(value: Any, name: str, of_what: str, details: list[dict[str, str]]) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    details.append({"field": name, "message": f"must be an object of {of_what}"})
    return {}


def _strings(body: dict[str, Any], name: str, default: list[str], details: list[dict[str, str]]) -> list[str]:
    value = body.get(name, default)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        details.append({"field": name, "message": "must be a non-empty list of codes"})
        return list(default)
    return list(value)


def gtin_check_digit(first12: str) -> str:
    """GS1 check digit of a GTIN-13: weights 1 and 3 alternate from the left."""
    total = sum(int(digit) * (3 if index % 2 else 1) for index, digit in enumerate(first12))
    return str((10 - total % 10) % 10)


def is_valid_gtin13(upc: str) -> bool:
    return len(upc) == 13 and upc.isdigit() and gtin_check_digit(upc[:12]) == upc[12]


def build(rng: random.Random, params: Params, existing: Existing, now: datetime) -> Plan:
    """Everything one generate call creates, with the planted problems listed."""
    plan = Plan()
    plan.faults = {kind: [] for kind in (*ORDER_FAULTS, "invalid_item")}
    plan.fault_details = {
        kind: {} for kind in ("invalid_item", "sku_not_live", "missing_address", "repeated_sku")
    }
    plan.items = _items(rng, params, existing, now)
    good, not_live = _mark_item_problems(rng, params, plan)
    if not good:
        good = list(existing.live_items) or list(existing.ready_items)
    if not not_live:
        not_live = list(existing.not_live_items)
    if (params.orders or any(params.statuses.values())) and not good:
        raise ValueError("there is no usable item to put on orders: generate items, or add LIVE ones first")
    plan.positions = [
        {"sku": item["sku"], "location": location, "on_hand": rng.randint(0, 60), "wip": rng.randint(0, 25)}
        for item in plan.items
        for location in params.locations
    ]

    number = max(existing.highest_order_number, FIRST_ORDER_NUMBER - 1)
    order_faults = _draw_order_faults(rng, params, has_not_live=bool(not_live))
    for fault in order_faults:
        number += 1
        order = _order(rng, f"SO-{number:06d}", "RELEASED", params, good, now)
        if fault:
            _plant(rng, fault, order, not_live, plan)
        plan.orders.append(order)
        plan.ord_nums.append(order["ord_num"])
    for status, count in params.statuses.items():
        plan.extra_ord_nums[status] = []
        for _ in range(count):
            number += 1
            order = _order(rng, f"SO-{number:06d}", status, params, good, now)
            plan.orders.append(order)
            plan.extra_ord_nums[status].append(order["ord_num"])
    return plan


def _items(rng: random.Random, params: Params, existing: Existing, now: datetime) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    used_styles = set(existing.styles)
    used_upcs = set(existing.upcs)
    while len(items) < params.items:
        style = str(rng.randint(10000, 99999))
        if style in used_styles:
            continue
        used_styles.add(style)
        style_name, hs_number, base_weight, retail_prices = rng.choice(GARMENTS)
        retail = Decimal(rng.choice(retail_prices))
        wholesale = (retail * Decimal("0.4")).quantize(Decimal("0.01"))
        country = rng.choice(COUNTRIES)
        for color_code, color_name in rng.sample(COLOURS, rng.randint(1, 3)):
            for size, bucket, weight_delta in SIZES:
                if len(items) >= params.items:
                    break
                sku = f"{style}-{color_code}-{size}"
                if sku in existing.skus:
                    continue
                items.append(
                    {
                        "sku": sku,
                        "division": "CAS",
                        "style": style,
                        "style_name": style_name,
                        "color_code": color_code,
                        "color_name": color_name,
                        "label": "",
                        "dimension": "",
                        "size": size,
                        "size_bucket": bucket,
                        "upc": _new_upc(rng, used_upcs),
                        "season": "AW26",
                        "hs_number": hs_number,
                        "country_of_origin": country,
                        "weight_kg": str(Decimal(base_weight) + Decimal(weight_delta)),
                        "wholesale_price": str(wholesale),
                        "retail_price": str(retail.quantize(Decimal("0.01"))),
                        "currency": "GBP",
                        "status": params.item_status,
                        "updated_at": now,
                    }
                )
    return items


def _new_upc(rng: random.Random, used: set[str]) -> str:
    while True:
        first12 = UPC_PREFIX + f"{rng.randrange(10**8):08d}"
        upc = first12 + gtin_check_digit(first12)
        if upc not in used:
            used.add(upc)
            return upc


def _share(rate: float, total: int) -> int:
    """How many of ``total`` a rate plants: rounded, and at least one when the rate is set."""
    if rate <= 0 or total <= 0:
        return 0
    return max(1, round(rate * total))


def _mark_item_problems(
    rng: random.Random, params: Params, plan: Plan
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Make a share of the new items invalid (PENDING_WMS) and, when orders need a SKU that
    is not LIVE, a share DRAFT. Returns (items orders may use, not-LIVE valid items)."""
    items = plan.items
    wants_orders = params.orders > 0 or any(params.statuses.values())
    # Keep at least one clean item for the orders to use.
    budget = len(items) - 1 if wants_orders else len(items)
    invalid_count = min(_share(params.mix.get("invalid_item", 0), len(items)), max(budget, 0))
    indexes = list(range(len(items)))
    invalid = sorted(rng.sample(indexes, invalid_count))
    defects = list(ITEM_DEFECTS)
    rng.shuffle(defects)
    for position, index in enumerate(invalid):
        item, defect = items[index], defects[position % len(defects)]
        if defect == "no_upc":
            item["upc"] = ""
        elif defect == "bad_check_digit":
            item["upc"] = item["upc"][:12] + str((int(item["upc"][12]) + 1) % 10)
        elif defect == "no_hs_code":
            item["hs_number"] = ""
        else:
            item["country_of_origin"] = BAD_COUNTRY
        item["status"] = "PENDING_WMS"
        plan.faults["invalid_item"].append(item["sku"])
        plan.fault_details["invalid_item"][item["sku"]] = defect

    invalid_set = set(invalid)
    valid = [items[i] for i in indexes if i not in invalid_set]
    if params.item_status in ("LIVE", "PENDING_WMS"):
        draft_count = 0
        if params.orders > 0:
            draft_count = min(_share(params.mix.get("sku_not_live", 0), len(items)), max(len(valid) - 1, 0))
        drafts = rng.sample(valid, draft_count)
        for item in drafts:
            item["status"] = "DRAFT"
        # PENDING_WMS items go LIVE through the item flow, so orders may use them; a DRAFT one
        # never will (it is not for the warehouse), which is what sku_not_live plants.
        return [item for item in valid if item["status"] == params.item_status], drafts
    # Every new item is already not LIVE: orders use them as they are.
    return valid, valid


def _draw_order_faults(rng: random.Random, params: Params, has_not_live: bool) -> list[str | None]:
    rates = [(kind, params.mix.get(kind, 0.0)) for kind in ORDER_FAULTS]
    if not has_not_live:
        rates = [(kind, rate) for kind, rate in rates if kind != "sku_not_live"]
    faults: list[str | None] = []
    for _ in range(params.orders):
        draw, chosen = rng.random(), None
        for kind, rate in rates:
            if draw < rate:
                chosen = kind
                break
            draw -= rate
        faults.append(chosen)
    # A rate that is set plants at least one order, so a small run still exercises it.
    for kind, rate in rates:
        clean = [index for index, fault in enumerate(faults) if fault is None]
        if rate > 0 and kind not in faults and clean:
            faults[rng.choice(clean)] = kind
    return faults


def _order(
    rng: random.Random, ord_num: str, status: str, params: Params, pool: list[dict[str, Any]], now: datetime
) -> dict[str, Any]:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    town, county, outward = rng.choice(TOWNS)
    postcode = f"{outward} {rng.randint(1, 9)}{rng.choice(POSTCODE_LETTERS)}{rng.choice(POSTCODE_LETTERS)}"
    order_date = now - timedelta(minutes=rng.randint(5, 2 * 24 * 60))
    chosen = rng.sample(pool, min(rng.randint(1, 4), len(pool)))
    lines = [_line(index + 1, item, rng.randint(1, 3)) for index, item in enumerate(chosen)]
    return {
        "ord_num": ord_num,
        "division": "CAS",
        "season": "AW26",
        "customer": f"C{rng.randint(1001, 9999)}",
        "customer_name": f"{first} {last}",
        "channel": "ECOM",
        "location": rng.choice(params.locations),
        "ship_via": rng.choice(params.ship_vias),
        "order_date": order_date,
        "start_date": order_date.date(),
        "cancel_date": order_date.date() + timedelta(days=7),
        "currency": "GBP",
        "status": status,
        "ship_to": {
            "name": f"{first} {last}",
            "company": "",
            "address1": f"{rng.randint(1, 180)} {rng.choice(STREETS)}",
            "address2": f"Flat {rng.randint(1, 12)}" if rng.random() < 0.15 else "",
            "address3": "",
            "city": town,
            "county": county,
            "postcode": postcode,
            "country": "GB",
            "phone": f"07700 900{rng.randint(0, 999):03d}",
            "email": f"{first}.{last}@example.com".lower(),
        },
        "lines": lines,
        "updated_at": now,
    }


def _line(line_no: int, item: dict[str, Any], qty: int) -> dict[str, Any]:
    return {
        "line_no": line_no,
        "sku": item["sku"],
        "upc": item["upc"],
        "qty_ordered": qty,
        "qty_shipped": 0,
        "qty_cancelled": 0,
        "unit_price": str(item["retail_price"]),
    }


def _plant(
    rng: random.Random, fault: str, order: dict[str, Any], not_live: list[dict[str, Any]], plan: Plan
) -> None:
    ord_num = order["ord_num"]
    if fault == "bad_ship_via":
        order["ship_via"] = BAD_SHIP_VIA
    elif fault == "bad_location":
        order["location"] = BAD_LOCATION
    elif fault == "missing_address":
        blank = rng.choice(["address1", "city", "postcode"])
        order["ship_to"][blank] = ""
        plan.fault_details[fault][ord_num] = blank
    elif fault == "sku_not_live":
        item = rng.choice(not_live)
        lines = order["lines"]
        index = rng.randrange(len(lines))
        lines[index] = _line(index + 1, item, lines[index]["qty_ordered"])
        plan.fault_details[fault][ord_num] = item["sku"]
    elif fault == "repeated_sku":
        lines = order["lines"]
        if len(lines) == 4:
            lines.pop()
        repeated = rng.choice(lines)
        lines.append({**repeated, "line_no": len(lines) + 1, "qty_ordered": rng.randint(1, 3)})
        plan.fault_details[fault][ord_num] = repeated["sku"]
    plan.faults[fault].append(ord_num)
