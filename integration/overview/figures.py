"""What the overview shows: per-flow health, open exceptions by kind and owner, orders sent vs
dispatched per hour, the oldest open problems. A fixed number of queries whatever the volume."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Count, Q
from django.utils import timezone

from exceptions import catalogue
from exceptions.holds import HELD_ORDER_STATUSES
from exceptions.models import IntegrationException
from integration.models import ORDER_DOCUMENT_VIA_RELATION, Order, SyncCursor
from integration.orders.status_counts import ORDERS_BY_STATUS
from integration.overview.charts import Series, hourly_bars_svg
from integration.shared import flow_schedule, recovery, retention

CHART_HOURS = 48
# Rows that coordinate workers (when a drain or a heartbeat was last asked for, refused pushes last
# reported, a system's outage mark), not flows; the workers' own heartbeat has its line above the flows.
COORDINATION_CURSORS = {"dispatches.kick", "orders.heartbeat", "push.refused", "workers.heartbeat",
                        *recovery.OUTAGE_CURSORS}
DIGEST_PREFIX = "digest."  # one cursor per role: when its last email digest went
OLDEST_SHOWN = 8

# The backlog a flow's row shows beside its health: (label, key of backlog_counts()).
BACKLOGS = {
    "orders.released": ("waiting to be sent", "waiting"),
    "orders.cancelled": ("to pass to Seko", "cancels_owed"),
    "dispatches.sync": ("sent, awaiting dispatch", "awaiting_dispatch"),
}


@dataclass
class FlowHealth:
    name: str
    last_success: datetime | None
    lag: timedelta | None
    state: str  # a FlowState, or "n/a" for work that has no schedule of its own
    backlog: int | None
    backlog_label: str
    last_error: str = ""
    every: str = ""  # its schedule in words ("1 min", "6 h"), "" when it has none
    note: str = ""  # shown instead of the last success where the flow is not judged by time


def backlog_counts() -> dict[str, int]:
    s = Order.Status
    # Issue 9: only orders in flight can be backlog; filtering to their statuses first lets the
    # status index skip the settled history (a full scan of a million orders was ~0.4 s).
    return Order.objects.filter(status__in=[s.RECEIVED, s.SENDING, s.QUARANTINED, s.REJECTED, s.SENT]).aggregate(
        waiting=Count("id", filter=Q(status__in=[s.RECEIVED, s.SENDING])),
        held=Count("id", filter=Q(status__in=HELD_ORDER_STATUSES)),
        pick_tickets_owed=Count("id", filter=Q(status=s.SENT, pick_ticket_at__isnull=True)),
        cancels_owed=Count("id", filter=Q(status=s.SENT, cancel_requested_at__isnull=False)),
        awaiting_dispatch=Count("id", filter=Q(status=s.SENT, dispatched_at__isnull=True)),
    )


def flow_health(now: datetime | None = None) -> tuple[list[FlowHealth], dict[str, int]]:
    """Each scheduled flow judged against its own schedule by the rule ``sync.stalled`` uses
    (integration/shared/flow_schedule.py), so a red dot here and the alert always agree."""
    now = now or timezone.now()
    cursors = {c.name: c for c in SyncCursor.objects.all()}
    backlog = backlog_counts()
    intervals = flow_schedule.flow_intervals()
    rows: list[FlowHealth] = []
    for flow in flow_schedule.WATCHED_FLOWS:
        cursor = cursors.get(flow.cursor)
        last = cursor.last_success_at if cursor else None
        interval = intervals[flow.cursor]
        state = flow_schedule.judge(last, cursor.last_run_at if cursor else None, interval, now)
        label, key = BACKLOGS.get(flow.cursor, ("", ""))
        rows.append(FlowHealth(flow.label, last, now - last if last else None,
                               state.value, backlog.get(key) if key else None, label,
                               cursor.last_error if cursor else "",
                               every=flow_schedule.in_words(interval.total_seconds() / 60)))
        if flow.cursor == "orders.released":  # pick tickets are told inside the order flow's runs
            rows.append(FlowHealth("Pick tickets to Blue Cherry", None, None, "n/a", backlog.get("pick_tickets_owed"),
                                   "owed", note="follows the order flow"))
    digests = [c for name, c in cursors.items() if name.startswith(DIGEST_PREFIX)]
    if digests:  # sent only when there is something new: silence is not lateness
        sent = [c.last_success_at for c in digests if c.last_success_at]
        last = max(sent) if sent else None
        rows.append(FlowHealth("Email digests", last, now - last if last else None, "n/a", None, "",
                               next((c.last_error for c in digests if c.last_error), ""),
                               note="sent when there is something new"))
    rows.append(retention_health(cursors.get(retention.CURSOR), now))
    known = set(intervals) | COORDINATION_CURSORS | {retention.CURSOR}
    for name, cursor in sorted(cursors.items()):  # a flow added later shows up, unjudged, until it is listed
        if name in known or name.startswith(DIGEST_PREFIX):
            continue
        last = cursor.last_success_at
        rows.append(FlowHealth(name, last, now - last if last else None, "n/a", None, "", cursor.last_error,
                               note="no schedule known to the overview"))
    return rows, backlog


def retention_health(cursor: SyncCursor | None, now: datetime) -> FlowHealth:
    """The retention job's row: when it last ran and what its last run deleted and masked."""
    summary = retention.summary_of(cursor.last_error if cursor else None)
    last = cursor.last_success_at if cursor else None
    if summary:
        note = (f"last run: {sum(summary.get('deleted', {}).values())} deleted, "
                f"{sum(summary.get('redacted', {}).values())} redacted")
    else:
        note = "has not run yet"
    return FlowHealth("Retention", last, now - last if last else None, "n/a", None, "", summary.get("error", ""),
                      every=flow_schedule.in_words(settings.RETENTION_INTERVAL_MINUTES), note=note)


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


def window_hours(now: datetime) -> list[datetime]:
    """The starts of the chart's UTC hours, oldest first, the last the hour ``now`` is in."""
    end = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return [end - timedelta(hours=CHART_HOURS - 1 - i) for i in range(CHART_HOURS)]


def hourly(field: str, hours: list[datetime]) -> dict[datetime, int]:
    """Orders whose ``field`` falls in each of the UTC hours starting at ``hours`` (those with
    any). One statement of one index range count per hour: on a flash sale's day, 20,000 orders in
    the window, a GROUP BY over each order's hour took 14 ms on SQLite (every row's hour worked out,
    then sorted); counting each hour's range of the index reads the same entries in 2 ms."""
    table = connection.ops.quote_name(Order._meta.db_table)
    column = connection.ops.quote_name(Order._meta.get_field(field).column)
    one_hour = f"(SELECT COUNT(*) FROM {table} WHERE {column} >= %s AND {column} < %s)"
    params = [connection.ops.adapt_datetimefield_value(moment)
              for hour in hours for moment in (hour, hour + timedelta(hours=1))]
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join([one_hour] * len(hours)), params)
        counts = cursor.fetchone()
    return {hour: n for hour, n in zip(hours, counts, strict=True) if n}


def sent_vs_dispatched_chart(now: datetime | None = None) -> tuple[str, int, int]:
    """The SVG, and the totals sent and dispatched over the window."""
    hours = window_hours(now or timezone.now())
    sent, dispatched = hourly("sent_at", hours), hourly("dispatched_at", hours)
    sent_values = [sent.get(h, 0) for h in hours]
    dispatched_values = [dispatched.get(h, 0) for h in hours]
    svg = hourly_bars_svg(hours, [Series("sent", "series-sent", sent_values),
                                  Series("dispatched", "series-dispatched", dispatched_values)])
    return svg, sum(sent_values), sum(dispatched_values)


def oldest_open(limit: int = OLDEST_SHOWN):
    return (IntegrationException.objects.filter(status=IntegrationException.Status.OPEN)
            .select_related("order").defer(*ORDER_DOCUMENT_VIA_RELATION)
            .order_by("first_seen_at", "id")[:limit])


def orders_by_status() -> dict[str, int]:
    """Orders per status, summed from the counter the database keeps (integration/orders/status_counts.py):
    one statement over a few rows instead of a GROUP BY over every order (issue 9)."""
    return ORDERS_BY_STATUS.counts(connection)
