"""Pulls with an ``updated_at`` cursor that never skips a row.

Blue Cherry returns rows with ``updated_at >= updated_since`` in ``(updated_at, key)`` order.
Many rows can share one timestamp, and a row can be committed with a timestamp a little older
than rows already read, so each pull starts ``CURSOR_OVERLAP_SECONDS`` before the furthest
point reached and the handler de-duplicates what it has already seen (by key and updated_at).
The position moves forward page by page, so a failure half-way loses nothing and re-reads
little.

No single record may hold a pull back: one that cannot be read (an unreadable ``updated_at``,
or anything its handler raises) is skipped onto an ``integration.malformed_record`` exception
with its raw text, and the records behind it are taken and move the position on. Only a fault
that is not the record's (the remote system or our database unreachable) stops the pull, to
be run again from where it got to.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from exceptions import catalogue
from exceptions import services as queue
from integration.clients.errors import Transient, Unauthorized
from integration.models import SyncCursor

log = logging.getLogger(__name__)

# Failures that say nothing about the record being handled: the pull stops and runs again later
# rather than quarantine a good record.
NOT_THE_RECORDS_FAULT = (Transient, Unauthorized, OperationalError, InterfaceError)
# Fields that name a pulled record, tried in this order, for the exception's key.
IDENTITY_FIELDS = ("sku", "ord_num")


class MalformedRecord(ValueError):
    """A pulled record breaks the contract; ``key`` names it when it can be named."""

    def __init__(self, message: str, key: str = ""):
        super().__init__(message)
        self.key = key


def parse_timestamp(value: Any) -> datetime:
    """Blue Cherry's ISO 8601 UTC text as an aware datetime; a clear ``ValueError`` for anything
    else. A timestamp without a zone is UTC, as every timestamp Blue Cherry sends is."""
    try:
        parsed = parse_datetime(str(value)) if value else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise ValueError(f"not an ISO 8601 timestamp: {value!r}")
    return parsed if timezone.is_aware(parsed) else parsed.replace(tzinfo=UTC)


def record_key(record: Any) -> str:
    """What names a pulled record (its SKU or order number), or "" when nothing does."""
    if not isinstance(record, dict):
        return ""
    return next((str(record[name]).strip()[:60] for name in IDENTITY_FIELDS
                 if isinstance(record.get(name), str | int) and str(record[name]).strip()), "")


def unhandled(record: Any, error: Exception) -> MalformedRecord:
    """A record whose handler raised: a ``MalformedRecord`` saying what went wrong with it."""
    return MalformedRecord(f"it could not be handled ({type(error).__name__}: {error})", key=record_key(record))


def _stamp(record: Any) -> datetime:
    """The record's ``updated_at``; ``MalformedRecord`` when there is none to read."""
    try:
        return parse_timestamp(record.get("updated_at") if isinstance(record, dict) else None)
    except ValueError as error:
        raise MalformedRecord(f"updated_at: {error}", key=record_key(record)) from error


def pull(
    name: str,
    fetch: Callable[[datetime | None], Iterable[dict[str, Any]]],
    handle: Callable[[dict[str, Any]], bool],
    checkpoint_every: int = 200,
) -> tuple[int, int]:
    """Run one pull of cursor ``name``: ``fetch(since)`` yields records, ``handle(record)``
    applies one and returns False when it was already seen. Returns (seen, applied)."""
    cursor = take_lease(name)
    if cursor is None:
        return 0, 0  # another worker is running this pull; it will see what we would have
    try:
        return _pull(cursor, fetch, handle, checkpoint_every)
    finally:
        SyncCursor.objects.filter(pk=cursor.pk).update(locked_until=None)


def take_lease(name: str, seconds: float | None = None, now: datetime | None = None) -> SyncCursor | None:
    """The cursor row ``name``, leased to this caller for ``seconds`` (ORDER_LEASE_SECONDS by
    default) with a compare-and-swap, so one run of a flow at a time across workers and a dead
    worker's lease expires; None while another worker holds it. Every flow that must not run
    twice at once takes its lease here."""
    cursor, _ = SyncCursor.objects.get_or_create(name=name)
    now = now or timezone.now()
    lease = now + timedelta(seconds=seconds or settings.ORDER_LEASE_SECONDS)
    if not SyncCursor.objects.filter(pk=cursor.pk).filter(
        Q(locked_until__isnull=True) | Q(locked_until__lt=now)
    ).update(locked_until=lease, last_run_at=now):
        return None
    cursor.refresh_from_db()
    return cursor


def _pull(
    cursor: SyncCursor,
    fetch: Callable[[datetime | None], Iterable[dict[str, Any]]],
    handle: Callable[[dict[str, Any]], bool],
    checkpoint_every: int,
) -> tuple[int, int]:
    since = cursor.position - timedelta(seconds=settings.CURSOR_OVERLAP_SECONDS) if cursor.position else None
    furthest = cursor.position
    seen = applied = 0
    try:
        for record in fetch(since):
            seen += 1
            try:
                stamp = _stamp(record)
                if handle(record):
                    applied += 1
            except MalformedRecord as error:
                # One bad record must not stall the pull for every record behind it.
                _report_malformed(cursor.name, record, error)
                continue
            except NOT_THE_RECORDS_FAULT:
                raise
            except Exception as error:  # a handler's bug on one record: the same, with what it raised
                log.exception("pull %s: a record could not be handled", cursor.name)
                _report_malformed(cursor.name, record, unhandled(record, error))
                continue
            if furthest is None or stamp > furthest:
                furthest = stamp
            if seen % checkpoint_every == 0:
                SyncCursor.objects.filter(pk=cursor.pk).update(position=furthest)
    except Exception as error:
        SyncCursor.objects.filter(pk=cursor.pk).update(position=furthest, last_error=str(error)[:2000])
        raise
    SyncCursor.objects.filter(pk=cursor.pk).update(position=furthest, last_success_at=timezone.now(), last_error="")
    return seen, applied


# A batch handler applies many records at once and returns (applied, the records it could not
# read with why): one read and a few writes per batch instead of per record.
BatchHandler = Callable[[list[dict[str, Any]]], tuple[int, list[tuple[Any, MalformedRecord]]]]


def pull_batched(
    name: str,
    fetch: Callable[[datetime | None], Iterable[dict[str, Any]]],
    handle_batch: BatchHandler,
    batch_size: int = 500,
) -> tuple[int, int]:
    """``pull`` for a handler that takes a batch (the item master: thousands of SKUs in one
    run). Same lease, overlap and de-duplication; the position moves after every batch, so a
    failure half-way re-reads at most one batch. Returns (seen, applied)."""
    cursor = take_lease(name)
    if cursor is None:
        return 0, 0
    since = cursor.position - timedelta(seconds=settings.CURSOR_OVERLAP_SECONDS) if cursor.position else None
    furthest = cursor.position
    seen = applied = 0
    batch: list[dict[str, Any]] = []

    def flush() -> None:
        nonlocal applied, furthest
        done, unreadable = _handle_or_split(cursor.name, handle_batch, batch)
        applied += done
        bad = {id(record) for record, _ in unreadable}
        for record in batch:
            if id(record) in bad:
                continue
            try:
                stamp = _stamp(record)
            except MalformedRecord as error:  # the handler took it without reading its updated_at
                unreadable.append((record, error))
                continue
            if furthest is None or stamp > furthest:
                furthest = stamp
        for record, error in unreadable:
            _report_malformed(cursor.name, record, error)
        batch.clear()
        SyncCursor.objects.filter(pk=cursor.pk).update(position=furthest)

    try:
        for record in fetch(since):
            seen += 1
            batch.append(record)
            if len(batch) >= batch_size:
                flush()
        if batch:
            flush()
    except Exception as error:
        SyncCursor.objects.filter(pk=cursor.pk).update(position=furthest, last_error=str(error)[:2000])
        raise
    finally:
        SyncCursor.objects.filter(pk=cursor.pk).update(locked_until=None)
    SyncCursor.objects.filter(pk=cursor.pk).update(position=furthest, last_success_at=timezone.now(), last_error="")
    return seen, applied


def _handle_or_split(cursor_name: str, handle_batch: BatchHandler,
                     batch: list[dict[str, Any]]) -> tuple[int, list[tuple[Any, MalformedRecord]]]:
    """``handle_batch(batch)``; should it raise, the batch is taken again one record at a time,
    so the one record that breaks the handler is set aside and the others still go in."""
    try:
        done, unreadable = handle_batch(batch)
        return done, list(unreadable)
    except NOT_THE_RECORDS_FAULT:
        raise
    except Exception:
        log.exception("pull %s: a batch of %d could not be handled; taking it one by one", cursor_name, len(batch))
    done, unreadable = 0, []
    for record in batch:
        try:
            applied, bad = handle_batch([record])
        except NOT_THE_RECORDS_FAULT:
            raise
        except Exception as error:
            log.exception("pull %s: a record could not be handled", cursor_name)
            unreadable.append((record, unhandled(record, error)))
            continue
        done += applied
        unreadable.extend(bad)
    return done, unreadable


def _report_malformed(cursor_name: str, record: Any, error: MalformedRecord) -> None:
    raw = json.dumps(record, indent=2, default=str)
    key = error.key or "sha1-" + hashlib.sha1(raw.encode()).hexdigest()[:12]
    queue.raise_exception(
        catalogue.RECORD_MALFORMED, f"record:{cursor_name}:{key}",
        f"A record pulled by '{cursor_name}' was skipped: {error}", response_payload=raw,
    )
