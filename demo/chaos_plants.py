"""What a chaos run plants beside its faults and kills, each drawn from the seed and returned as a
record of what was done and what we must end with:

- cancels in Blue Cherry of released orders Seko already holds, some while Seko still has them
  To Be Picked (Seko must cancel each once) and some once picking is done there (Seko refuses:
  the order must wait in our exception queue as a refused cancel);
- stock adjustments at Seko's warehouse, pushed to us by its push cycle (each applied once);
- reconciliation differences made in Blue Cherry after the dispatches posted (each found by the
  reconciliation, and no other).

Only a handful of each, so a CI run stays fast. The records are what the invariants in
``demo.chaos_invariants`` judge the run's end against.
"""

from __future__ import annotations

import random
from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from demo.launcher import RunningSimulator
from demo.seed import WAREHOUSES
from integration.models import Dispatch, Order
from integration.stock import flow as stock_flow
from integration.stock import rules as stock_rules
from reconciliation import rules as recon_rules

Status = Order.Status

# Seko still cancels an order To Be Picked or Being Picked; from Pick Complete on it refuses.
PICKING_DONE = "Pick Complete"
CANCELS, ADJUSTMENTS = 4, 4
# What an invoice edited by hand adds to its amount: far beyond the reconciliation's tolerance.
INVOICE_EDIT = Decimal("10.00")


@dataclass(frozen=True)
class PlantedCancel:
    ord_num: str
    # Seko had finished picking when the cancel was made in Blue Cherry: Seko must refuse it and
    # we must hold it as a refused cancel; otherwise Seko must cancel the order, once.
    past_picking: bool


@dataclass(frozen=True)
class PlantedAdjustment:
    record_id: str  # the InterfaceRecordId of Seko's StockAdjustment push
    identity: str  # what our stock flow names the line by: InternalId/LineInternalId
    sku: str
    location_type: str
    quantity: int  # signed, as adjusted at Seko
    sellable_delta: int  # what it must move our sellable free stock by (0 in a held location type)


@dataclass(frozen=True)
class PlantedDifference:
    ord_num: str
    kind: str  # the reconciliation's kind of difference it must be found as
    how: str  # what was done in Blue Cherry
    invoice_num: str = ""  # an invoice raised by hand: Blue Cherry's, never one of ours


@dataclass
class Planted:
    """Everything planted in one run."""

    cancels: list[PlantedCancel] = field(default_factory=list)
    adjustments: list[PlantedAdjustment] = field(default_factory=list)
    differences: list[PlantedDifference] = field(default_factory=list)

    @property
    def invoices_raised_by_hand(self) -> set[str]:
        return {d.invoice_num for d in self.differences if d.invoice_num}

    def report(self) -> dict[str, Any]:
        return {"cancels": [asdict(c) for c in self.cancels],
                "stock_adjustments": [asdict(a) for a in self.adjustments],
                "differences": [asdict(d) for d in self.differences]}


def _rng(what: str, seed_value: int) -> random.Random:
    """One generator per kind of plant, so adding one kind leaves the others' story as it was."""
    return random.Random(f"{what}:{seed_value}")


def _seko_orders(seko: RunningSimulator) -> list[dict[str, Any]]:
    return seko.control("GET", "_sim/orders")["orders"]


# --- Cancels ----------------------------------------------------------------------------------


def plant_cancels(bluecherry: RunningSimulator, seko: RunningSimulator, seed_value: int, *,
                  count: int = CANCELS) -> list[PlantedCancel]:
    """Cancel ``count`` released orders in Blue Cherry that Seko holds To Be Picked and we have
    recorded as sent; every second one is first moved on at Seko past picking. Call it once the
    orders reached Seko and before the warehouse dispatches, then wait for ``cancels_settled``."""
    to_be_picked = sorted(o["SalesOrderNumber"] for o in _seko_orders(seko) if o["Status"] == "To Be Picked")
    sent = set(Order.objects.filter(ord_num__in=to_be_picked, status=Status.SENT, cancel_requested_at__isnull=True)
               .values_list("ord_num", flat=True))
    candidates = [o for o in to_be_picked if o in sent]
    chosen = _rng("cancels", seed_value).sample(candidates, min(count, len(candidates)))
    planted = []
    for index, ord_num in enumerate(chosen):
        past_picking = index % 2 == 1
        if past_picking:
            seko.control("POST", f"_sim/orders/{ord_num}/status", {"Status": PICKING_DONE})
        bluecherry.control("POST", f"_sim/orders/{ord_num}/cancel")
        planted.append(PlantedCancel(ord_num, past_picking))
    return planted


def cancels_settled(planted: list[PlantedCancel]) -> bool:
    """Every planted cancel has been passed on: cancelled here, or refused by Seko. Until then the
    warehouse must not dispatch, or an order still To Be Picked would ship before its cancel."""
    ord_nums = {c.ord_num for c in planted}
    done = Order.objects.filter(ord_num__in=ord_nums, status__in=[Status.CANCELLED, Status.CANCEL_REFUSED])
    return done.count() == len(ord_nums)


# --- Stock adjustments ------------------------------------------------------------------------


def plant_stock_adjustments(seko: RunningSimulator, seed_value: int, *,
                            count: int = ADJUSTMENTS) -> list[PlantedAdjustment]:
    """Adjust ``count`` SKUs of the orders Seko holds, each its own StockAdjustment message:
    alternately a small change of Available Stock (increase or decrease: 500 units each, so no
    order goes short) and an increase in Quarantine (held: no change to what may be sold)."""
    rng = _rng("adjustments", seed_value)
    skus = sorted({line["ProductCode"] for order in _seko_orders(seko) for line in order["lines"]})
    items = []
    for index, sku in enumerate(rng.sample(skus, min(count, len(skus)))):
        available = index % 2 == 0
        items.append({"ProductCode": sku, "DCCode": WAREHOUSES[0][1],
                      "LocationType": "Available Stock" if available else "Quarantine",
                      "Quantity": rng.choice([-2, -1, 1, 2, 3]) if available else rng.randint(1, 3)})
    if not items:
        return []
    records = seko.control("POST", "_sim/warehouse/adjust", items)["adjustments"]
    sellable = stock_flow.sellable_location_types()
    planted = []
    for item, record in zip(items, records, strict=True):  # one message per item, in order
        [line] = record["List"]["StockAdjustmentLineItem"]
        on_sale = stock_rules.is_sellable(item["LocationType"], sellable)
        planted.append(PlantedAdjustment(
            record_id=str(record["InterfaceRecordId"]), identity=f"{record['InternalId']}/{line['LineInternalId']}",
            sku=item["ProductCode"], location_type=item["LocationType"], quantity=item["Quantity"],
            sellable_delta=item["Quantity"] if on_sale else 0))
    return planted


# --- Reconciliation differences ---------------------------------------------------------------


def plant_reconciliation_differences(bluecherry: RunningSimulator, seed_value: int, *,
                                     avoid: Collection[str] = ()) -> list[PlantedDifference]:
    """Once the dispatches posted, change Blue Cherry as a user would, one order each: an
    invoice's value edited, a shipment's quantity edited, an extra invoice raised by hand for
    a shipped order, and an invoice raised by hand for an order neither shipped nor dispatched.
    ``avoid``: orders left alone (those of the planted cancels)."""
    rng = _rng("differences", seed_value)
    posted = sorted(set(Dispatch.objects.filter(status=Dispatch.Status.POSTED).values_list("ord_num", flat=True))
                    - set(avoid))
    rng.shuffle(posted)
    shipped_once = _shipped_and_invoiced_once(bluecherry, posted, wanted=3)
    planters = (_edit_invoice_value, _edit_shipped_quantity, _invoice_again_by_hand)
    planted = [plant(bluecherry, order) for plant, order in zip(planters, shipped_once, strict=False)]
    never_shipped = sorted(Order.objects.filter(status__in=[Status.QUARANTINED, Status.CANCELLED],
                                                dispatches__isnull=True).exclude(ord_num__in=avoid)
                           .values_list("ord_num", flat=True))
    if never_shipped:
        ord_num = rng.choice(never_shipped)
        invoice = bluecherry.control("POST", "_sim/invoices", {"ord_num": ord_num})
        planted.append(PlantedDifference(ord_num, recon_rules.INVOICED_NOT_SHIPPED,
                                         "an invoice raised by hand for an order never shipped",
                                         invoice["invoice_num"]))
    return planted


def _shipped_and_invoiced_once(bluecherry: RunningSimulator, ord_nums: list[str],
                               wanted: int) -> list[dict[str, Any]]:
    """Blue Cherry's records of the first ``wanted`` of these orders that have exactly one
    shipment and one invoice (a cancel-refused or short order may have more or fewer)."""
    found = []
    for ord_num in ord_nums:
        if len(found) == wanted:
            break
        order = bluecherry.control("GET", f"_sim/orders/{ord_num}")
        if len(order["shipments"]) == 1 and len(order["invoices"]) == 1:
            found.append(order)
    return found


def _edit_invoice_value(bluecherry: RunningSimulator, order: dict[str, Any]) -> PlantedDifference:
    [invoice] = order["invoices"]
    amount = Decimal(str(invoice["amount"])) + INVOICE_EDIT
    bluecherry.control("PATCH", f"_sim/invoices/{invoice['invoice_num']}", {"amount": str(amount)})
    return PlantedDifference(order["ord_num"], recon_rules.VALUE_MISMATCH,
                             f"invoice {invoice['invoice_num']} edited to {amount}")


def _edit_shipped_quantity(bluecherry: RunningSimulator, order: dict[str, Any]) -> PlantedDifference:
    [shipment] = order["shipments"]
    line = shipment["lines"][0]
    quantity = int(line["qty_shipped"]) + 1
    bluecherry.control("PATCH", f"_sim/shipments/{shipment['ship_num']}",
                       {"lines": [{"line_no": line["line_no"], "qty_shipped": quantity}]})
    return PlantedDifference(order["ord_num"], recon_rules.QUANTITY_MISMATCH,
                             f"shipment {shipment['ship_num']} line {line['line_no']} edited to {quantity} shipped")


def _invoice_again_by_hand(bluecherry: RunningSimulator, order: dict[str, Any]) -> PlantedDifference:
    invoice = bluecherry.control("POST", "_sim/invoices", {"ord_num": order["ord_num"]})
    return PlantedDifference(order["ord_num"], recon_rules.INVOICED_TWICE,
                             "a second invoice raised by hand for a shipped order", invoice["invoice_num"])
