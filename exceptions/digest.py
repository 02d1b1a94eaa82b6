"""An email digest per role of the new exceptions it owns, at most one per DIGEST_INTERVAL_MINUTES.

Sent with Django's email backend (the console in the demo, locmem in tests, SMTP in production)
to the active users of the role's group who have an email address. Where each role got to is a
``SyncCursor`` (``digest.<role>``): ``position`` is the first_seen_at of the newest exception
already told, ``last_success_at`` when the last digest went.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import send_mail
from django.db.models import Q
from django.utils import timezone

from exceptions.catalogue import KINDS, Owner
from exceptions.models import IntegrationException
from integration.models import SyncCursor

log = logging.getLogger(__name__)
LISTED = 50  # exceptions named in one email; the rest are counted


def recipients(role: str) -> list[str]:
    return sorted(set(User.objects.filter(is_active=True, groups__name=role).exclude(email="")
                      .values_list("email", flat=True)))


def digest_text(role: str, new: list[IntegrationException]) -> tuple[str, str]:
    subject = f"[Blue Cherry ↔ Seko] {len(new)} new exception{'s' if len(new) != 1 else ''} for {role}"
    lines = [f"New exceptions owned by {role} since the last digest:", ""]
    for exc in new[:LISTED]:
        title = KINDS[exc.kind].title if exc.kind in KINDS else exc.kind
        lines.append(f"- {exc.kind} ({title}) {exc.trace_key}: {exc.message}")
    if len(new) > LISTED:
        lines.append(f"... and {len(new) - LISTED} more: see the exception queue.")
    return subject, "\n".join(lines) + "\n"


def send_digests(now: datetime | None = None) -> int:
    """Send each role its digest if one is due and there is something new; returns how many went."""
    now = now or timezone.now()
    sent = 0
    for owner in Owner:
        if send_digest(owner.value, now):
            sent += 1
    return sent


def send_digest(role: str, now: datetime) -> bool:
    cursor, _ = SyncCursor.objects.get_or_create(name=f"digest.{role}")
    interval = timedelta(minutes=settings.DIGEST_INTERVAL_MINUTES)
    if cursor.last_success_at is not None and now - cursor.last_success_at < interval:
        return False
    new_rows = IntegrationException.objects.filter(owner=role, status=IntegrationException.Status.OPEN)
    if cursor.position is not None:
        new_rows = new_rows.filter(first_seen_at__gt=cursor.position)
    new = list(new_rows.order_by("first_seen_at", "id"))
    to = recipients(role)
    if not new or not to:
        return False
    # Claim this interval's digest by compare-and-swap, so two workers never both send it.
    due = Q(last_success_at__isnull=True) | Q(last_success_at__lte=now - interval)
    if not SyncCursor.objects.filter(pk=cursor.pk).filter(due).update(last_success_at=now, last_run_at=now):
        return False
    subject, body = digest_text(role, new)
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, to)
    except Exception as error:  # the next run tries again: give the interval back
        log.warning("digest for %s not sent: %s", role, error)
        SyncCursor.objects.filter(pk=cursor.pk).update(last_success_at=cursor.last_success_at,
                                                       last_error=str(error)[:2000])
        return False
    SyncCursor.objects.filter(pk=cursor.pk).update(position=new[-1].first_seen_at, last_error="")
    return True
