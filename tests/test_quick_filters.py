"""The dashboard's quick ``date`` and ``truncatechars`` filters print exactly what Django's do,
for every date format the templates use and any text, and are the ones the templates get."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from django.template import Context, Engine, Template, defaultfilters
from django.utils import translation
from hypothesis import given, settings
from hypothesis import strategies as st

from integration.templatetags import quick_filters

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
USED_FORMATS = sorted({match.group(2) for path in TEMPLATES.rglob("*.html")
                       for match in re.finditer(r"""\|date:(["'])(.*?)\1""", path.read_text())})
OTHER_FORMATS = ["D j M, H:i", "j/n/y G:i", "Y-m-d\\TH:i", "F jS Y", "N j, Y, P", "SHORT_DATE_FORMAT", "", "l"]


def outcome(filter_function, *args: object) -> object:
    """What a filter returns, or the kind of error it raises (Django refuses time letters for a date)."""
    try:
        return filter_function(*args)
    except Exception as error:  # the comparison is of whatever happens
        return type(error)


moments = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC))


def test_the_templates_use_formats_the_quick_path_prints() -> None:
    assert USED_FORMATS, "no |date: format found in the templates: the pattern above is stale"
    slow = [fmt for fmt in USED_FORMATS if quick_filters.compiled(fmt) is None]
    assert not slow, f"formats the templates use that fall back to Django's filter: {slow}"


@settings(max_examples=300, deadline=None)
@given(moment=moments, fmt=st.sampled_from(USED_FORMATS + OTHER_FORMATS))
def test_date_prints_what_django_prints(moment: datetime, fmt: str) -> None:
    with translation.override("en-gb"):
        assert quick_filters.date(moment, fmt) == defaultfilters.date(moment, fmt)
        assert outcome(quick_filters.date, moment.date(), fmt) == outcome(defaultfilters.date, moment.date(), fmt)


@pytest.mark.parametrize("value", [None, "", "2026-12-03", 5])
def test_date_of_anything_else_is_what_django_makes_of_it(value: object) -> None:
    assert quick_filters.date(value, "Y-m-d") == defaultfilters.date(value, "Y-m-d")


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=200) | st.text(alphabet=st.characters(max_codepoint=127), max_size=200),
       length=st.integers(min_value=-2, max_value=210) | st.sampled_from(["x", "140"]))
def test_truncatechars_prints_what_django_prints(text: str, length: int | str) -> None:
    with translation.override("en-gb"):
        assert quick_filters.truncatechars(text, length) == defaultfilters.truncatechars(text, length)


def test_templates_get_the_quick_filters() -> None:
    engine = Engine.get_default()
    moment = datetime(2026, 12, 3, 15, 4, 5, tzinfo=UTC)
    rendered = engine.from_string('{{ when|date:"Y-m-d H:i" }} {{ text|truncatechars:5 }}').render(
        Context({"when": moment, "text": "abcdefgh"}))
    assert rendered == "2026-12-03 15:04 abcd…"
    parser_filters = Template("", engine=engine).engine.template_builtins[-1].filters
    assert parser_filters["date"] is quick_filters.date
    assert parser_filters["truncatechars"] is quick_filters.truncatechars


def test_a_date_without_a_time_is_left_to_django() -> None:
    assert quick_filters.date(date(2026, 12, 3), "Y-m-d") == "2026-12-03"
    with pytest.raises(TypeError, match="time-related"):
        quick_filters.date(date(2026, 12, 3), "H:i")  # as Django's filter does
