"""Demo data: users per group, the cross-reference tables, and both simulators' reference data.

The simulators are seeded through their control APIs (over HTTP), as a test or a person would.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, User
from django.db import transaction

from demo.launcher import RunningSimulator
from integration.models import CarrierMapping, WarehouseMapping

GROUPS = ["ops", "cx", "finance", "data", "integration-admin"]

WAREHOUSES = [("UK3PL", "DCCL01", "SEKO Crawley, UK")]
# ship-via, Seko courier, Seko service code, service level, description, the service as Seko
# describes it in words (what its dispatch confirmations name it by: "Push Dispatch Confirmation").
CARRIERS = [
    ("RMNDAY", "RoyalMail", "TPN24", "NEXTDAY", "Royal Mail Tracked 24", "Tracked 24"),
    ("RM48", "RoyalMail", "TPS48", "STANDARD", "Royal Mail Tracked 48", "Tracked 48"),
    ("DPDNXT", "DPD", "12", "NEXTDAY", "DPD Next Day", "Next Day"),
    ("DHLEXP", "DHL", "EXP", "EXPRESS", "DHL Express", "Express"),
]
DEMO_STOCK_PER_SKU = 500


def seed_users() -> dict[str, str]:
    """One user per group, plus a superuser; returns username -> password (printed by the demo)."""
    credentials: dict[str, str] = {}
    for name in GROUPS:
        group, _ = Group.objects.get_or_create(name=name)
        username = name.replace("integration-", "")
        password = f"{username}-demo"
        user, _ = User.objects.get_or_create(username=username)
        user.set_password(password)
        user.email = f"{username}@example.com"  # the email digest per role (console backend in the demo)
        user.is_staff = name == "integration-admin"
        user.is_superuser = name == "integration-admin"
        user.save()
        user.groups.add(group)
        credentials[username] = password
    return credentials


@transaction.atomic
def seed_mappings() -> None:
    for bc_location, dc, description in WAREHOUSES:
        WarehouseMapping.objects.update_or_create(
            bc_location=bc_location, defaults={"seko_dc_code": dc, "description": description, "active": True}
        )
    for ship_via, courier, service, level, description, in_words in CARRIERS:
        CarrierMapping.objects.update_or_create(
            bc_ship_via=ship_via,
            defaults={"seko_courier_name": courier, "seko_courier_service": service, "service_level": level,
                      "description": description, "seko_service_description": in_words, "active": True},
        )


def seed_seko_reference(seko: RunningSimulator) -> None:
    seko.control("POST", "_sim/dcs", [dc for _, dc, _ in WAREHOUSES])
    seko.control("POST", "_sim/services", [{"CourierName": c, "CourierService": s, "Description": words}
                                          for _, c, s, _, _, words in CARRIERS])


def generate_bluecherry(bluecherry: RunningSimulator, *, orders: int, items: int, seed: int,
                        mix: dict[str, float] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"orders": orders, "items": items, "seed": seed,
                            "locations": [w[0] for w in WAREHOUSES], "ship_vias": [c[0] for c in CARRIERS]}
    if mix is not None:
        body["mix"] = mix
    return bluecherry.control("POST", "_sim/generate", body, timeout=120)


def bluecherry_rows(bluecherry: RunningSimulator, path: str) -> list[dict[str, Any]]:
    """Every row of one of Blue Cherry's list endpoints (items, shipments, invoices, ...), read
    page by page from its API."""
    return [row for body in bluecherry.pages(path) for row in body["results"]]


def bluecherry_items(bluecherry: RunningSimulator) -> list[dict[str, Any]]:
    return bluecherry_rows(bluecherry, "items")


def seed_seko_stock(seko: RunningSimulator, bluecherry: RunningSimulator) -> int:
    """Stock is Seko's: the demo puts stock for every Blue Cherry item on Seko's shelves. The
    products themselves are created by the item flow (issue 4), never seeded here."""
    skus = [item["sku"] for item in bluecherry_items(bluecherry)]
    if skus:
        seko.control("POST", "_sim/stock", [
            {"ProductCode": sku, "DCCode": WAREHOUSES[0][1], "Quantity": DEMO_STOCK_PER_SKU} for sku in skus
        ])
    return len(skus)


def seed_role_users(counts: dict[str, int], prefix: str) -> list[tuple[str, str]]:
    """``counts[group]`` users in each of the roles' groups (never superusers or staff), named
    ``<prefix>-<group>-<n>``, with a random password nobody knows (sign them in by session);
    returns ``(username, group)`` per user."""
    made = []
    for name, count in counts.items():
        if name not in GROUPS:
            raise ValueError(f"unknown role {name!r}; known: {', '.join(GROUPS)}")
        group, _ = Group.objects.get_or_create(name=name)
        for number in range(1, count + 1):
            user, _ = User.objects.get_or_create(username=f"{prefix}-{name}-{number}")
            user.set_unusable_password()
            user.is_staff = user.is_superuser = False
            user.save()
            user.groups.set([group])
            made.append((user.username, name))
    return made
