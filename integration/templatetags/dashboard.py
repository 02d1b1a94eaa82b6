"""Small template filters the dashboard's pages share."""

from __future__ import annotations

from datetime import datetime, timedelta

from django import template
from django.utils import timezone

register = template.Library()


@register.filter
def age(value: datetime | None) -> str:
    """How long ago, compactly: "45s", "12m", "3h", "5d"."""
    if value is None:
        return "—"
    return duration(timezone.now() - value)


@register.filter
def duration(value: timedelta | None) -> str:
    if value is None:
        return "—"
    seconds = max(0, int(value.total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400 * 2:
        return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m" if seconds < 36000 else f"{seconds // 3600}h"
    return f"{seconds // 86400}d"
