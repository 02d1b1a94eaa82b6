"""What a chaos run is judged on: the evidence, read from both simulators' own records (over
their control APIs) and our database once everything settled, and one function per invariant
returning what breaks it (nothing when it holds)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django.db.models import Count, QuerySet

from demo import dispatch as dispatch_demo
from demo import scenario, seed
from demo.launcher import RunningSimulator
from demo.waiting import broker_backlog, wait_for_broker
from exceptions.models import IntegrationException
from integration.models import Dispatch, InboundPush, Item, Order, PushPart

Status = Order.Status

# Order faults the generator plants that keep an order from Seko for good (repeated SKUs are
# consolidated by the mapper, so those orders are valid).
INVALID_ORDER_FAULTS = ("bad_ship_via", "bad_location", "sku_not_live", "missing_address")

# --- Invariants ---------------------------------------------------------------------------------


@dataclass
class Evidence:
    """What the invariants are judged on, read once the broker has drained: the generator's
    story, both simulators' own records (over their APIs), our open exceptions and the work
    still waiting here."""

    released: set[str]
    invalid: set[str]
    seko_orders: list[dict[str, Any]]
    shipments: list[dict[str, Any]]
    invoices: list[dict[str, Any]]
    pushes: list[dict[str, Any]]
    orders_with_open_exception: set[str]
    stuck: dict[str, int]

    @cached_property
    def valid(self) -> set[str]:
        return self.released - self.invalid

    @cached_property
    def at_seko(self) -> Counter[str]:
        return Counter(o["SalesOrderNumber"] for o in self.seko_orders)

    @cached_property
    def times_submitted(self) -> dict[str, int]:
        return {o["SalesOrderNumber"]: o["times_submitted"] for o in self.seko_orders}

    @cached_property
    def shipments_per_order(self) -> Counter[str]:
        return Counter(s["ord_num"] for s in self.shipments)

    @cached_property
    def dispatched_at_seko(self) -> set[str]:
        return {o["SalesOrderNumber"] for o in self.seko_orders if o["Status"] == "Dispatched"}


def gather_evidence(bluecherry: RunningSimulator, seko: RunningSimulator, generated: dict[str, Any],
                    broker_wait_s: float) -> Evidence:
    seko_orders = seko.control("GET", "_sim/orders")["orders"]
    # A task enqueued a moment ago (a late kick) is not stuck: give the broker its chance to
    # drain again before "nothing stuck" is judged.
    wait_for_broker(timeout_s=broker_wait_s)
    return Evidence(
        released=set(generated["ord_nums"]),
        invalid={o for kind in INVALID_ORDER_FAULTS for o in generated["faults"].get(kind, [])},
        seko_orders=seko_orders,
        shipments=seed.bluecherry_rows(bluecherry, "shipments"),
        invoices=seed.bluecherry_rows(bluecherry, "invoices"),
        pushes=seko.control("GET", "_sim/pushes")["pushes"],
        orders_with_open_exception=set(open_exceptions().filter(order__isnull=False)
                                       .values_list("order__ord_num", flat=True)),
        stuck=stuck_work(),
    )


def open_exceptions() -> QuerySet[IntegrationException]:
    return IntegrationException.objects.filter(status=IntegrationException.Status.OPEN)


# Each invariant returns what breaks it (nothing when it holds).

def valid_orders_at_seko_exactly_once(seen: Evidence) -> list[Any]:
    return [o for o in seen.valid if seen.at_seko.get(o) != 1 or seen.times_submitted.get(o) != 1]


def nothing_at_seko_not_released(seen: Evidence) -> list[Any]:
    return [o for o in seen.at_seko if o not in seen.valid]


def invalid_orders_in_exception_queue(seen: Evidence) -> list[Any]:
    return [o for o in seen.invalid if o not in seen.orders_with_open_exception or o in seen.at_seko]


def dispatches_posted_exactly_once(seen: Evidence) -> list[Any]:
    posted = set(Dispatch.objects.filter(status=Dispatch.Status.POSTED).values_list("ord_num", flat=True))
    ships = seen.shipments_per_order
    return [o for o in posted | set(ships) if ships.get(o) != 1 or o not in posted]


def no_invoice_twice(seen: Evidence) -> list[Any]:
    invoices_per_order = Counter(i["ord_num"] for i in seen.invoices)
    return [o for o, n in invoices_per_order.items() if n > 1 or o not in seen.shipments_per_order]


def every_seko_dispatch_taken(seen: Evidence) -> list[Any]:
    ours = dict(Dispatch.objects.values_list("ord_num", "status"))
    return [o for o in seen.dispatched_at_seko
            if ours.get(o) not in (Dispatch.Status.POSTED, Dispatch.Status.QUARANTINED)]


def incomplete_dispatches_in_exception_queue(seen: Evidence) -> list[Any]:
    quarantined = Dispatch.objects.filter(status=Dispatch.Status.QUARANTINED).values_list("ord_num", flat=True)
    incomplete_posted = [d.ord_num for d in Dispatch.objects.filter(status=Dispatch.Status.POSTED)
                         if not _complete(d)]
    return [*[o for o in quarantined if o not in seen.orders_with_open_exception],
            *[f"posted-incomplete:{o}" for o in incomplete_posted]]


def every_delivered_push_stored(seen: Evidence) -> list[Any]:
    delivered_ids = {str(p["record"].get("InterfaceRecordId")) for p in seen.pushes if p["status"] == "delivered"}
    stored_ids = set(PushPart.objects.values_list("interface_record_id", flat=True))
    return sorted(delivered_ids - stored_ids)


def nothing_stuck(seen: Evidence) -> list[Any]:
    return [f"{k}={v}" for k, v in seen.stuck.items() if v]


INVARIANTS: tuple[Callable[[Evidence], list[Any]], ...] = (
    valid_orders_at_seko_exactly_once, nothing_at_seko_not_released, invalid_orders_in_exception_queue,
    dispatches_posted_exactly_once, no_invoice_twice, every_seko_dispatch_taken,
    incomplete_dispatches_in_exception_queue, every_delivered_push_stored, nothing_stuck,
)


def stuck_work() -> dict[str, int]:
    """Work still waiting anywhere once everything should have settled (each should be 0)."""
    return {
        "orders_unsettled": Order.objects.filter(status__in=[Status.RECEIVED, Status.SENDING]).count(),
        "pick_tickets_owed": Order.objects.filter(status=Status.SENT, pick_ticket_at__isnull=True).count(),
        "items_in_flight": Item.objects.filter(sync_status__in=[Item.SyncStatus.PENDING, Item.SyncStatus.SENDING,
                                                                Item.SyncStatus.SENT]).count(),
        "pushes_untaken": InboundPush.objects.exclude(status=InboundPush.Status.PROCESSED).count(),
        "dispatches_unsettled": Dispatch.objects.filter(status__in=[Dispatch.Status.RECEIVED,
                                                                    Dispatch.Status.POSTING]).count(),
        "orders_awaiting_dispatch": Order.objects.filter(status__in=[Status.SENT, Status.CANCEL_REFUSED],
                                                         dispatches__isnull=True).count(),
        **{f"broker_{k}": v for k, v in broker_backlog().items()},
    }


def judge(seen: Evidence) -> tuple[dict[str, bool], dict[str, list[str]]]:
    """Every invariant's verdict by name, and for each broken one (up to 20 of) what breaks it."""
    invariants: dict[str, bool] = {}
    failures: dict[str, list[str]] = {}
    for invariant in INVARIANTS:
        bad = invariant(seen)
        invariants[invariant.__name__] = not bad
        if bad:
            failures[invariant.__name__] = sorted(str(b) for b in bad)[:20]
    return invariants, failures


def check(bluecherry: RunningSimulator, seko: RunningSimulator, generated: dict[str, Any], *,
          broker_wait_s: float) -> dict[str, Any]:
    seen = gather_evidence(bluecherry, seko, generated, broker_wait_s)
    invariants, failures = judge(seen)
    counts = scenario.order_counts()
    return {
        "invariants": invariants,
        "all_held": all(invariants.values()),
        "failures": failures,
        "orders": {"released": len(seen.released), "valid": len(seen.valid), "invalid": len(seen.invalid),
                   "at_seko": len(seen.at_seko), "by_status": dict(sorted(counts.items())),
                   "seko_submit_attempts": sum(o.get("attempts", 0) for o in seen.seko_orders)},
        "dispatches": {**dispatch_demo.dispatch_report(), "dispatched_at_seko": len(seen.dispatched_at_seko)},
        "bluecherry": {"shipments": len(seen.shipments), "invoices": len(seen.invoices)},
        "seko_pushes": dispatch_demo.seko_push_report(seko),
        "exceptions_open_by_kind": dict(sorted(open_exceptions().values_list("kind").annotate(n=Count("id"))
                                               .order_by())),
        "stuck": seen.stuck,
    }


def _complete(dispatch: Dispatch) -> bool:
    """A posted dispatch carried a tracking number and a carrier (or ops filled them in)."""
    shipment = dispatch.shipment or {}
    return bool(shipment.get("tracking_numbers")) and bool(shipment.get("carrier") or shipment.get("ship_via"))
