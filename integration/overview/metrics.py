"""The Prometheus scrape at ``/metrics``: every figure is read from the database when scraped.

Why from the database and not from counters kept in memory: the web app runs as several gunicorn
processes and the work happens in django-q2 workers, each its own process, so no single process
sees the pushes, sends and calls; the database does. Each figure is one indexed query (a status
index, or a time index bounded by a recent window), so a scrape stays cheap at a million orders.
The windows are bounded on both sides on purpose: without table statistics (SQLite is never
ANALYZEd here) a one-sided bound let SQLite scan a whole table by another index to save a sort.

Counts of things that happen (pushes, sends, posts, calls) are over the last
``METRICS_WINDOW_MINUTES`` and exported as gauges: rows are deleted by retention, so a count
over all rows would fall, which Prometheus counters must never do. docs/metrics.md lists them.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Max, Q, Sum
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeHistogramMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from exceptions import catalogue
from exceptions.models import IntegrationException
from integration.models import Dispatch, InboundPush, Item, MessageLog, Order, SyncCursor
from integration.overview import figures as overview
from integration.shared import flow_schedule, worker_health

# Upper bounds (ms) of the call-latency buckets: Seko and Blue Cherry answer in tens to hundreds
# of milliseconds when well, and the clients give up after HTTP_READ_TIMEOUT (20 s by default).
LATENCY_BUCKETS_MS = (50, 100, 250, 500, 1000, 2500, 5000, 10000, 20000)

# The Blue Cherry call that posts a dispatch as a shipment: its successes are the dispatches posted.
SHIPMENT_OPERATION = ("bluecherry", "create_shipment")

# What each flow has waiting, by the overview's backlog_counts() key (see backlogs()).
FLOW_BACKLOGS = {
    "orders.released": ("waiting", "orders waiting to be sent to Seko"),
    "pick_tickets": ("pick_tickets_owed", "pick tickets owed to Blue Cherry"),
    "orders.cancelled": ("cancels_owed", "cancels to pass to Seko"),
}


def window() -> timedelta:
    return timedelta(minutes=settings.METRICS_WINDOW_MINUTES)


def flow_metrics(now: datetime) -> Iterator[Metric]:
    """Age of each scheduled flow's last success, and whether it is stalled by the same rule as
    the ``sync.stalled`` alert and the overview's dots (integration/shared/flow_schedule.py)."""
    age = GaugeMetricFamily("bridge_flow_last_success_age_seconds",
                            "Seconds since the flow last succeeded (absent until its first success)",
                            labels=["flow", "label"])
    stalled = GaugeMetricFamily("bridge_flow_stalled",
                                "1 when the flow has gone two of its intervals without a success (sync.stalled)",
                                labels=["flow", "label"])
    interval = GaugeMetricFamily("bridge_flow_interval_seconds", "Seconds between the flow's scheduled runs",
                                 labels=["flow", "label"])
    cursors = {c.name: c for c in SyncCursor.objects.filter(name__in=[f.cursor for f in flow_schedule.WATCHED_FLOWS])}
    intervals = flow_schedule.flow_intervals()
    for flow in flow_schedule.WATCHED_FLOWS:
        cursor = cursors.get(flow.cursor)
        last = cursor.last_success_at if cursor else None
        labels = [flow.cursor, flow.label]
        if last is not None:
            age.add_metric(labels, max((now - last).total_seconds(), 0.0))
        state = flow_schedule.judge(last, cursor.last_run_at if cursor else None, intervals[flow.cursor], now)
        stalled.add_metric(labels, 1.0 if state == flow_schedule.FlowState.LATE else 0.0)
        interval.add_metric(labels, intervals[flow.cursor].total_seconds())
    yield from (age, stalled, interval)


def backlogs() -> dict[str, tuple[int, str]]:
    """What each flow has waiting: {flow: (count, what)}. Each count filters on a status index."""
    orders = overview.backlog_counts()
    found = {flow: (orders[key], what) for flow, (key, what) in FLOW_BACKLOGS.items()}
    found["items"] = (Item.objects.filter(sync_status__in=[Item.SyncStatus.PENDING, Item.SyncStatus.SENDING]).count(),
                      "items waiting to be sent to Seko")
    found["dispatches.sync"] = (
        InboundPush.objects.filter(status__in=[InboundPush.Status.PENDING, InboundPush.Status.PROCESSING]).count()
        + Dispatch.objects.filter(status__in=[Dispatch.Status.RECEIVED, Dispatch.Status.POSTING]).count(),
        "pushes to split and dispatches to post to Blue Cherry")
    found["seko.fulfilment"] = (orders["awaiting_dispatch"], "orders at Seko not yet dispatched")
    return found


def backlog_metric() -> Metric:
    family = GaugeMetricFamily("bridge_flow_backlog", "Work waiting for the flow, now", labels=["flow", "what"])
    for flow, (count, what) in backlogs().items():
        family.add_metric([flow, what], count)
    return family


def open_exceptions_metric() -> Metric:
    family = GaugeMetricFamily("bridge_open_exceptions", "Open exceptions in the queue, by kind and owner",
                               labels=["kind", "owner"])
    rows = (IntegrationException.objects.filter(status=IntegrationException.Status.OPEN)
            .values("kind", "owner").annotate(n=Count("id")).order_by("kind", "owner"))
    for row in rows:
        family.add_metric([row["kind"], row["owner"]], row["n"])
    return family


def push_metrics(since: datetime, now: datetime) -> Iterator[Metric]:
    received = GaugeMetricFamily("bridge_pushes_received_window",
                                 "Pushes Seko delivered with the right token in the window, by what became of them",
                                 labels=["status"])
    counts = dict(InboundPush.objects.filter(received_at__range=(since, now)).values_list("status")
                  .annotate(n=Count("id")).order_by())
    for status in InboundPush.Status.values:
        received.add_metric([status], counts.get(status, 0))
    yield received
    # Pushes refused with 401 are not stored (a stranger could send millions): their running total
    # lives on the open push.unauthorized exception, reported at most once a minute.
    problems = (IntegrationException.objects.filter(kind=catalogue.PUSH_UNAUTHORIZED.code,
                                                    status=IntegrationException.Status.OPEN)
                .values_list("problems", flat=True).first())
    refused = problems[0].get("refused_total", 0) if problems else 0
    yield GaugeMetricFamily("bridge_pushes_refused_unauthorized",
                            "Pushes refused with 401 (wrong token or signature) since push.unauthorized opened; "
                            "0 while it is closed", value=refused)


def remote_call_metrics(since: datetime, now: datetime) -> Iterator[Metric]:
    """Seko and Blue Cherry calls in the window by system and operation: latency buckets, failures
    by reason, and the shipments posted. One GROUP BY over the window's rows (created_at index)."""
    buckets = {f"le_{bound}": Count("id", filter=Q(duration_ms__lte=bound)) for bound in LATENCY_BUCKETS_MS}
    rows = (MessageLog.objects.filter(created_at__range=(since, now), direction=MessageLog.Direction.OUT)
            .values("system", "operation")
            .annotate(calls=Count("id"), total_ms=Sum("duration_ms"), slowest_ms=Max("duration_ms"),
                      unreachable=Count("id", filter=Q(status_code__isnull=True)),
                      server_error=Count("id", filter=Q(status_code__gte=500)),
                      refused=Count("id", filter=Q(status_code__gte=400, status_code__lt=500)),
                      succeeded=Count("id", filter=Q(status_code__lt=400)),
                      **buckets)
            .order_by("system", "operation"))
    latency = GaugeHistogramMetricFamily("bridge_remote_call_duration_seconds",
                                         "Seko and Blue Cherry calls in the window by how long they took",
                                         labels=["system", "operation"])
    failed = GaugeMetricFamily("bridge_remote_calls_failed_window",
                               "Calls in the window that failed: unreachable (no answer, timeout), "
                               "server_error (5xx), refused (4xx)", labels=["system", "operation", "reason"])
    slowest = GaugeMetricFamily("bridge_remote_call_slowest_seconds", "The slowest call in the window",
                                labels=["system", "operation"])
    posted = 0
    for row in rows:
        labels = [row["system"], row["operation"]]
        cumulative = [(str(bound / 1000), row[f"le_{bound}"]) for bound in LATENCY_BUCKETS_MS]
        latency.add_metric(labels, [*cumulative, ("+Inf", row["calls"])], gsum_value=(row["total_ms"] or 0) / 1000)
        for reason in ("unreachable", "server_error", "refused"):
            failed.add_metric([*labels, reason], row[reason])
        slowest.add_metric(labels, (row["slowest_ms"] or 0) / 1000)
        if (row["system"], row["operation"]) == SHIPMENT_OPERATION:
            posted = row["succeeded"]
    yield from (latency, failed, slowest)
    yield GaugeMetricFamily("bridge_dispatches_posted_window",
                            "Dispatches posted to Blue Cherry as shipments in the window", value=posted)


def orders_sent_metric(since: datetime, now: datetime) -> Metric:
    return GaugeMetricFamily("bridge_orders_sent_window", "Orders Seko accepted for fulfilment in the window",
                             value=Order.objects.filter(sent_at__range=(since, now)).count())


class DatabaseCollector(Collector):
    """Reads every figure when Prometheus scrapes (see the module's docstring)."""

    def collect(self) -> Iterable[Metric]:
        now = timezone.now()
        since = now - window()
        yield GaugeMetricFamily("bridge_metrics_window_seconds",
                                "The window the *_window figures count over (METRICS_WINDOW_MINUTES)",
                                value=window().total_seconds())
        yield from flow_metrics(now)
        yield backlog_metric()
        yield open_exceptions_metric()
        yield from push_metrics(since, now)
        yield orders_sent_metric(since, now)
        yield from remote_call_metrics(since, now)
        workers = worker_health.workers_state(now)
        yield GaugeMetricFamily("bridge_workers_healthy", "1 while the workers' heartbeat is recent (/healthz/workers)",
                                value=1.0 if workers.healthy else 0.0)


def scrape() -> bytes:
    # A registry of its own per scrape: nothing kept between scrapes, and no process-level
    # figures of whichever gunicorn process happened to answer.
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector())
    return generate_latest(registry)


def bearer_token_ok(header: str, expected: str) -> bool:
    scheme, _, given = header.partition(" ")
    # Compared in constant time, so the token cannot be guessed a character at a time.
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected.encode())


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus' scrape. Open only with ``Authorization: Bearer <METRICS_TOKEN>``; while no token is
    configured the endpoint is off (403 saying so), never open to anyone."""
    expected = settings.METRICS_TOKEN
    if not expected:
        return HttpResponse("Metrics are off: set METRICS_TOKEN to turn them on.\n", status=403,
                            content_type="text/plain; charset=utf-8")
    if not bearer_token_ok(request.headers.get("Authorization", ""), expected):
        response = HttpResponse("Missing or wrong token: send Authorization: Bearer <METRICS_TOKEN>.\n", status=401,
                                content_type="text/plain; charset=utf-8")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(scrape(), content_type=CONTENT_TYPE_LATEST)
