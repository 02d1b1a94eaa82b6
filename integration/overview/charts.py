"""Small server-rendered charts (inline SVG, no JavaScript, nothing from a CDN)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from html import escape


@dataclass(frozen=True)
class Series:
    label: str
    css_class: str  # colours live in app.css (.series-sent, .series-dispatched)
    values: list[int]


def hourly_bars_svg(hours: list[datetime], series: list[Series], *, width: int = 960, height: int = 220) -> str:
    """Grouped bars, one group per hour, one bar per series; hour labels every 6 hours, a y-axis
    with the maximum. Every number is computed here and every text escaped, so the result is
    safe to insert into a page as it is."""
    if any(len(s.values) != len(hours) for s in series):
        raise ValueError("each series needs one value per hour")
    left, bottom, top = 36, 22, 10
    plot_w, plot_h = width - left - 6, height - bottom - top
    peak = max([1, *(v for s in series for v in s.values)])
    slot = plot_w / max(1, len(hours))
    bar = max(1.0, (slot - 2) / max(1, len(series)))
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" preserveAspectRatio="none" '
        f'aria-label="{escape(" vs ".join(s.label for s in series))} per hour">',
        f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{width - 6}" y2="{top + plot_h}"/>',
        f'<text class="tick" x="{left - 4}" y="{top + 8}" text-anchor="end">{peak}</text>',
        f'<text class="tick" x="{left - 4}" y="{top + plot_h}" text-anchor="end">0</text>',
    ]
    for i, hour in enumerate(hours):
        x0 = left + i * slot + 1
        for j, s in enumerate(series):
            value = s.values[i]
            h = plot_h * value / peak
            parts.append(
                f'<rect class="{escape(s.css_class)}" x="{x0 + j * bar:.1f}" y="{top + plot_h - h:.1f}" '
                f'width="{bar:.1f}" height="{h:.1f}">'
                f"<title>{hour:%d %b %H}:00 {escape(s.label)}: {value}</title></rect>"
            )
        if hour.hour % 6 == 0:
            label = f"{hour:%a %H}:00" if hour.hour == 0 else f"{hour:%H}:00"
            parts.append(f'<text class="tick" x="{x0:.1f}" y="{height - 6}">{label}</text>')
    parts.append("</svg>")
    return "".join(parts)
