"""Customer data kept only as long as it is needed (scheduled daily by ``integration.tasks.apply_retention``).

Two ages, configured in the settings (docs/operations.md, "Retention and backup"):

- deleted: ``MessageLog`` rows older than RETENTION_MESSAGE_LOG_DAYS; ``InboundPush`` rows older than
  RETENTION_INBOUND_PUSH_DAYS and the ``PushPart`` rows applied before then (a push no worker has
  finished, or a part not yet applied, is work still owed: it stays whatever its age);
- redacted: customer names, addresses, phone numbers and emails in what is kept, once older than
  RETENTION_REDACT_AFTER_DAYS: message bodies, finished push bodies, applied parts, and ``ship_to``/``raw`` of
  orders settled (dispatched, cancelled, withdrawn) that long ago. An order still in flight keeps
  its address: it may yet be sent or corrected.

Deletes and redactions go in small batches by primary key, each batch its own short transaction,
so the workers writing meanwhile (SQLite has one writer at a time) wait for one batch, never for
the whole run.

No migration holds the figures: the job's ``SyncCursor`` row ("retention") keeps the redaction
watermark in ``position`` (everything older has been redacted, so a run reads only the new day
of rows) and the last run's counts, as JSON, in its text column (``last_error``; an ``error`` key
in it says when the run failed).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.db.models.functions import Coalesce
from django.utils import timezone

from integration.models import InboundPush, MessageLog, Order, PushPart, SyncCursor
from integration.shared.redaction import MASK

CURSOR = "retention"

# Statuses after which nothing more happens to an order: its address is no longer needed.
SETTLED_ORDER_STATUSES = (Order.Status.DISPATCHED, Order.Status.PARTIALLY_DISPATCHED, Order.Status.CANCELLED,
                          Order.Status.WITHDRAWN)

# A push no worker has finished with still needs its body, however old: never deleted or redacted.
UNFINISHED_PUSH_STATUSES = (InboundPush.Status.PENDING, InboundPush.Status.PROCESSING)

# Keys (compared without case, "_" or "-") whose value names, locates or reaches a person. Blue
# Cherry's ship_to (name, address1..3, city, postcode, phone, email) and Seko's DeliveryDetails
# (FirstName, LastName, Line1.., PhoneNumber, EmailAddress) both use these.
PERSONAL_KEYS = frozenset({
    "name", "customername", "firstname", "lastname", "fullname", "contactname", "company", "companyname", "recipient",
    "address", "address1", "address2", "address3", "line1", "line2", "line3", "street", "city", "town",
    "county", "postcode", "postalcode", "postcodezip", "zip", "zipcode", "phone", "phonenumber", "telephone",
    "mobile", "email", "emailaddress",
})
# Objects that are entirely about the person: every value in them goes (country included).
PERSONAL_OBJECTS = frozenset({"shipto", "billto", "deliverydetails", "deliveryaddress", "customerdetails"})

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# For a body that is not JSON (cut short, or text): a key followed by its quoted value, masked
# when the key is a personal one.
_QUOTED_VALUE = re.compile(r'"([\w-]+)"(\s*:\s*)"(?:[^"\\]|\\.)*"')


def _mask_quoted(match: re.Match[str]) -> str:
    key, colon = match.group(1), match.group(2)
    return f'"{key}"{colon}"{MASK}"' if _normal(key) in PERSONAL_KEYS else match.group(0)


def _normal(key: str) -> str:
    return key.replace("_", "").replace("-", "").lower()


def redact_value(value: Any, inside_personal: bool = False) -> Any:
    """``value`` with every personal field masked: pure, the input is not changed."""
    if isinstance(value, dict):
        return {key: (redact_value(item, inside_personal=True) if _normal(str(key)) in PERSONAL_OBJECTS
                      else _mask(item) if _normal(str(key)) in PERSONAL_KEYS and not isinstance(item, dict | list)
                      else redact_value(item, inside_personal))
                for key, item in value.items()}
    if isinstance(value, list):
        return [redact_value(item, inside_personal) for item in value]
    if inside_personal:
        return _mask(value)
    if isinstance(value, str):
        return _EMAIL.sub(MASK, value)
    return value


def _mask(value: Any) -> Any:
    return MASK if value not in (None, "") else value


def redact_text(text: str) -> str:
    """A stored body with its personal fields masked: parsed as JSON where it is, else by pattern."""
    if not text:
        return text
    try:
        parsed = json.loads(text)
    except ValueError:
        return _EMAIL.sub(MASK, _QUOTED_VALUE.sub(_mask_quoted, text))
    redacted = redact_value(parsed)
    # Nothing personal: the stored text stays byte for byte (and the row is not counted as redacted).
    return text if redacted == parsed else json.dumps(redacted, ensure_ascii=False)


@dataclass
class RetentionResult:
    deleted: dict[str, int] = field(default_factory=dict)
    redacted: dict[str, int] = field(default_factory=dict)

    @property
    def deleted_total(self) -> int:
        return sum(self.deleted.values())

    @property
    def redacted_total(self) -> int:
        return sum(self.redacted.values())


def delete_in_batches(queryset: models.QuerySet, batch_size: int) -> int:
    """Delete what ``queryset`` selects, ``batch_size`` primary keys per transaction."""
    deleted = 0
    while True:
        ids = list(queryset.order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not ids:
            return deleted
        with transaction.atomic():
            queryset.model.objects.filter(pk__in=ids).delete()
        deleted += len(ids)


def redact_address(value: Any) -> Any:
    """A value that is the person's address as a whole (``Order.ship_to``): every part of it goes."""
    return redact_value(value, inside_personal=True)


def redact_in_batches(queryset: models.QuerySet, fields: dict[str, Callable[[Any], Any]], batch_size: int,
                      unchanged_since: str | None = None) -> int:
    """Redact the rows ``queryset`` selects, each of ``fields`` with its own function; returns how
    many rows changed.

    Each row is written with a compare-and-swap on ``unchanged_since`` (a column a change of the
    row moves), so a row changed while the batch was read is left for the next run, not overwritten."""
    columns = ["pk", *fields, *([unchanged_since] if unchanged_since else [])]
    changed = 0
    last_pk = 0
    while True:
        rows = list(queryset.filter(pk__gt=last_pk).order_by("pk").values(*columns)[:batch_size])
        if not rows:
            return changed
        last_pk = rows[-1]["pk"]
        with transaction.atomic():
            for row in rows:
                new = {name: redact(row[name]) for name, redact in fields.items()}
                if all(new[name] == row[name] for name in fields):
                    continue  # nothing personal in it (or already redacted)
                target = queryset.model.objects.filter(pk=row["pk"])
                if unchanged_since:
                    target = target.filter(**{unchanged_since: row[unchanged_since]})
                changed += target.update(**new)


def run(now: datetime | None = None) -> RetentionResult:
    """Delete and redact whatever is due now; record the counts on the "retention" cursor."""
    now = now or timezone.now()
    cursor, _ = SyncCursor.objects.get_or_create(name=CURSOR)
    SyncCursor.objects.filter(pk=cursor.pk).update(last_run_at=now)
    batch = settings.RETENTION_BATCH_SIZE
    result = RetentionResult()
    try:
        messages_before = now - timedelta(days=settings.RETENTION_MESSAGE_LOG_DAYS)
        pushes_before = now - timedelta(days=settings.RETENTION_INBOUND_PUSH_DAYS)
        result.deleted["message_log"] = delete_in_batches(MessageLog.objects.filter(created_at__lt=messages_before),
                                                          batch)
        # Parts first: deleting a push sets its parts' push to null, one more write per part.
        result.deleted["push_part"] = delete_in_batches(PushPart.objects.filter(applied_at__lt=pushes_before), batch)
        result.deleted["inbound_push"] = delete_in_batches(
            InboundPush.objects.filter(received_at__lt=pushes_before).exclude(status__in=UNFINISHED_PUSH_STATUSES),
            batch)

        redact_before = now - timedelta(days=settings.RETENTION_REDACT_AFTER_DAYS)
        # Everything older was redacted by an earlier run. The times compared are our own clock,
        # written as the row is (created, received, applied, dispatched, cancelled, withdrawn at
        # "now"), so no row appears behind the watermark.
        since = cursor.position

        def window(field_name: str) -> dict[str, datetime]:
            return {f"{field_name}__lt": redact_before, **({f"{field_name}__gte": since} if since else {})}

        result.redacted["message_log"] = redact_in_batches(
            MessageLog.objects.filter(**window("created_at")),
            {"request_body": redact_text, "response_body": redact_text}, batch)
        result.redacted["inbound_push"] = redact_in_batches(
            InboundPush.objects.filter(**window("received_at")).exclude(status__in=UNFINISHED_PUSH_STATUSES),
            {"body": redact_text}, batch)
        result.redacted["push_part"] = redact_in_batches(
            PushPart.objects.filter(**window("applied_at")), {"fields": redact_value}, batch)
        settled = Order.objects.filter(status__in=SETTLED_ORDER_STATUSES).alias(
            settled_at=Coalesce("dispatched_at", "cancelled_at", "withdrawn_at", "updated_at"))
        result.redacted["order"] = redact_in_batches(
            settled.filter(**window("settled_at")), {"ship_to": redact_address, "raw": redact_value}, batch,
            unchanged_since="updated_at")
    except Exception as error:
        _record(cursor.pk, result, now, error=str(error)[:500])
        raise
    _record(cursor.pk, result, now, watermark=redact_before)
    return result


def _record(cursor_pk: int, result: RetentionResult, now: datetime, error: str = "",
            watermark: datetime | None = None) -> None:
    previous = last_summary()
    totals = previous.get("totals", {})
    summary = {
        "at": now.isoformat(), "deleted": result.deleted, "redacted": result.redacted, "error": error,
        "totals": {"deleted": totals.get("deleted", 0) + result.deleted_total,
                   "redacted": totals.get("redacted", 0) + result.redacted_total},
    }
    update: dict[str, Any] = {"last_error": json.dumps(summary)}
    if not error:
        update |= {"last_success_at": now, "position": watermark}
    SyncCursor.objects.filter(pk=cursor_pk).update(**update)


def last_summary() -> dict[str, Any]:
    """The last run's counts ({} before the first run): deleted and redacted per table, totals since."""
    return summary_of(SyncCursor.objects.filter(name=CURSOR).values_list("last_error", flat=True).first())


def summary_of(text: str | None) -> dict[str, Any]:
    """The counts the cursor's text column holds ({} when it holds none)."""
    try:
        summary = json.loads(text or "{}")
    except ValueError:
        return {}
    return summary if isinstance(summary, dict) else {}
