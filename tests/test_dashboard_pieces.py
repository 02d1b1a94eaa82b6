"""Pure pieces of the dashboard: the chart, secret masking, the nav, the URL walk."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from integration.overview.charts import Series, hourly_bars_svg
from integration.shared.navigation import NavItem
from integration.shared.redaction import mask_secrets, pretty
from integration.shared.url_walk import _regex_sample


def test_the_chart_draws_one_bar_per_hour_and_series_scaled_to_the_peak():
    hours = [datetime(2026, 11, 27, tzinfo=UTC) + timedelta(hours=i) for i in range(4)]
    svg = hourly_bars_svg(hours, [Series("sent", "series-sent", [0, 2, 4, 1]),
                                  Series("dispatched", "series-dispatched", [0, 1, 4, 0])])
    assert svg.count("<rect") == 8
    assert 'class="tick" x="32" y="18" text-anchor="end">4<' in svg  # the y-axis shows the peak
    assert "27 Nov 02:00 sent: 4" in svg


def test_the_chart_refuses_a_series_of_the_wrong_length():
    with pytest.raises(ValueError, match="one value per hour"):
        hourly_bars_svg([datetime(2026, 1, 1, tzinfo=UTC)], [Series("x", "y", [1, 2])])


def test_the_chart_escapes_labels():
    svg = hourly_bars_svg([datetime(2026, 1, 1, tzinfo=UTC)], [Series("<b>", "x", [1])])
    assert "<b>" not in svg and "&lt;b&gt;" in svg


@pytest.mark.parametrize(("text", "secret"), [
    ('{"api_key": "abc123", "ok": 1}', "abc123"),
    ('{"Password":"hunter2"}', "hunter2"),
    ("GET /api/x?a=1&api_key=abc123&b=2", "abc123"),
    ("Authorization: Token abc123\nX: y", "abc123"),
    ('{"subscription-key": "abc123"}', "abc123"),
])
def test_secrets_are_masked_in_json_queries_and_headers(text, secret):
    masked = mask_secrets(text)
    assert secret not in masked and "***" in masked


def test_pretty_indents_json_and_leaves_other_text_alone():
    assert pretty('{"a":1}') == '{\n  "a": 1\n}'
    assert pretty("<xml/>") == "<xml/>"


def test_a_nav_item_with_an_unknown_capability_is_refused_at_import():
    with pytest.raises(KeyError, match="unknown capability"):
        NavItem("Oops", "home", "no_such_capability")


def test_the_url_walk_builds_sample_paths_for_regex_patterns():
    pattern = r"^orders/(?P<ord_num>[^/]+)/retransmit\.(?P<format>[a-z0-9]+)/?$"
    assert _regex_sample(pattern) == "orders/1/retransmit.json/"
    assert _regex_sample(r"^(?P<app_label>auth|integration)/$") == "auth/"
