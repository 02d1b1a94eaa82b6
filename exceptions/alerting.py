"""Alerts per owner group where the team already looks (exceptions.models.AlertDestination).

Run by the monitor. For each active destination:

- **Threshold**: when the group's new exceptions within the window rise to the threshold, one
  alert; none again until the count has fallen below it (re-armed) and risen once more. A flood
  of a hundred exceptions is one message, not a hundred.
- **Stalled and overdue**: every new ``sync.stalled`` or ``dispatch.overdue`` of the group's
  kinds is told once (several found in one run go in one message).

Both moves are compare-and-swap on the destination's row before anything is sent, so two
workers running the monitor at once send one alert. An alert that does not arrive is undone and
tried at the next run, with the reason (never the URL) in ``last_error``.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timedelta
from enum import StrEnum

from django.utils import timezone

from exceptions import catalogue
from exceptions.models import AlertDestination, IntegrationException
from integration.clients.alerts import AlertNotSent, AlertSender, masked

log = logging.getLogger(__name__)

TOLD_AT_ONCE = frozenset({catalogue.SYNC_STALLED.code, catalogue.DISPATCH_OVERDUE.code})
LISTED = 10  # exceptions named in one message; the rest are counted


class ThresholdMove(StrEnum):
    ALERT = "alert"  # rose to the threshold: tell the group
    REARM = "rearm"  # fell below it since the last alert: the next rise alerts again
    NONE = "none"


def threshold_move(count: int, threshold: int, alerted: bool) -> ThresholdMove:
    """Pure: what the count of new exceptions means for a destination that has (not) alerted."""
    if count >= max(threshold, 1):
        return ThresholdMove.NONE if alerted else ThresholdMove.ALERT
    return ThresholdMove.REARM if alerted else ThresholdMove.NONE


def send_alerts(now: datetime | None = None, sender: AlertSender | None = None) -> int:
    """Check every active destination; returns how many alerts arrived."""
    now = now or timezone.now()
    sender = sender or AlertSender()
    sent = 0
    for destination in AlertDestination.objects.filter(active=True):
        sent += _threshold_alert(destination, now, sender)
        sent += _told_at_once(destination, now, sender)
    return sent


def _threshold_alert(destination: AlertDestination, now: datetime, sender: AlertSender) -> int:
    since = now - timedelta(minutes=destination.window_minutes)
    new = IntegrationException.objects.filter(owner=destination.owner, first_seen_at__gte=since)
    count = new.count()
    move = threshold_move(count, destination.threshold, destination.above_threshold_since is not None)
    mine = AlertDestination.objects.filter(pk=destination.pk)
    if move == ThresholdMove.REARM:
        mine.filter(above_threshold_since=destination.above_threshold_since).update(above_threshold_since=None)
        return 0
    if move == ThresholdMove.NONE or not mine.filter(above_threshold_since__isnull=True).update(
            above_threshold_since=now):
        return 0  # nothing to say, or another worker took this crossing
    kinds = Counter(new.values_list("kind", flat=True))
    title = f"{count} new {destination.owner} exceptions in the last {destination.window_minutes} minutes"
    body = "\n".join([f"At or above the threshold of {destination.threshold}. By kind:",
                      *(f"- {kind}: {n}" for kind, n in kinds.most_common(LISTED))])
    if _deliver(destination, sender, title, body, now):
        return 1
    mine.filter(above_threshold_since=now).update(above_threshold_since=None)  # not told: try at the next run
    return 0


def _told_at_once(destination: AlertDestination, now: datetime, sender: AlertSender) -> int:
    after = destination.told_through or destination.created_at
    new = list(IntegrationException.objects.filter(owner=destination.owner, kind__in=TOLD_AT_ONCE,
                                                   first_seen_at__gt=after)
               .order_by("first_seen_at").values_list("kind", "trace_key", "message", "first_seen_at"))
    if not new:
        return 0
    newest = new[-1][3]
    mine = AlertDestination.objects.filter(pk=destination.pk, told_through=destination.told_through)
    if not mine.update(told_through=newest):
        return 0  # another worker told these
    title = (f"{new[0][0]}: {new[0][1]}" if len(new) == 1 else
             f"{len(new)} new {' / '.join(sorted({row[0] for row in new}))} exceptions for {destination.owner}")
    body = "\n".join(f"- {kind} {key}: {message[:300]}" for kind, key, message, _ in new[:LISTED])
    if len(new) > LISTED:
        body += f"\n… and {len(new) - LISTED} more."
    if _deliver(destination, sender, title, body, now):
        return 1
    AlertDestination.objects.filter(pk=destination.pk, told_through=newest).update(
        told_through=destination.told_through)
    return 0


def _deliver(destination: AlertDestination, sender: AlertSender, title: str, body: str, now: datetime) -> bool:
    try:
        sender.send(destination.url, title, body)
    except AlertNotSent as refused:
        AlertDestination.objects.filter(pk=destination.pk).update(last_error=str(refused)[:1000])
        log.warning("Alert to %s (%s) did not arrive: %s", destination.name, masked(destination.url), refused)
        return False
    AlertDestination.objects.filter(pk=destination.pk).update(last_sent_at=now, last_error="")
    return True


def send_test(destination: AlertDestination, sender: AlertSender | None = None) -> str:
    """The admin's "send a test alert": what happened, in words without the URL."""
    try:
        (sender or AlertSender()).send(destination.url, f"Test alert for {destination.owner}",
                                       f"'{destination.name}' is set up: the integration's alerts will arrive here.")
    except AlertNotSent as refused:
        return f"{destination.name}: the test alert did not arrive: {refused}"
    return f"{destination.name}: the test alert was sent to {masked(destination.url)}."
