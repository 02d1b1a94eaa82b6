"""Raise, repeat and close exceptions. The only code that writes the queue.

``raise_exception`` is safe under concurrency: the database allows one open row per kind and
trace key, so two workers raising the same thing at once end with one row and two occurrences.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from exceptions import catalogue
from exceptions.models import ExceptionEvent, IntegrationException

PAYLOAD_LIMIT = 100_000  # characters of a request/response kept on an exception


def raise_exception(
    kind: catalogue.Kind | str,
    trace_key: str,
    message: str,
    *,
    problems: list[dict[str, Any]] | None = None,
    order: Any = None,
    sku: str = "",
    request_payload: str = "",
    response_payload: str = "",
) -> IntegrationException:
    """Open an exception, or count a repeat of the open one with the same kind and key."""
    kind = catalogue.get(kind) if isinstance(kind, str) else kind
    now = timezone.now()
    fields = {
        "message": message,
        "problems": problems or [],
        "request_payload": request_payload[:PAYLOAD_LIMIT],
        "response_payload": response_payload[:PAYLOAD_LIMIT],
        "last_seen_at": now,
    }
    for _ in range(3):
        existing = IntegrationException.objects.filter(
            kind=kind.code, trace_key=trace_key, status=IntegrationException.Status.OPEN
        ).first()
        if existing is not None:
            with transaction.atomic():
                IntegrationException.objects.filter(pk=existing.pk).update(occurrences=F("occurrences") + 1, **fields)
                if existing.message != message:
                    ExceptionEvent.objects.create(exception=existing, action="repeated", note=message)
            existing.refresh_from_db()
            return existing
        try:
            with transaction.atomic():
                exc = IntegrationException.objects.create(
                    kind=kind.code,
                    owner=kind.owner.value,
                    category=kind.category.value,
                    trace_key=trace_key,
                    order=order,
                    sku=sku,
                    **fields,
                )
                ExceptionEvent.objects.create(exception=exc, action="raised", note=message)
                return exc
        except IntegrityError:
            continue  # another worker opened it a moment ago: count ours as a repeat
    raise RuntimeError(f"could not raise {kind.code} for {trace_key}")


def auto_resolve(trace_key: str, kinds: Iterable[catalogue.Kind | str] | None = None, note: str = "") -> int:
    """Close the open exceptions about ``trace_key`` (of ``kinds``, or all) because the same
    object has since succeeded. Returns how many were closed."""
    qs = IntegrationException.objects.filter(trace_key=trace_key, status=IntegrationException.Status.OPEN)
    if kinds is not None:
        qs = qs.filter(kind__in=[k if isinstance(k, str) else k.code for k in kinds])
    return _close(list(qs.values_list("pk", flat=True)), action="auto-resolved", note=note or "Closed automatically")


def resolve(exception: IntegrationException, user: Any, note: str) -> bool:
    """Close an exception by hand, with a note. False if it was already closed."""
    return bool(_close([exception.pk], action="resolved", note=note, user=user))


def _close(pks: list[int], *, action: str, note: str, user: Any = None) -> int:
    if not pks:
        return 0
    now = timezone.now()
    closed = 0
    with transaction.atomic():
        for pk in pks:
            # Compare-and-swap: only the caller that moves it from open writes the event.
            changed = IntegrationException.objects.filter(pk=pk, status=IntegrationException.Status.OPEN).update(
                status=IntegrationException.Status.RESOLVED,
                resolved_at=now,
                resolved_by=user,
                resolution_note=note,
            )
            if changed:
                ExceptionEvent.objects.create(exception_id=pk, action=action, actor=user, note=note)
                closed += changed
    return closed


def open_kinds_for(trace_key: str) -> set[str]:
    return set(
        IntegrationException.objects.filter(trace_key=trace_key, status=IntegrationException.Status.OPEN).values_list(
            "kind", flat=True
        )
    )
