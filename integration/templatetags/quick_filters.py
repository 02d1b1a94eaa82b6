"""Django's ``date`` and ``truncatechars`` filters, with the same output at a fraction of the CPU.

Loaded as a template builtin after Django's own (config/settings.py), so these two names resolve
here on every page. Why: the dashboard's lists print two or three dates and a clipped message per
row, and Django formats each date by re-splitting the format string with a regular expression
and calling a method per letter, with a translation lookup for month names, and clips text with
a per-character loop and a translation lookup: together a fifth of a list page's CPU. Pages are
rendered while the workers move a peak day's orders on the same cores, so that CPU is latency.

Each filter takes a fast path only where its output is provably Django's (the tests compare the
two over generated values) and hands everything else to Django: other format letters, escaped
characters, named formats (``"SHORT_DATE_FORMAT"``), non-ASCII text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date as Date
from datetime import datetime
from functools import lru_cache

from django import template
from django.template import defaultfilters
from django.utils.dates import MONTHS_3, WEEKDAYS_ABBR
from django.utils.formats import FORMAT_SETTINGS
from django.utils.translation import get_language

register = template.Library()

# Django's own split (django/utils/dateformat.py): format letters not preceded by a backslash.
_FORMAT_LETTERS = re.compile(r"(?<!\\)([aAbcdDeEfFgGhHiIjlLmMnNoOPrsStTUuwWyYzZ])")


@lru_cache(maxsize=64)
def _month_name(language: str, month: int) -> str:
    return MONTHS_3[month].title()


@lru_cache(maxsize=64)
def _weekday_name(language: str, weekday: int) -> str:
    return str(WEEKDAYS_ABBR[weekday])


# What each letter prints, as django.utils.dateformat's methods of the same name print it.
_DATE_LETTERS: dict[str, Callable[[Date], str]] = {
    "Y": lambda v: f"{v.year:04d}",
    "y": lambda v: f"{v.year % 100:02d}",
    "m": lambda v: f"{v.month:02d}",
    "n": lambda v: str(v.month),
    "d": lambda v: f"{v.day:02d}",
    "j": lambda v: str(v.day),
    "M": lambda v: _month_name(get_language(), v.month),
    "D": lambda v: _weekday_name(get_language(), v.weekday()),
}
_TIME_LETTERS: dict[str, Callable[[datetime], str]] = {
    "H": lambda v: f"{v.hour:02d}",
    "G": lambda v: str(v.hour),
    "i": lambda v: f"{v.minute:02d}",
    "s": lambda v: f"{v.second:02d}",
    "c": lambda v: v.isoformat(),
}

Piece = Callable[[datetime], str] | str


@lru_cache(maxsize=128)
def compiled(format_string: str) -> tuple[tuple[Piece, ...], bool] | None:
    """The format as literal text and letter functions, and whether it prints a time; None when
    it uses anything the fast path does not print exactly as Django does (an empty format is
    Django's default, DATE_FORMAT)."""
    if not format_string or "\\" in format_string or format_string in FORMAT_SETTINGS:
        return None
    pieces: list[Piece] = []
    has_time = False
    for index, piece in enumerate(_FORMAT_LETTERS.split(format_string)):
        if index % 2:
            letter = _DATE_LETTERS.get(piece) or _TIME_LETTERS.get(piece)
            if letter is None:
                return None
            has_time = has_time or piece in _TIME_LETTERS
            pieces.append(letter)
        elif piece:
            pieces.append(piece)
    return tuple(pieces), has_time


@register.filter(expects_localtime=True, is_safe=False)
def date(value: object, arg: str | None = None) -> str:
    """Django's ``date`` filter (same arguments, same output)."""
    plan = compiled(arg) if isinstance(arg, str) and isinstance(value, Date) else None
    if plan is None or (plan[1] and not isinstance(value, datetime)):
        return defaultfilters.date(value, arg)
    return "".join(piece if isinstance(piece, str) else piece(value) for piece in plan[0])


@register.filter(is_safe=True)
def truncatechars(value: object, arg: object) -> str:
    """Django's ``truncatechars`` filter (same arguments, same output): ASCII text has no
    combining characters and no normalisation to do, so it is clipped by length."""
    if not isinstance(value, str) or not value.isascii():
        return defaultfilters.truncatechars(value, arg)
    try:
        length = int(arg)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return value
    if length <= 0:
        return ""
    if len(value) <= length:
        return value
    return value[: length - 1] + "…"
