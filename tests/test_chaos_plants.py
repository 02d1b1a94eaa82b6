"""The chaos run's plants against the real simulators (over HTTP) and a little real flow work:
each plants what it says, drawn from the seed, and the run's checker judges what came of it on
evidence gathered from both simulators and our database."""

from __future__ import annotations

import pytest
from django_q.brokers import get_broker

from demo.chaos_invariants import gather_evidence, judge
from demo.chaos_plants import (
    Planted,
    cancels_settled,
    plant_cancels,
    plant_reconciliation_differences,
    plant_stock_adjustments,
)
from integration.models import Dispatch, Order, StockMovement
from integration.shared.systems import seko_client
from tests.factories import BlueCherryOrderFactory, LineFactory
from tests.test_dispatch_flow import dispatch_at_seko, push_outbox, push_settings, take_in  # noqa: F401
from tests.test_order_flow import SKUS, release, run_flow, seko_orders, world  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db

Status = Order.Status
SEED = 7
PLANT_INVARIANTS = ("each_cancel_reached_seko_once_or_was_refused_into_the_queue",
                    "each_stock_adjustment_applied_once", "each_reconciliation_difference_found_and_nothing_else")


def sent_orders(bluecherry, count: int) -> list[str]:
    """``count`` valid orders released in Blue Cherry and sent to Seko by the order flow."""
    ord_nums = [f"SO-P{n}" for n in range(1, count + 1)]
    release(bluecherry, *[BlueCherryOrderFactory(ord_num=o, lines=[LineFactory(line_no=1, sku=SKUS[n % len(SKUS)])])
                          for n, o in enumerate(ord_nums)])
    run_flow()
    assert set(Order.objects.filter(status=Status.SENT).values_list("ord_num", flat=True)) == set(ord_nums)
    return ord_nums


def taken_in(client, seko) -> None:
    """Seko's pending pushes delivered to our webhook twice (the second a repeat) and processed."""
    pending = [p for p in seko.control("GET", "_sim/pushes")["pushes"] if p["status"] == "pending"]
    push_outbox(client, pending)
    push_outbox(client, pending)
    take_in()


def test_cancels_are_planted_before_and_after_picking_and_the_flow_passes_each_on_once(world):
    bluecherry, seko = world
    sent_orders(bluecherry, 4)
    planted = plant_cancels(bluecherry, seko, SEED, count=4)
    assert len(planted) == 4 and [c.past_picking for c in planted] == [False, True, False, True]
    at_seko = seko_orders(seko)
    for cancel in planted:
        assert bluecherry.control("GET", f"_sim/orders/{cancel.ord_num}")["status"] == "CANCELLED"
        assert at_seko[cancel.ord_num]["Status"] == ("Pick Complete" if cancel.past_picking else "To Be Picked")
    assert not cancels_settled(planted)

    run_flow()
    run_flow()  # nothing passed on twice
    assert cancels_settled(planted)
    at_seko = seko_orders(seko)
    for cancel in planted:
        calls = at_seko[cancel.ord_num]["cancel_attempts"]
        if cancel.past_picking:
            assert calls == {"cancelled": 0, "repeated": 0, "refused": 1}
            assert Order.objects.get(ord_num=cancel.ord_num).status == Status.CANCEL_REFUSED
        else:
            assert calls == {"cancelled": 1, "repeated": 0, "refused": 0}
            assert at_seko[cancel.ord_num]["Status"] == "Cancelled"

    # A cancel sent again (its reply lost) finds the order cancelled: counted, not cancelled twice.
    again = next(c.ord_num for c in planted if not c.past_picking)
    with seko_client() as seko_api:
        seko_api.cancel_order(again, "001")
    assert seko_orders(seko)[again]["cancel_attempts"] == {"cancelled": 1, "repeated": 1, "refused": 0}


def test_the_same_seed_plants_the_same_adjustments_and_each_is_applied_once(world, client):
    bluecherry, seko = world
    sent_orders(bluecherry, 3)
    first = plant_stock_adjustments(seko, SEED, count=3)
    second = plant_stock_adjustments(seko, SEED, count=3)

    def story(planted):
        return [(a.sku, a.location_type, a.quantity) for a in planted]

    assert len(first) == 3 and story(first) == story(second)
    assert {a.location_type for a in first} == {"Available Stock", "Quarantine"}
    assert all(a.sellable_delta == (a.quantity if a.location_type == "Available Stock" else 0) for a in first)
    taken_in(client, seko)
    applied = dict(StockMovement.objects.values_list("identity", "delta"))
    assert applied == {a.identity: a.sellable_delta for a in first + second}


def test_the_plants_are_judged_on_what_the_simulators_and_we_ended_with(world, client):
    """A small run by hand: orders sent, cancels planted and passed on, the warehouse dispatches
    (the refused cancel ships), adjustments pushed, differences planted in Blue Cherry; then the
    evidence is gathered (the reconciliation run over it) and every invariant holds."""
    bluecherry, seko = world
    ord_nums = sent_orders(bluecherry, 6)
    release(bluecherry, BlueCherryOrderFactory(ord_num="SO-PX", ship_via="ZZFAST"))  # held here: unknown carrier
    planted = Planted(cancels=plant_cancels(bluecherry, seko, SEED, count=2))
    run_flow()
    assert cancels_settled(planted.cancels)
    push_outbox(client, dispatch_at_seko(seko))
    take_in()
    refused = next(c.ord_num for c in planted.cancels if c.past_picking)
    assert Dispatch.objects.get(ord_num=refused).status == Dispatch.Status.POSTED
    planted.adjustments = plant_stock_adjustments(seko, SEED, count=2)
    taken_in(client, seko)
    planted.differences = plant_reconciliation_differences(bluecherry, SEED,
                                                           avoid={c.ord_num for c in planted.cancels})
    assert sorted(d.kind for d in planted.differences) == ["invoiced_not_shipped", "invoiced_twice",
                                                           "quantity_mismatch", "value_mismatch"]
    assert next(d.ord_num for d in planted.differences if d.kind == "invoiced_not_shipped") == "SO-PX"

    generated = {"ord_nums": [*ord_nums, "SO-PX"], "faults": {"bad_ship_via": ["SO-PX"]}}
    # No worker runs in this test: the kicks the flows and the webhook enqueued stay in the broker
    # (whether one is there depends on the clock: the webhook kicks at most once a second).
    get_broker().purge_queue()
    seen = gather_evidence(bluecherry, seko, generated, broker_wait_s=0, planted=planted)
    assert seen.differences_found == {(d.ord_num, d.kind) for d in planted.differences}
    invariants, failures = judge(seen)
    assert failures == {} and all(invariants[name] for name in PLANT_INVARIANTS)

    # Had the cancels never been passed on, the checker says which.
    Order.objects.filter(ord_num__in=[c.ord_num for c in planted.cancels]).update(status=Status.SENT)
    _, failures = judge(gather_evidence(bluecherry, seko, generated, broker_wait_s=0))
    assert "each_cancel_reached_seko_once_or_was_refused_into_the_queue" not in failures  # nothing planted
    _, failures = judge(gather_evidence(bluecherry, seko, generated, broker_wait_s=0, planted=planted))
    assert {f.split(":")[0] for f in failures["each_cancel_reached_seko_once_or_was_refused_into_the_queue"]} \
        == {c.ord_num for c in planted.cancels}
