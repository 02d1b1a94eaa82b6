"""What the overview shows: per-flow health, open exceptions by kind and owner, orders sent vs
dispatched per hour, the oldest open problems. A fixed number of queries whatever the volume."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Count, Q
from django.db.models.functions import TruncHour
from django.utils import timezone

from exceptions import catalogue
from exceptions.models import IntegrationException
from integration import status_counts
from integration.charts import Series, hourly_bars_svg
from integration.models import Order, SyncCursor

CHART_HOURS = 48
# Rows that coordinate workers (when a drain or a heartbeat was last asked for), not flows.
COORDINATION_CURSORS = {"dispatches.kick", "orders.heartbeat"}
OLDEST_SHOWN = 8


@dataclass(frozen=True)
class Flow:
    name: str
    cursors: tuple[str, ...]  # the SyncCursor rows whose success says the flow is running
    backlog_label: str
    backlog_key: str  # a key of backlog_counts()


FLOWS = [
    Flow("Item master", ("items",), "", ""),
    Flow("Order injection", ("orders.released",), "waiting to be sent", "waiting"),
    Flow("Pick tickets to Blue Cherry", (), "owed", "pick_tickets_owed"),
    Flow("Cancels", ("orders.cancelled",), "to pass to Seko", "cancels_owed"),
    Flow("Dispatch confirmation", ("dispatches.sync", "dispatches.poll"), "sent, awaiting dispatch",
         "awaiting_dispatch"),
]


@dataclass
class FlowHealth:
    name: str
    last_success: datetime | None
    lag: timedelta | None
    state: str  # "ok" | "late" | "never" | "n/a"
    backlog: int | None
    backlog_label: str
    last_error: str = ""


def backlog_counts() -> dict[str, int]:
    s = Order.Status
    # Issue 9: only orders in flight can be backlog; filtering to their statuses first lets the
    # status index skip the settled history (a full scan of a million orders was ~0.4 s).
    return Order.objects.filter(status__in=[s.RECEIVED, s.SENDING, s.QUARANTINED, s.REJECTED, s.SENT]).aggregate(
        waiting=Count("id", filter=Q(status__in=[s.RECEIVED, s.SENDING])),
        held=Count("id", filter=Q(status__in=[s.QUARANTINED, s.REJECTED])),
        pick_tickets_owed=Count("id", filter=Q(status=s.SENT, pick_ticket_at__isnull=True)),
        cancels_owed=Count("id", filter=Q(status=s.SENT, cancel_requested_at__isnull=False)),
        awaiting_dispatch=Count("id", filter=Q(status=s.SENT, dispatched_at__isnull=True)),
    )


def flow_health(now: datetime | None = None) -> tuple[list[FlowHealth], dict[str, int]]:
    now = now or timezone.now()
    cursors = {c.name: c for c in SyncCursor.objects.all()}
    backlog = backlog_counts()
    # A flow is late when it has not succeeded for three of its intervals.
    late_after = timedelta(minutes=3 * settings.SYNC_INTERVAL_MINUTES)
    rows: list[FlowHealth] = []
    named = set()
    for flow in FLOWS:
        mine = [cursors[n] for n in flow.cursors if n in cursors]
        named.update(flow.cursors)
        successes = [c.last_success_at for c in mine if c.last_success_at]
        last = max(successes) if successes else None
        rows.append(FlowHealth(
            flow.name, last, now - last if last else None,
            "n/a" if not flow.cursors else "never" if last is None else "late" if now - last > late_after else "ok",
            backlog.get(flow.backlog_key) if flow.backlog_key else None, flow.backlog_label,
            next((c.last_error for c in mine if c.last_error), ""),
        ))
    for name, cursor in sorted(cursors.items()):  # flows added later show up without a change here
        if name in named or name in COORDINATION_CURSORS:
            continue
        last = cursor.last_success_at
        rows.append(FlowHealth(name, last, now - last if last else None,
                               "never" if last is None else "late" if now - last > late_after else "ok",
                               None, "", cursor.last_error))
    return rows, backlog


def open_exceptions_by(field: str) -> list[dict]:
    return list(
        IntegrationException.objects.filter(status=IntegrationException.Status.OPEN)
        .values(field).annotate(n=Count("id")).order_by("-n", field)
    )


def kinds_with_titles(rows: list[dict]) -> list[dict]:
    for row in rows:
        kind = catalogue.KINDS.get(row["kind"])
        row["title"] = kind.title if kind else ""
        row["owner"] = kind.owner.value if kind else ""
    return rows


def hourly(field: str, start: datetime) -> dict[datetime, int]:
    rows = (Order.objects.filter(**{f"{field}__gte": start}).annotate(hour=TruncHour(field))
            .values("hour").annotate(n=Count("id")).order_by())
    return {row["hour"]: row["n"] for row in rows}


def sent_vs_dispatched_chart(now: datetime | None = None) -> tuple[str, int, int]:
    """The SVG, and the totals sent and dispatched over the window."""
    now = now or timezone.now()
    end = now.replace(minute=0, second=0, microsecond=0)
    hours = [end - timedelta(hours=CHART_HOURS - 1 - i) for i in range(CHART_HOURS)]
    sent, dispatched = hourly("sent_at", hours[0]), hourly("dispatched_at", hours[0])
    sent_values = [sent.get(h, 0) for h in hours]
    dispatched_values = [dispatched.get(h, 0) for h in hours]
    svg = hourly_bars_svg(hours, [Series("sent", "series-sent", sent_values),
                                  Series("dispatched", "series-dispatched", dispatched_values)])
    return svg, sum(sent_values), sum(dispatched_values)


def oldest_open(limit: int = OLDEST_SHOWN):
    return (IntegrationException.objects.filter(status=IntegrationException.Status.OPEN)
            .select_related("order").order_by("first_seen_at", "id")[:limit])


def orders_by_status() -> dict[str, int]:
    """Orders per status, summed from the counter the database keeps (integration/status_counts.py):
    one statement over a few rows instead of a GROUP BY over every order (issue 9)."""
    return status_counts.counts(connection)
