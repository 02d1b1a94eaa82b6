"""Small template filters the dashboard's pages share."""

from __future__ import annotations

from datetime import datetime, timedelta

from django import template
from django.utils import timezone

from integration.dispatches.overdue_words import duration_in_words

register = template.Library()


@register.filter
def age(value: datetime | None) -> str:
    """How long ago, as a person reads it: "45 s", "12 min", "3 h 20 min", "2 days"."""
    if value is None:
        return "—"
    return duration(timezone.now() - value)


@register.filter
def duration(value: timedelta | None) -> str:
    """A span as a person reads it: "45 s", "12 min", "3 h 20 min", "1 day 4 h", "5 days"."""
    return duration_in_words(value)


@register.filter
def hours(value: float | None) -> str:
    """A number of hours (an SLA) in the same words: 0.1 -> "6 min", 24 -> "1 day", 36 -> "1 day 12 h"."""
    if value is None:
        return "—"
    return duration_in_words(timedelta(hours=float(value)))
