"""What a chaos run is judged on: the evidence, read from both simulators' own records (over
their control APIs) and our database once everything settled, and one pure function of it per
invariant returning what breaks it (nothing when it holds)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date
from functools import cached_property
from typing import Any

from django.db.models import Count, Min, QuerySet
from django.utils import timezone

from demo import dispatch as dispatch_demo
from demo import scenario, seed
from demo.chaos_plants import Planted, PlantedAdjustment, PlantedCancel, PlantedDifference
from demo.launcher import RunningSimulator
from demo.waiting import broker_backlog, wait_for_broker
from exceptions import catalogue
from exceptions.models import IntegrationException
from integration.models import Dispatch, InboundPush, Item, Order, PushPart, StockMovement
from reconciliation import rules as recon_rules
from reconciliation.models import Difference
from reconciliation.run import AlreadyRunning, business_today, business_zone, days_between, run_reconciliation

Status = Order.Status
DStatus = Dispatch.Status

# The order faults the generator plants that keep an order from Seko for good, each with the
# exception kind our validation must hold it under (repeated SKUs are consolidated by the
# mapper, so those orders are valid).
ORDER_FAULT_KINDS = {
    "bad_ship_via": catalogue.MAPPING_CARRIER_UNKNOWN.code,
    "bad_location": catalogue.MAPPING_WAREHOUSE_UNKNOWN.code,
    "sku_not_live": catalogue.ORDER_SKU_NOT_LIVE.code,
    "missing_address": catalogue.ORDER_ADDRESS_INCOMPLETE.code,
}
# What the warehouse left out of a dispatch (Seko's ``dispatch_faults``) and the kind our
# dispatch flow quarantines it under; a short shipment is posted, its remainder cancelled.
DISPATCH_FAULT_KINDS = {
    "missing_carrier": catalogue.DISPATCH_INCOMPLETE.code,
    "missing_tracking": catalogue.DISPATCH_INCOMPLETE.code,
}

# --- Invariants ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class OurDispatch:
    """One of our dispatches as the invariants need it."""

    dispatch_id: str
    ord_num: str
    status: str
    complete: bool  # posted with a tracking number and a carrier (or ops filled them in)


@dataclass
class Evidence:
    """What the invariants are judged on, read once the broker has drained: the generator's
    story, both simulators' own records (over their APIs), and our orders, dispatches, open
    exceptions, stored push parts and the work still waiting here. Plain data, so a test can
    build one by hand."""

    released: set[str]
    invalid: dict[str, str]  # order -> the fault planted in it
    seko_orders: list[dict[str, Any]]  # Seko's _sim/orders rows
    submit_attempts: dict[str, dict[str, int]]  # Seko's submits per order: count, accepted, duplicate, refused
    shipments: list[dict[str, Any]]
    invoices: list[dict[str, Any]]
    duplicate_posts_refused: int  # Blue Cherry refusing a dispatch posted again
    pushes: list[dict[str, Any]]
    order_status: dict[str, str]
    dispatches: list[OurDispatch]
    open_exception_kinds: dict[str, set[str]]  # trace key (order:..., dispatch:...) -> open kinds
    stored_push_ids: set[str]  # InterfaceRecordIds of our stored push parts
    stuck: dict[str, int]
    # What the run planted (demo.chaos_plants) and what we ended with for it; empty when nothing
    # was planted. Seko's cancel calls per order are in ``seko_orders`` ("cancel_attempts").
    cancels_planted: list[PlantedCancel] = field(default_factory=list)
    adjustments_planted: list[PlantedAdjustment] = field(default_factory=list)
    stock_movements: dict[str, list[int]] = field(default_factory=dict)  # planted identity -> our deltas
    differences_planted: list[PlantedDifference] = field(default_factory=list)
    differences_found: set[tuple[str, str]] = field(default_factory=set)  # (order, kind) the reconciliation found

    @cached_property
    def valid(self) -> set[str]:
        return self.released - self.invalid.keys()

    @cached_property
    def at_seko(self) -> Counter[str]:
        return Counter(o["SalesOrderNumber"] for o in self.seko_orders)

    @cached_property
    def shipments_per_order(self) -> Counter[str]:
        return Counter(s["ord_num"] for s in self.shipments)

    @cached_property
    def dispatched_at_seko(self) -> dict[str, list[str]]:
        """Orders Seko dispatched, each with what the warehouse left out of its dispatch."""
        return {o["SalesOrderNumber"]: o.get("dispatch_faults", []) for o in self.seko_orders
                if o["Status"] == "Dispatched"}

    @cached_property
    def dispatches_by_order(self) -> dict[str, list[OurDispatch]]:
        by_order: dict[str, list[OurDispatch]] = {}
        for dispatch in self.dispatches:
            by_order.setdefault(dispatch.ord_num, []).append(dispatch)
        return by_order

    @cached_property
    def seko_order(self) -> dict[str, dict[str, Any]]:
        return {o["SalesOrderNumber"]: o for o in self.seko_orders}

    @cached_property
    def delivered_push_ids(self) -> set[str]:
        return {str(p["record"].get("InterfaceRecordId")) for p in self.pushes if p["status"] == "delivered"}

    def accepted(self, ord_num: str) -> int:
        return self.submit_attempts.get(ord_num, {}).get("accepted", 0)

    def open_kinds(self, trace_key: str) -> set[str]:
        return self.open_exception_kinds.get(trace_key, set())


def gather_evidence(bluecherry: RunningSimulator, seko: RunningSimulator, generated: dict[str, Any],
                    broker_wait_s: float, planted: Planted | None = None) -> Evidence:
    """``planted``: what the run planted; with it, the reconciliation is run over the run's days
    first, so what it finds is judged too."""
    seko_orders = seko.control("GET", "_sim/orders")["orders"]
    # A task enqueued a moment ago (a late kick) is not stuck: give the broker its chance to
    # drain again before "nothing stuck" is judged.
    wait_for_broker(timeout_s=broker_wait_s)
    found = reconcile_the_run() if planted is not None else set()
    planted = planted or Planted()
    by_hand = planted.invoices_raised_by_hand
    return Evidence(
        released=set(generated["ord_nums"]),
        invalid={o: fault for fault in ORDER_FAULT_KINDS for o in generated["faults"].get(fault, [])},
        seko_orders=seko_orders,
        submit_attempts=scenario.submit_attempts(seko),
        shipments=seed.bluecherry_rows(bluecherry, "shipments"),
        # The invoices the integration's postings raised: those planted by hand are not ours.
        invoices=[i for i in seed.bluecherry_rows(bluecherry, "invoices") if i["invoice_num"] not in by_hand],
        duplicate_posts_refused=scenario.duplicate_posts_refused(bluecherry),
        pushes=seko.control("GET", "_sim/pushes")["pushes"],
        order_status=scenario.order_statuses(),
        dispatches=[OurDispatch(d.dispatch_id, d.ord_num, d.status, _complete(d)) for d in Dispatch.objects.all()],
        open_exception_kinds=open_exception_kinds(),
        stored_push_ids=set(PushPart.objects.values_list("interface_record_id", flat=True)),
        stuck=stuck_work(),
        cancels_planted=planted.cancels,
        adjustments_planted=planted.adjustments,
        stock_movements=stock_movement_deltas({a.identity for a in planted.adjustments}),
        differences_planted=planted.differences,
        differences_found=found,
    )


def stock_movement_deltas(identities: set[str]) -> dict[str, list[int]]:
    deltas: dict[str, list[int]] = {}
    for identity, delta in StockMovement.objects.filter(identity__in=identities).values_list("identity", "delta"):
        deltas.setdefault(identity, []).append(delta)
    return deltas


def reconcile_the_run(attempts: int = 30) -> set[tuple[str, str]]:
    """Run the reconciliation over every day of the run (from the first order sent to today, in
    the business's zone and in UTC, where Blue Cherry dates its invoices) and return each
    (order, kind of difference) it found. A scheduled run holding the lock is waited for."""
    today = max(business_today(), timezone.now().astimezone(UTC).date())
    first_sent = Order.objects.aggregate(first=Min("sent_at"))["first"]
    date_from = min(first_sent.astimezone(business_zone()).date() if first_sent else today, business_today())
    for _ in range(attempts):
        try:
            run = run_reconciliation(date_from, today, trigger="chaos")
            break
        except AlreadyRunning:
            time.sleep(1)
    else:
        raise AlreadyRunning(f"the reconciliation stayed locked for {attempts} s")
    return _differences_on(days_between(run.date_from, run.date_to))


def _differences_on(days: list[date]) -> set[tuple[str, str]]:
    return set(Difference.objects.filter(day__day__in=days).values_list("ord_num", "kind"))


def open_exceptions() -> QuerySet[IntegrationException]:
    return IntegrationException.objects.filter(status=IntegrationException.Status.OPEN)


def open_exception_kinds() -> dict[str, set[str]]:
    kinds: dict[str, set[str]] = {}
    for trace_key, kind in open_exceptions().values_list("trace_key", "kind"):
        kinds.setdefault(trace_key, set()).add(kind)
    return kinds


# Each invariant returns what breaks it (nothing when it holds), each entry naming its order
# (or push record, or stuck figure) first.

def valid_orders_at_seko_exactly_once(seen: Evidence) -> list[Any]:
    """Seko holds each valid order once and accepted it once; no order was accepted twice."""
    held_wrong = [f"{o}: held {seen.at_seko.get(o, 0)} times, accepted {seen.accepted(o)} times" for o in seen.valid
                  if seen.at_seko.get(o) != 1 or seen.accepted(o) != 1]
    accepted_twice = [f"{o}: accepted {seen.accepted(o)} times" for o in seen.submit_attempts
                      if o not in seen.valid and seen.accepted(o) > 1]
    return held_wrong + accepted_twice


def no_duplicate_refusal_taken_as_rejection(seen: Evidence) -> list[Any]:
    """An order Seko refused as a duplicate is one it holds: ours must say so, not rejected."""
    return [f"{o}: refused by Seko as a duplicate, ours is {seen.order_status.get(o, 'unknown')}"
            for o in scenario.wrongly_rejected(seen.submit_attempts, seen.order_status)]


def nothing_at_seko_not_released(seen: Evidence) -> list[Any]:
    return [o for o in seen.at_seko if o not in seen.valid]


def invalid_orders_in_exception_queue(seen: Evidence) -> list[Any]:
    """Each invalid order held here, with an open exception of the kind its planted fault calls
    for, and never at Seko."""
    broken = []
    for o, fault in seen.invalid.items():
        kind, status = ORDER_FAULT_KINDS[fault], seen.order_status.get(o)
        kinds = seen.open_kinds(catalogue.order_key(o))
        if status != Status.QUARANTINED or kind not in kinds or o in seen.at_seko:
            broken.append(f"{o}: {fault} calls for an open {kind}; ours is {status}, open {sorted(kinds)}, "
                          f"at Seko {seen.at_seko.get(o, 0)} times")
    return broken


def dispatches_posted_exactly_once(seen: Evidence) -> list[Any]:
    posted = {d.ord_num for d in seen.dispatches if d.status == DStatus.POSTED}
    ships = seen.shipments_per_order
    return [o for o in posted | set(ships) if ships.get(o) != 1 or o not in posted]


def no_invoice_twice(seen: Evidence) -> list[Any]:
    invoices_per_order = Counter(i["ord_num"] for i in seen.invoices)
    return [o for o, n in invoices_per_order.items() if n > 1 or o not in seen.shipments_per_order]


def every_seko_dispatch_taken(seen: Evidence) -> list[Any]:
    """Every dispatch Seko made is posted here, or quarantined with an open exception of the
    kind what the warehouse left out of it calls for (one with nothing left out, or only
    shipped short, must be posted)."""
    broken = []
    for o, faults in seen.dispatched_at_seko.items():
        wanted = {DISPATCH_FAULT_KINDS[f] for f in faults if f in DISPATCH_FAULT_KINDS}
        ours = seen.dispatches_by_order.get(o, [])
        if not any(_taken(seen, d, wanted) for d in ours):
            found = [(d.status, sorted(_open_kinds(seen, d))) for d in ours]
            broken.append(f"{o}: Seko's dispatch left out {sorted(faults)}, calls for "
                          f"{sorted(wanted) or 'posting'}; ours {found or 'none'}")
    return broken


def _taken(seen: Evidence, dispatch: OurDispatch, wanted: set[str]) -> bool:
    if dispatch.status == DStatus.POSTED:
        return True
    return dispatch.status == DStatus.QUARANTINED and bool(wanted) and wanted <= _open_kinds(seen, dispatch)


def _open_kinds(seen: Evidence, dispatch: OurDispatch) -> set[str]:
    return seen.open_kinds(catalogue.dispatch_key(dispatch.dispatch_id))


def incomplete_dispatches_in_exception_queue(seen: Evidence) -> list[Any]:
    unexplained = [f"{d.ord_num}: dispatch {d.dispatch_id} quarantined with no open exception"
                   for d in seen.dispatches if d.status == DStatus.QUARANTINED and not _open_kinds(seen, d)]
    incomplete_posted = [f"{d.ord_num}: dispatch {d.dispatch_id} posted without tracking or carrier"
                         for d in seen.dispatches if d.status == DStatus.POSTED and not d.complete]
    return unexplained + incomplete_posted


def every_delivered_push_stored(seen: Evidence) -> list[Any]:
    delivered_ids = {str(p["record"].get("InterfaceRecordId")) for p in seen.pushes if p["status"] == "delivered"}
    return sorted(delivered_ids - seen.stored_push_ids)


def nothing_stuck(seen: Evidence) -> list[Any]:
    return [f"{k}={v}" for k, v in seen.stuck.items() if v]


# Where a planted cancel may leave our order once Seko refused it: refused, and then shipped.
REFUSED_CANCEL_ENDS = {Status.CANCEL_REFUSED, Status.DISPATCHED, Status.PARTIALLY_DISPATCHED}


def each_cancel_reached_seko_once_or_was_refused_into_the_queue(seen: Evidence) -> list[Any]:
    """A cancel made while Seko had the order To Be Picked: Seko cancelled it, one cancel call
    taking effect (a resend after a lost reply finds it cancelled and is only counted), none
    refused, and ours is cancelled with no refused-cancel exception. A cancel made once Seko had
    picked it: Seko refused it and never cancelled it, and ours waits (or shipped) with an open
    order.cancel_refused for customer service."""
    broken = []
    for cancel in seen.cancels_planted:
        at_seko = seen.seko_order.get(cancel.ord_num, {})
        calls = at_seko.get("cancel_attempts", {})
        cancelled, refused = calls.get("cancelled", 0), calls.get("refused", 0)
        ours = seen.order_status.get(cancel.ord_num)
        refusal_queued = catalogue.ORDER_CANCEL_REFUSED.code in seen.open_kinds(catalogue.order_key(cancel.ord_num))
        if cancel.past_picking:
            held = (refused >= 1 and not cancelled and at_seko.get("Status") != "Cancelled"
                    and ours in REFUSED_CANCEL_ENDS and refusal_queued)
            wanted = "refused by Seko, ours cancel_refused with an open order.cancel_refused"
        else:
            held = (cancelled == 1 and not refused and at_seko.get("Status") == "Cancelled"
                    and ours == Status.CANCELLED and not refusal_queued)
            wanted = "cancelled at Seko by one call, ours cancelled"
        if not held:
            broken.append(f"{cancel.ord_num}: wanted {wanted}; Seko {at_seko.get('Status', 'has no such order')} "
                          f"after cancel calls {calls or 'none'}, ours {ours}, refusal queued {refusal_queued}")
    return broken


def each_stock_adjustment_applied_once(seen: Evidence) -> list[Any]:
    """Each adjustment line planted at Seko moved our stock once, by what it changed of sellable
    stock, once Seko delivered its push (a push Seko dropped is the snapshot's to correct: it
    must not be applied by anything else either), and never twice."""
    broken = []
    for planted in seen.adjustments_planted:
        applied = seen.stock_movements.get(planted.identity, [])
        delivered = planted.record_id in seen.delivered_push_ids
        if len(applied) > 1 or any(d != planted.sellable_delta for d in applied) or (delivered and not applied):
            broken.append(f"{planted.sku}: {planted.quantity:+d} in {planted.location_type} (push "
                          f"{planted.record_id}, {'delivered' if delivered else 'not delivered'}) calls for "
                          f"{planted.sellable_delta:+d} once; applied {applied or 'never'}")
    return broken


def each_reconciliation_difference_found_and_nothing_else(seen: Evidence) -> list[Any]:
    """Each difference planted in Blue Cherry is found as its kind on its order, and nothing else
    is found: no other kind on a planted order, no difference on any other order, except a Seko
    dispatch we hold quarantined, which truly is dispatched and not shipped."""
    planted: dict[str, set[str]] = {}
    for difference in seen.differences_planted:
        planted.setdefault(difference.ord_num, set()).add(difference.kind)
    found: dict[str, set[str]] = {}
    for ord_num, kind in seen.differences_found:
        found.setdefault(ord_num, set()).add(kind)
    broken = []
    for ord_num in sorted(planted.keys() | found.keys()):
        wanted = planted.get(ord_num, set()) | (found.get(ord_num, set()) & _explained_by_the_run(seen, ord_num))
        if found.get(ord_num, set()) != wanted:
            how = "; ".join(d.how for d in seen.differences_planted if d.ord_num == ord_num) or "nothing planted"
            broken.append(f"{ord_num}: {how}, calls for {sorted(wanted) or 'no difference'}; "
                          f"found {sorted(found.get(ord_num, set())) or 'none'}")
    return broken


def _explained_by_the_run(seen: Evidence, ord_num: str) -> set[str]:
    """Differences the run's own faults make real: a dispatch quarantined here is not shipped."""
    held = any(d.status == DStatus.QUARANTINED for d in seen.dispatches_by_order.get(ord_num, []))
    return {recon_rules.DISPATCHED_NOT_SHIPPED} if held else set()


INVARIANTS: tuple[Callable[[Evidence], list[Any]], ...] = (
    valid_orders_at_seko_exactly_once, no_duplicate_refusal_taken_as_rejection, nothing_at_seko_not_released,
    invalid_orders_in_exception_queue, dispatches_posted_exactly_once, no_invoice_twice, every_seko_dispatch_taken,
    incomplete_dispatches_in_exception_queue, every_delivered_push_stored, nothing_stuck,
    each_cancel_reached_seko_once_or_was_refused_into_the_queue, each_stock_adjustment_applied_once,
    each_reconciliation_difference_found_and_nothing_else,
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
          broker_wait_s: float, planted: Planted | None = None) -> dict[str, Any]:
    seen = gather_evidence(bluecherry, seko, generated, broker_wait_s, planted)
    invariants, failures = judge(seen)
    counts = scenario.order_counts()
    figures = scenario.exactly_once_figures(seen.submit_attempts, seen.order_status, seen.duplicate_posts_refused)
    return {
        "invariants": invariants,
        "all_held": all(invariants.values()),
        "failures": failures,
        "orders": {"released": len(seen.released), "valid": len(seen.valid), "invalid": len(seen.invalid),
                   "at_seko": len(seen.at_seko), "by_status": dict(sorted(counts.items())),
                   "seko_submit_attempts": sum(a["count"] for a in seen.submit_attempts.values()),
                   **figures["orders"]},
        "seko": {"orders_received": len(seen.seko_orders), **figures["seko"]},
        "dispatches": {**dispatch_demo.dispatch_report(), "dispatched_at_seko": len(seen.dispatched_at_seko)},
        "bluecherry": {"shipments": len(seen.shipments), "invoices": len(seen.invoices), **figures["bluecherry"]},
        "seko_pushes": dispatch_demo.seko_push_report(seko),
        "exceptions_open_by_kind": dict(sorted(open_exceptions().values_list("kind").annotate(n=Count("id"))
                                               .order_by())),
        "stuck": seen.stuck,
        **({"planted": {**planted.report(), **planted_figures(seen)}} if planted is not None else {}),
    }


def planted_figures(seen: Evidence) -> dict[str, Any]:
    """What the report shows beside the plants: cancels Seko read more than once (a resend after
    a lost reply, harmless), planted adjustment pushes delivered, what the reconciliation found."""
    repeated = {c.ord_num: seen.seko_order.get(c.ord_num, {}).get("cancel_attempts", {}).get("repeated", 0)
                for c in seen.cancels_planted}
    return {"cancel_calls_repeated": {o: n for o, n in repeated.items() if n},
            "adjustment_pushes_delivered": sum(a.record_id in seen.delivered_push_ids
                                               for a in seen.adjustments_planted),
            "differences_found": sorted(f"{o}:{k}" for o, k in seen.differences_found)}


def _complete(dispatch: Dispatch) -> bool:
    """A posted dispatch carried a tracking number and a carrier (or ops filled them in)."""
    shipment = dispatch.shipment or {}
    return bool(shipment.get("tracking_numbers")) and bool(shipment.get("carrier") or shipment.get("ship_via"))
