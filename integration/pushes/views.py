"""Seko's pushes (DispatchConfirmation, TrackingDetails, StockAdjustment) come in here.

The door, in order: a bearer token (401), a size limit (413), and, when a signing secret is
set, a Standard Webhooks signature over the raw bytes within a timestamp window (401). Refused
callers are counted and raise ``push.unauthorized`` (at most once a minute; nothing of what they
sent is kept). Only an authenticated body is stored, and it is stored raw before it is read at all, so nothing
received is lost; a body of the wrong type, not JSON or not Seko's envelope is refused with a
clear message (415/400) and kept for inspection. A good one is answered 202 at once: workers
take the stored pushes in batches (``integration.dispatches.flow.process_pushes``).
"""

from __future__ import annotations

import hmac
import logging
import random
import threading
import time
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import OperationalError, connection
from django.db.models import Q
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from django_q.tasks import async_task
from standardwebhooks.webhooks import EmptyWebhookSecretError, Webhook, WebhookVerificationError

from exceptions import catalogue
from exceptions import services as queue
from exceptions.models import IntegrationException
from integration.clients.errors import MalformedPayload
from integration.clients.seko import parse_push
from integration.dispatches.intake import report_malformed_push
from integration.models import InboundPush, SyncCursor

log = logging.getLogger(__name__)

KICK_CURSOR = "dispatches.kick"
KICK_EVERY_SECONDS = 1.0  # at most one worker task enqueued per second, however many pushes come


def _refuse(status: int, message: str, **extra: object) -> JsonResponse:
    return JsonResponse({"error": message, **extra}, status=status)


def token_ok(header: str, token: str) -> bool:
    scheme, _, given = header.partition(" ")
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


class _StampCheckedWebhook(Webhook):
    """The reference library, minus its own timestamp window: that one is a fixed five minutes
    against the wall clock, while ours is SEKO_PUSH_TOLERANCE_SECONDS and is checked (with a
    message that says by how much) before the library is asked about the signature."""

    def _Webhook__verify_timestamp(self, timestamp_header: str) -> datetime:  # the library's private hook
        return datetime.fromtimestamp(int(timestamp_header), tz=UTC)


def signing_webhook(secret: str) -> Webhook:
    """A ``whsec_`` secret is base64 after the prefix (the library's own format); any other
    secret is its UTF-8 bytes, which the library takes as the raw key."""
    return _StampCheckedWebhook(secret if secret.startswith("whsec_") else secret.encode())


def signature_problem(headers: dict[str, str], body: bytes, secret: str, now: float | None = None,
                      tolerance: int = 300) -> str | None:
    """Why the Standard Webhooks signature does not hold, or None when it does."""
    msg_id, stamp, signatures = (headers.get(k, "") for k in ("webhook-id", "webhook-timestamp", "webhook-signature"))
    if not (msg_id and stamp and signatures):
        return "missing webhook-id, webhook-timestamp or webhook-signature header"
    try:
        sent_at = int(stamp)
    except ValueError:
        return f"webhook-timestamp {stamp[:40]!r} is not a Unix time"
    now = time.time() if now is None else now
    if abs(now - sent_at) > tolerance:
        # Outside the window: a replay of a captured push, or a badly wrong clock.
        return f"webhook-timestamp is {int(now - sent_at)} s from now, outside the {tolerance} s window"
    try:
        # The library signs text: bytes that are not UTF-8 cannot be what a Standard Webhooks sender signed.
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "body is not UTF-8 text, so no webhook-signature can match it"
    try:
        webhook = signing_webhook(secret)
    except (ValueError, EmptyWebhookSecretError):  # binascii.Error is a ValueError
        return "SEKO_PUSH_SECRET is not a usable signing secret (whsec_ and base64, or plain text)"
    # One candidate at a time: the library gives up on the first malformed one, and a sender
    # rotating its secret may send an old and a new signature side by side.
    for candidate in signatures.split():
        try:
            webhook.verify(text, {"webhook-id": msg_id, "webhook-timestamp": stamp, "webhook-signature": candidate},
                           json_parse=False)
            return None
        except (WebhookVerificationError, ValueError):
            continue
    return "webhook-signature does not match the body"


@csrf_exempt
@require_POST
def seko_push(request: HttpRequest) -> JsonResponse:
    if not token_ok(request.headers.get("Authorization", ""), settings.SEKO_PUSH_TOKEN):
        return _refuse_unauthenticated("missing or wrong bearer token")
    limit = settings.SEKO_PUSH_MAX_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return _refuse(413, f"body of {declared} bytes is over the {limit} byte limit")
    # Read the stream ourselves: request.body would stop at Django's smaller form-data limit.
    body = request.read(limit + 1)
    if len(body) > limit:
        return _refuse(413, f"body is over the {limit} byte limit")
    if settings.SEKO_PUSH_SECRET:
        problem = signature_problem({k.lower(): v for k, v in request.headers.items()}, body,
                                    settings.SEKO_PUSH_SECRET, tolerance=settings.SEKO_PUSH_TOLERANCE_SECONDS)
        if problem:
            log.warning("seko push refused: %s", problem)
            return _refuse_unauthenticated(f"signature refused: {problem}")

    # Authenticated: from here on the body is kept, whatever is wrong with it.
    content_type = request.headers.get("Content-Type", "")
    # Undecodable bytes and NULs (which PostgreSQL text cannot hold; issue 8) become U+FFFD.
    text_body = body.decode("utf-8", errors="replace").replace("\x00", "\ufffd")
    push = _store(body=text_body, content_type=content_type[:200],
                  webhook_id=request.headers.get("webhook-id", "")[:200])
    if content_type.split(";")[0].strip().lower() != "application/json":
        return _reject(push, 415, f"Content-Type must be application/json, not {content_type or 'none'!r}")
    try:
        records = parse_push(body)
    except MalformedPayload as error:
        return _reject(push, 400, str(error))
    _kick_workers()
    _close_refusals_once_quiet()
    return JsonResponse({"accepted": True, "push": push.pk, "records": len(records)}, status=202)


STORE_RETRY_SECONDS = 30.0  # as long as SQLite's busy timeout (settings.SQLITE_OPTIONS)


def _store(**fields: str) -> InboundPush:
    """Store a push raw. On SQLite, whose one write lock every web thread wants at hundreds of
    pushes a second, a busy lock is retried here every fraction of a millisecond instead of by
    SQLite's busy handler, whose sleeps grow to 100 ms however soon the lock is free (issue 9:
    the webhook's p99 was those sleeps). Elsewhere, a plain insert."""
    if connection.vendor != "sqlite":
        return InboundPush.objects.create(**fields)
    deadline = time.monotonic() + STORE_RETRY_SECONDS
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout = 0")
    try:
        while True:
            try:
                return InboundPush.objects.create(**fields)
            except OperationalError as error:
                if "locked" not in str(error) or time.monotonic() > deadline:
                    raise
                time.sleep(random.uniform(0.0002, 0.001))
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA busy_timeout = {int(connection.settings_dict['OPTIONS'].get('timeout', 5) * 1000)}")


def _reject(push: InboundPush, status: int, reason: str) -> JsonResponse:
    InboundPush.objects.filter(pk=push.pk).update(status=InboundPush.Status.REJECTED, error=reason[:2000])
    report_malformed_push(push, reason)
    return _refuse(status, reason, push=push.pk)


_last_kick_here = 0.0  # issue 9: when this process last looked at the kick cursor (monotonic)


def _kick_workers() -> None:
    """Enqueue one drain of the stored pushes unless one was enqueued this last second. A
    push arriving just after a drain ended waits for the scheduled sync (the safety net)."""
    global _last_kick_here
    # Issue 9: at hundreds of pushes a second, looking at the shared cursor on every push was
    # two of the door's four statements (one a write, queued behind SQLite's single writer).
    # A process that looked within the last second skips the look: another push's kick, here
    # or in another process, is at most a second old, so a drain is already on its way.
    now_here = time.monotonic()
    if now_here - _last_kick_here < KICK_EVERY_SECONDS:
        return
    _last_kick_here = now_here
    cursor, _ = SyncCursor.objects.get_or_create(name=KICK_CURSOR)
    now = timezone.now()
    if SyncCursor.objects.filter(pk=cursor.pk).filter(
            Q(last_run_at__isnull=True) | Q(last_run_at__lt=now - timedelta(seconds=KICK_EVERY_SECONDS))
    ).update(last_run_at=now):
        async_task("integration.tasks.sync_dispatches", task_name="sync_dispatches")


# --- Refused pushes (push.unauthorized) ------------------------------------------------------
# A wrong token or secret on either side refuses every push, and after Seko's three tries its
# tracking numbers and stock movements are gone: someone must hear of it. But refusals can come
# at hundreds a second (Seko's whole traffic, or a stranger hammering the URL), so each one only
# counts in memory; a process writes at most once a minute, and the refusal cursor's
# compare-and-swap lets one process in all raise a new occurrence in any minute.

REFUSALS_CURSOR = "push.refused"  # when push.unauthorized was last raised or repeated, by any process
REFUSAL_REPORT_SECONDS = 60.0
REFUSALS_QUIET_SECONDS = 600.0  # accepted pushes close push.unauthorized once none was refused this long

_refusals_lock = threading.Lock()
_refused_here = 0  # refused by this process and not yet reported
_refused_since: float | None = None  # when the first of them came (Unix time)
_refusals_looked_at = float("-inf")  # when this process last tried to report (monotonic)
_quiet_looked_at = float("-inf")  # when this process last looked whether push.unauthorized can close


def _refuse_unauthenticated(reason: str) -> JsonResponse:
    _count_refusal(reason)
    return _refuse(401, reason)


def _count_refusal(reason: str) -> None:
    global _refused_here, _refused_since, _refusals_looked_at
    with _refusals_lock:
        _refused_here += 1
        if _refused_since is None:
            _refused_since = time.time()
        now_here = time.monotonic()
        if now_here - _refusals_looked_at < REFUSAL_REPORT_SECONDS:
            return
        _refusals_looked_at = now_here
        count, since = _refused_here, _refused_since
        _refused_here, _refused_since = 0, None
    if not _report_refusals(count, since, reason):
        with _refusals_lock:  # another process reported this minute: ours go into a later report
            _refused_here += count
            _refused_since = min(since, _refused_since) if _refused_since is not None else since


def _report_refusals(count: int, since: float, reason: str) -> bool:
    """Raise (or repeat) push.unauthorized unless some process did within the last minute."""
    now = timezone.now()
    cursor, _ = SyncCursor.objects.get_or_create(name=REFUSALS_CURSOR)
    if not SyncCursor.objects.filter(pk=cursor.pk).filter(
            Q(last_run_at__isnull=True) | Q(last_run_at__lte=now - timedelta(seconds=REFUSAL_REPORT_SECONDS))
    ).update(last_run_at=now):
        return False
    kind = catalogue.PUSH_UNAUTHORIZED
    key = catalogue.system_key("seko-push")
    previous = IntegrationException.objects.filter(kind=kind.code, trace_key=key,
                                                   status=IntegrationException.Status.OPEN).first()
    # The running total lives on the open exception; only the reporter of this minute writes it.
    earlier = previous.problems[0].get("refused_total", 0) if previous and previous.problems else 0
    first_at = timezone.localtime(datetime.fromtimestamp(since, tz=UTC))
    message = (f"Seko's push URL refused {count} push{'es' if count != 1 else ''} with 401 since "
               f"{first_at:%Y-%m-%d %H:%M:%S %Z} ({earlier + count} since this exception opened). "
               f"Last reason: {reason}. The pushes' contents are not kept.")
    queue.raise_exception(kind, key, message, problems=[
        {"message": message, "refused_total": earlier + count, "refused_now": count, "last_reason": reason}])
    return True


def _close_refusals_once_quiet() -> None:
    """An accepted push, once a minute per process: close push.unauthorized if no push has been
    refused for REFUSALS_QUIET_SECONDS (the token or secret has been put right)."""
    global _quiet_looked_at
    now_here = time.monotonic()
    if now_here - _quiet_looked_at < REFUSAL_REPORT_SECONDS:
        return
    _quiet_looked_at = now_here
    quiet_since = timezone.now() - timedelta(seconds=REFUSALS_QUIET_SECONDS)
    kind = catalogue.PUSH_UNAUTHORIZED
    if IntegrationException.objects.filter(kind=kind.code, status=IntegrationException.Status.OPEN,
                                           last_seen_at__lte=quiet_since).exists():
        queue.auto_resolve(catalogue.system_key("seko-push"), [kind],
                           f"Pushes are accepted again and none was refused for "
                           f"{int(REFUSALS_QUIET_SECONDS // 60)} minutes")
