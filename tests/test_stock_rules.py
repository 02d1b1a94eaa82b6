"""The stock arithmetic, without a database: buffer, published figure, deltas, adjustments."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from integration.stock import rules as stock_rules
from integration.stock.rules import BadAdjustment, BufferParams

PARAMS = BufferParams(lag_hours=0.25, safety=2.0, minimum=1, maximum=20)


def test_the_buffer_is_velocity_times_lag_times_safety_rounded_up():
    # 10 units/hour x 15 minutes x 2 = 5 units
    assert stock_rules.buffer_for(10.0, PARAMS) == (5, "velocity")
    assert stock_rules.buffer_for(10.1, PARAMS) == (6, "velocity")


def test_the_buffer_is_clamped_to_the_configured_minimum_and_maximum():
    assert stock_rules.buffer_for(0.0, PARAMS) == (1, "minimum")
    assert stock_rules.buffer_for(1000.0, PARAMS) == (20, "maximum")


def test_a_per_sku_override_wins_and_is_not_clamped():
    assert stock_rules.buffer_for(1000.0, PARAMS, override=50) == (50, "override")
    assert stock_rules.buffer_for(1000.0, PARAMS, override=0) == (0, "override")


def test_floating_point_noise_does_not_add_a_unit():
    params = BufferParams(lag_hours=3.0, safety=10.0, minimum=0, maximum=100)
    assert stock_rules.buffer_for(0.1, params) == (3, "velocity")


def test_lag_is_our_push_interval_plus_blue_cherrys_batch_cycle():
    assert stock_rules.lag_hours(5, 10) == 0.25


def test_velocity_is_units_per_hour_over_the_window():
    assert stock_rules.velocity(12, 6.0) == 2.0
    assert stock_rules.velocity(0, 6.0) == 0.0
    assert stock_rules.velocity(5, 0.0) == 0.0


def test_published_available_is_never_negative():
    assert stock_rules.published_available(3, 5) == 0
    assert stock_rules.published_available(-4, 0) == 0
    assert stock_rules.published_available(10, 3) == 7


@given(free=st.integers(-1000, 100_000), velocity=st.floats(0, 10_000, allow_nan=False),
       lag=st.floats(0, 24, allow_nan=False), safety=st.floats(0, 5, allow_nan=False),
       minimum=st.integers(0, 50), extra=st.integers(0, 500))
def test_the_published_figure_stays_within_its_bounds(free, velocity, lag, safety, minimum, extra):
    params = BufferParams(lag_hours=lag, safety=safety, minimum=minimum, maximum=minimum + extra)
    figure = stock_rules.figure(free, velocity, params)
    assert params.minimum <= figure.buffer <= params.maximum
    assert 0 <= figure.available <= max(0, free)
    assert figure.available == max(0, free - figure.buffer)
    if figure.reason == "velocity":
        assert figure.buffer == math.ceil(round(velocity * lag * safety, 9))


@given(st.floats(0, 1000, allow_nan=False), st.floats(0, 1000, allow_nan=False))
def test_a_faster_seller_never_gets_a_smaller_buffer(a, b):
    slow, fast = sorted([a, b])
    assert stock_rules.buffer_for(slow, PARAMS)[0] <= stock_rules.buffer_for(fast, PARAMS)[0]


def test_bad_buffer_bounds_are_refused_with_a_clear_message():
    with pytest.raises(ValueError, match="min <= max"):
        BufferParams(lag_hours=1, safety=1, minimum=5, maximum=2)


def test_plan_uses_each_skus_own_sales_and_overrides():
    figures = stock_rules.plan({"A": 10, "B": 10, "C": 10}, {"A": 60}, 6.0, PARAMS, {"C": 4})
    assert figures["A"].buffer == 5 and figures["A"].available == 5  # 10/h x 0.25 h x 2
    assert figures["B"].buffer == 1 and figures["B"].reason == "minimum"
    assert figures["C"].buffer == 4 and figures["C"].reason == "override"


def test_only_changed_figures_are_sent():
    assert stock_rules.changed({"A": 5, "B": 3, "C": 0}, {"A": 5, "B": 4}) == {"B": 3, "C": 0}


@given(st.lists(st.integers(), max_size=300), st.integers(1, 50))
def test_chunks_keep_every_item_once_in_order_and_respect_the_size(items, size):
    chunks = list(stock_rules.chunked(items, size))
    assert [x for chunk in chunks for x in chunk] == items
    assert all(0 < len(chunk) <= size for chunk in chunks)


def test_drift_is_reported_only_beyond_the_tolerance():
    assert stock_rules.drift(10, 12, 2) is None
    assert stock_rules.drift(10, 13, 2) == 3
    assert stock_rules.drift(10, 7, 2) == -3


def adjustment(**overrides):
    fields = {"InterfaceRecordId": "880001", "SequenceNumber": 4, "MessagePart": 1, "ProductCode": "A",
              "DCCode": "DCCL01", "Quantity": -3, "Reason": "Damaged", "AdjustmentDate": "2026-11-27T10:00:00Z"}
    fields.update(overrides)
    return fields


def test_an_adjustment_is_read_with_its_identity_and_signed_delta():
    parsed = stock_rules.parse_adjustment(adjustment())
    assert parsed.identity == "880001/4/1"
    assert (parsed.sku, parsed.dc_code, parsed.delta, parsed.reason) == ("A", "DCCL01", -3, "Damaged")
    assert parsed.adjusted_at.isoformat() == "2026-11-27T10:00:00+00:00"


def test_an_adjustment_quantity_given_as_text_or_float_is_read():
    assert stock_rules.parse_adjustment(adjustment(Quantity="5")).delta == 5
    assert stock_rules.parse_adjustment(adjustment(Quantity=5.0)).delta == 5


@pytest.mark.parametrize(("change", "message"), [
    ({"ProductCode": None}, "ProductCode is missing"),
    ({"DCCode": ""}, "DCCode is missing"),
    ({"Quantity": "lots"}, "not a whole number"),
    ({"Quantity": 1.5}, "not a whole number"),
    ({"Quantity": None}, "Quantity is missing"),
    ({"InterfaceRecordId": None}, "repeat could not be recognised"),
    ({"AdjustmentDate": "yesterday"}, "not an ISO 8601 time"),
])
def test_an_unreadable_adjustment_is_refused_with_a_clear_message(change, message):
    with pytest.raises(BadAdjustment, match=message):
        stock_rules.parse_adjustment(adjustment(**change))


def test_net_deltas_sum_per_sku_and_dc():
    parsed = [stock_rules.parse_adjustment(adjustment(InterfaceRecordId=str(i), Quantity=q, ProductCode=p))
              for i, (p, q) in enumerate([("A", -3), ("A", 5), ("B", 2)])]
    assert stock_rules.net_deltas(parsed) == {("A", "DCCL01"): 2, ("B", "DCCL01"): 2}
