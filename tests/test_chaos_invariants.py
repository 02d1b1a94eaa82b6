"""The chaos run's checker, judged on evidence built by hand: each invariant holds on a clean
run's evidence, and each planted violation breaks that invariant alone, naming what broke it.
Pure: no database, no simulators."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any

import pytest

from bench.orders import exactly_once
from demo import scenario
from demo.chaos_invariants import INVARIANTS, Evidence, OurDispatch, judge
from demo.chaos_plants import PlantedAdjustment, PlantedCancel, PlantedDifference

INVARIANT_NAMES = [invariant.__name__ for invariant in INVARIANTS]


def attempts(count: int = 1, accepted: int = 1, duplicate: int = 0, refused: int = 0) -> dict[str, int]:
    return {"count": count, "accepted": accepted, "duplicate": duplicate, "refused": refused}


def at_seko(ord_num: str, faults: list[str] | None = None, status: str = "Dispatched") -> dict[str, Any]:
    return {"SalesOrderNumber": ord_num, "Status": status, "dispatch_faults": faults or []}


def clean_run() -> Evidence:
    """A run where everything went right: SO-1 dispatched whole and posted; SO-2 dispatched
    without a tracking number and quarantined for it; SO-3 resent after a lost reply (Seko
    refused the resend as a duplicate), shipped short and posted; SO-4 planted with an unknown
    ship-via and held under mapping.carrier_unknown."""
    return Evidence(
        released={"SO-1", "SO-2", "SO-3", "SO-4"},
        invalid={"SO-4": "bad_ship_via"},
        seko_orders=[at_seko("SO-1"), at_seko("SO-2", ["missing_tracking"]), at_seko("SO-3", ["short_shipped"])],
        submit_attempts={"SO-1": attempts(), "SO-2": attempts(), "SO-3": attempts(count=2, duplicate=1)},
        shipments=[{"ord_num": "SO-1"}, {"ord_num": "SO-3"}],
        invoices=[{"ord_num": "SO-1"}, {"ord_num": "SO-3"}],
        duplicate_posts_refused=1,  # a repost Blue Cherry refused: reported, breaks nothing
        pushes=[{"status": "delivered", "record": {"InterfaceRecordId": "P-1"}},
                {"status": "dropped", "record": {"InterfaceRecordId": "P-2"}}],
        order_status={"SO-1": "dispatched", "SO-2": "sent", "SO-3": "partially_dispatched", "SO-4": "quarantined"},
        dispatches=[OurDispatch("D-1", "SO-1", "posted", complete=True),
                    OurDispatch("D-2", "SO-2", "quarantined", complete=False),
                    OurDispatch("D-3", "SO-3", "posted", complete=True)],
        open_exception_kinds={"order:SO-4": {"mapping.carrier_unknown"}, "dispatch:D-2": {"dispatch.incomplete"}},
        stored_push_ids={"P-1"},
        stuck={"orders_unsettled": 0, "dispatches_unsettled": 0, "broker_queued": 0},
    )


def broken_by(seen: Evidence) -> tuple[set[str], dict[str, list[str]]]:
    invariants, failures = judge(seen)
    return {name for name, held in invariants.items() if not held}, failures


def names(failures: list[str], key: str) -> bool:
    return any(failure == key or failure.startswith(f"{key}:") for failure in failures)


@pytest.mark.parametrize("name", INVARIANT_NAMES)
def test_each_invariant_holds_on_a_clean_run(name):
    invariants, failures = judge(clean_run())
    assert invariants[name] is True and name not in failures


def test_the_clean_run_breaks_nothing():
    assert broken_by(clean_run()) == (set(), {})


def _dispatch(seen: Evidence, dispatch_id: str, **changes: Any) -> list[OurDispatch]:
    return [replace(d, **changes) if d.dispatch_id == dispatch_id else d for d in seen.dispatches]


def _open(seen: Evidence, trace_key: str, kinds: set[str] | None) -> dict[str, set[str]]:
    found = {k: v for k, v in seen.open_exception_kinds.items() if k != trace_key}
    return found if kinds is None else {**found, trace_key: kinds}


# (invariant, what goes wrong, the key its failure must name)
VIOLATIONS: list[tuple[str, Any, str]] = [
    ("valid_orders_at_seko_exactly_once",
     lambda s: {"submit_attempts": {**s.submit_attempts, "SO-1": attempts(count=2, accepted=2)}}, "SO-1"),
    ("valid_orders_at_seko_exactly_once",
     lambda s: {"seko_orders": [*s.seko_orders, at_seko("SO-1")]}, "SO-1"),
    ("valid_orders_at_seko_exactly_once",
     lambda s: {"seko_orders": [o for o in s.seko_orders if o["SalesOrderNumber"] != "SO-2"],
                "dispatches": [d for d in s.dispatches if d.ord_num != "SO-2"]}, "SO-2"),
    ("no_duplicate_refusal_taken_as_rejection",
     lambda s: {"order_status": {**s.order_status, "SO-3": "rejected"}}, "SO-3"),
    ("no_duplicate_refusal_taken_as_rejection",
     lambda s: {"order_status": {**s.order_status, "SO-3": "quarantined"}}, "SO-3"),
    ("nothing_at_seko_not_released",
     lambda s: {"seko_orders": [*s.seko_orders, at_seko("SO-9", status="Released")]}, "SO-9"),
    ("invalid_orders_in_exception_queue",
     lambda s: {"open_exception_kinds": _open(s, "order:SO-4", {"order.address_incomplete"})}, "SO-4"),
    ("invalid_orders_in_exception_queue",
     lambda s: {"open_exception_kinds": _open(s, "order:SO-4", None)}, "SO-4"),
    ("invalid_orders_in_exception_queue",
     lambda s: {"order_status": {**s.order_status, "SO-4": "rejected"}}, "SO-4"),
    ("dispatches_posted_exactly_once", lambda s: {"shipments": [*s.shipments, {"ord_num": "SO-1"}]}, "SO-1"),
    ("dispatches_posted_exactly_once",
     lambda s: {"shipments": [*s.shipments, {"ord_num": "SO-2"}], "invoices": [*s.invoices, {"ord_num": "SO-2"}]},
     "SO-2"),
    ("no_invoice_twice", lambda s: {"invoices": [*s.invoices, {"ord_num": "SO-1"}]}, "SO-1"),
    ("no_invoice_twice", lambda s: {"invoices": [*s.invoices, {"ord_num": "SO-2"}]}, "SO-2"),
    ("every_seko_dispatch_taken", lambda s: {"dispatches": _dispatch(s, "D-2", status="rejected")}, "SO-2"),
    ("every_seko_dispatch_taken",
     lambda s: {"open_exception_kinds": _open(s, "dispatch:D-2", {"dispatch.line_mismatch"})}, "SO-2"),
    ("every_seko_dispatch_taken", lambda s: {"dispatches": [d for d in s.dispatches if d.ord_num != "SO-2"]},
     "SO-2"),
    # Nothing was left out of SO-1's dispatch, so holding it (even with an exception) is wrong.
    ("every_seko_dispatch_taken",
     lambda s: {"dispatches": _dispatch(s, "D-1", status="quarantined"), "shipments": [{"ord_num": "SO-3"}],
                "invoices": [{"ord_num": "SO-3"}],
                "open_exception_kinds": _open(s, "dispatch:D-1", {"dispatch.incomplete"})}, "SO-1"),
    # A short shipment is posted, its remainder cancelled: it is no reason to hold the dispatch.
    ("every_seko_dispatch_taken",
     lambda s: {"dispatches": _dispatch(s, "D-3", status="quarantined"), "shipments": [{"ord_num": "SO-1"}],
                "invoices": [{"ord_num": "SO-1"}],
                "open_exception_kinds": _open(s, "dispatch:D-3", {"dispatch.incomplete"})}, "SO-3"),
    ("incomplete_dispatches_in_exception_queue",
     lambda s: {"dispatches": [*s.dispatches, OurDispatch("D-9", "SO-9", "quarantined", complete=False)]}, "SO-9"),
    ("incomplete_dispatches_in_exception_queue", lambda s: {"dispatches": _dispatch(s, "D-1", complete=False)},
     "SO-1"),
    ("every_delivered_push_stored",
     lambda s: {"pushes": [*s.pushes, {"status": "delivered", "record": {"InterfaceRecordId": "P-3"}}]}, "P-3"),
    ("nothing_stuck", lambda s: {"stuck": {**s.stuck, "dispatches_unsettled": 1}}, "dispatches_unsettled=1"),
    ("nothing_stuck", lambda s: {"stuck": {**s.stuck, "orders_unsettled": 2}}, "orders_unsettled=2"),
]


@pytest.mark.parametrize(("name", "plant", "key"), VIOLATIONS,
                         ids=[f"{name}-{index}" for index, (name, _, _) in enumerate(VIOLATIONS)])
def test_a_planted_violation_breaks_its_invariant_alone(name, plant, key):
    assert_breaks_alone(clean_run(), name, plant, key)


def assert_breaks_alone(seen: Evidence, name: str, plant: Any, key: str) -> None:
    """What ``plant`` changes in ``seen`` breaks the invariant ``name`` alone, naming ``key``."""
    broken, failures = broken_by(replace(seen, **plant(seen)))
    assert broken == {name}
    assert names(failures[name], key), failures


def test_an_invalid_order_at_seko_breaks_both_order_invariants():
    seen = clean_run()
    broken, failures = broken_by(replace(seen, seko_orders=[*seen.seko_orders, at_seko("SO-4", status="Released")]))
    assert broken == {"invalid_orders_in_exception_queue", "nothing_at_seko_not_released"}
    assert all(names(found, "SO-4") for found in failures.values())


def test_a_quarantined_seko_dispatch_with_no_exception_is_neither_taken_nor_explained():
    seen = clean_run()
    broken, failures = broken_by(replace(seen, open_exception_kinds=_open(seen, "dispatch:D-2", None)))
    assert broken == {"every_seko_dispatch_taken", "incomplete_dispatches_in_exception_queue"}
    assert all(names(found, "SO-2") for found in failures.values())


def test_the_report_figures_show_resends_refusals_and_reposts():
    seen = clean_run()
    figures = scenario.exactly_once_figures(seen.submit_attempts, seen.order_status, seen.duplicate_posts_refused)
    assert figures == {"seko": {"max_submit_attempts": 2, "duplicate_refusals": 1},
                       "orders": {"wrongly_rejected": 0}, "bluecherry": {"duplicate_posts_refused": 1}}
    rejected = {**seen.order_status, "SO-3": "rejected"}
    assert scenario.exactly_once_figures(seen.submit_attempts, rejected, 0)["orders"] == {"wrongly_rejected": 1}
    assert scenario.wrongly_rejected(seen.submit_attempts, rejected) == ["SO-3"]


def test_the_bench_calls_it_exactly_once_only_when_each_order_is_held_and_accepted_once():
    held = Counter({"SO-1": 1, "SO-2": 1})
    resent = {"SO-1": attempts(), "SO-2": attempts(count=3, duplicate=2)}
    assert exactly_once(held, resent, expected=2)
    assert not exactly_once(held, resent, expected=3)  # one never reached Seko
    assert not exactly_once(Counter({"SO-1": 2, "SO-2": 1}), resent, expected=2)  # held twice
    assert not exactly_once(held, {**resent, "SO-1": attempts(count=2, accepted=2)}, expected=2)  # accepted twice


# --- What a run planted (demo.chaos_plants) -------------------------------------------------------

PLANT_INVARIANTS = ["each_cancel_reached_seko_once_or_was_refused_into_the_queue",
                    "each_stock_adjustment_applied_once", "each_reconciliation_difference_found_and_nothing_else"]


def cancel_calls(cancelled: int = 0, repeated: int = 0, refused: int = 0) -> dict[str, int]:
    return {"cancelled": cancelled, "repeated": repeated, "refused": refused}


def planted_run() -> Evidence:
    """The clean run with plants that all came out right: SO-5 cancelled in Blue Cherry while Seko
    had it To Be Picked (cancelled there by one call; a resend after a lost reply only counted);
    SO-6 cancelled once Seko had picked it (refused, queued for CX, shipped and posted); three
    adjustments (one in Quarantine, one whose push Seko dropped); three differences planted in
    Blue Cherry, each found, beside the one SO-2's quarantined dispatch makes real."""
    seen = clean_run()
    return replace(
        seen,
        released=seen.released | {"SO-5", "SO-6"},
        seko_orders=[*seen.seko_orders,
                     {**at_seko("SO-5", status="Cancelled"), "cancel_attempts": cancel_calls(cancelled=1, repeated=1)},
                     {**at_seko("SO-6"), "cancel_attempts": cancel_calls(refused=1)}],
        submit_attempts={**seen.submit_attempts, "SO-5": attempts(), "SO-6": attempts()},
        shipments=[*seen.shipments, {"ord_num": "SO-6"}],
        invoices=[*seen.invoices, {"ord_num": "SO-6"}],
        pushes=[*seen.pushes, {"status": "delivered", "record": {"InterfaceRecordId": "P-A1"}},
                {"status": "delivered", "record": {"InterfaceRecordId": "P-A2"}},
                {"status": "dropped", "record": {"InterfaceRecordId": "P-A3"}}],
        stored_push_ids=seen.stored_push_ids | {"P-A1", "P-A2"},
        order_status={**seen.order_status, "SO-5": "cancelled", "SO-6": "dispatched"},
        dispatches=[*seen.dispatches, OurDispatch("D-6", "SO-6", "posted", complete=True)],
        open_exception_kinds={**seen.open_exception_kinds, "order:SO-6": {"order.cancel_refused"}},
        cancels_planted=[PlantedCancel("SO-5", past_picking=False), PlantedCancel("SO-6", past_picking=True)],
        adjustments_planted=[PlantedAdjustment("P-A1", "I-1/L-1", "SKU-A", "Available Stock", 3, 3),
                             PlantedAdjustment("P-A2", "I-2/L-1", "SKU-B", "Quarantine", 2, 0),
                             PlantedAdjustment("P-A3", "I-3/L-1", "SKU-C", "Available Stock", -1, -1)],
        stock_movements={"I-1/L-1": [3], "I-2/L-1": [0]},
        differences_planted=[PlantedDifference("SO-1", "value_mismatch", "invoice edited"),
                             PlantedDifference("SO-3", "quantity_mismatch", "shipment edited"),
                             PlantedDifference("SO-4", "invoiced_not_shipped", "invoice raised by hand", "IN-9")],
        differences_found={("SO-1", "value_mismatch"), ("SO-3", "quantity_mismatch"),
                           ("SO-4", "invoiced_not_shipped"), ("SO-2", "dispatched_not_shipped")},
    )


def test_a_run_whose_plants_all_came_out_right_breaks_nothing():
    assert broken_by(planted_run()) == (set(), {})


def _seko_row(seen: Evidence, ord_num: str, **changes: Any) -> list[dict[str, Any]]:
    return [{**o, **changes} if o["SalesOrderNumber"] == ord_num else o for o in seen.seko_orders]


def _found(seen: Evidence, *, without: tuple[str, str] | None = None,
           adding: tuple[str, str] | None = None) -> set[tuple[str, str]]:
    return (seen.differences_found - {without}) | ({adding} if adding else set())


PLANT_VIOLATIONS: list[tuple[str, Any, str]] = [
    # A cancel made before picking: never passed on, passed on twice, or taken as refused.
    ("each_cancel_reached_seko_once_or_was_refused_into_the_queue",
     lambda s: {"seko_orders": _seko_row(s, "SO-5", Status="To Be Picked", cancel_attempts=cancel_calls()),
                "order_status": {**s.order_status, "SO-5": "sent"}}, "SO-5"),
    ("each_cancel_reached_seko_once_or_was_refused_into_the_queue",
     lambda s: {"seko_orders": _seko_row(s, "SO-5", cancel_attempts=cancel_calls(cancelled=2))}, "SO-5"),
    ("each_cancel_reached_seko_once_or_was_refused_into_the_queue",
     lambda s: {"order_status": {**s.order_status, "SO-5": "cancel_refused"},
                "open_exception_kinds": _open(s, "order:SO-5", {"order.cancel_refused"})}, "SO-5"),
    # A cancel made once Seko had picked: cancelled there after all, or refused without telling CX.
    ("each_cancel_reached_seko_once_or_was_refused_into_the_queue",
     lambda s: {"seko_orders": _seko_row(s, "SO-6", Status="Cancelled", cancel_attempts=cancel_calls(cancelled=1)),
                "order_status": {**s.order_status, "SO-6": "cancelled"}}, "SO-6"),
    ("each_cancel_reached_seko_once_or_was_refused_into_the_queue",
     lambda s: {"open_exception_kinds": _open(s, "order:SO-6", None)}, "SO-6"),
    # A delivered adjustment never applied, applied twice, or applied to what may be sold when held.
    ("each_stock_adjustment_applied_once", lambda s: {"stock_movements": {"I-2/L-1": [0]}}, "SKU-A"),
    ("each_stock_adjustment_applied_once",
     lambda s: {"stock_movements": {**s.stock_movements, "I-1/L-1": [3, 3]}}, "SKU-A"),
    ("each_stock_adjustment_applied_once",
     lambda s: {"stock_movements": {**s.stock_movements, "I-2/L-1": [2]}}, "SKU-B"),
    ("each_stock_adjustment_applied_once",
     lambda s: {"stock_movements": {**s.stock_movements, "I-3/L-1": [1]}}, "SKU-C"),
    # A planted difference missed or found as another kind; anything found that was not planted.
    ("each_reconciliation_difference_found_and_nothing_else",
     lambda s: {"differences_found": _found(s, without=("SO-1", "value_mismatch"))}, "SO-1"),
    ("each_reconciliation_difference_found_and_nothing_else",
     lambda s: {"differences_found": _found(s, without=("SO-4", "invoiced_not_shipped"),
                                            adding=("SO-4", "invoiced_twice"))}, "SO-4"),
    ("each_reconciliation_difference_found_and_nothing_else",
     lambda s: {"differences_found": _found(s, adding=("SO-3", "value_mismatch"))}, "SO-3"),
    ("each_reconciliation_difference_found_and_nothing_else",
     lambda s: {"differences_found": _found(s, adding=("SO-5", "shipped_not_invoiced"))}, "SO-5"),
    # Only a dispatch we hold quarantined is truly not shipped: SO-6's was posted.
    ("each_reconciliation_difference_found_and_nothing_else",
     lambda s: {"differences_found": _found(s, adding=("SO-6", "dispatched_not_shipped"))}, "SO-6"),
]


@pytest.mark.parametrize(("name", "plant", "key"), PLANT_VIOLATIONS,
                         ids=[f"{name}-{index}" for index, (name, _, _) in enumerate(PLANT_VIOLATIONS)])
def test_a_plant_that_came_out_wrong_breaks_its_invariant_alone(name, plant, key):
    assert_breaks_alone(planted_run(), name, plant, key)


@pytest.mark.parametrize("name", PLANT_INVARIANTS)
def test_a_run_that_planted_nothing_holds_the_plant_invariants(name):
    assert name in INVARIANT_NAMES and judge(clean_run())[0][name] is True
