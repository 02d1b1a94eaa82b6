"""Raise, repeat and close exceptions. The only code that writes the queue.

``raise_exception`` is safe under concurrency: the database allows one open row per kind and
trace key, so two workers raising the same thing at once end with one row and two occurrences.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from exceptions import catalogue, holds, registry
from exceptions.models import ExceptionEvent, IntegrationException
from integration.shared.roles import exception_actors, may_act_on_exception

log = logging.getLogger(__name__)

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


def auto_resolve_many(trace_keys: Iterable[str], kinds: Iterable[catalogue.Kind | str] | None = None,
                      note: str = "") -> int:
    """``auto_resolve`` for a batch of objects that succeeded together (issue 9): one look-up
    per 500 keys instead of one per object, which is most often all there is (nothing was open).
    Returns how many were closed."""
    keys = sorted(set(trace_keys))
    codes = None if kinds is None else [k if isinstance(k, str) else k.code for k in kinds]
    pks: list[int] = []
    for start in range(0, len(keys), 500):
        qs = IntegrationException.objects.filter(trace_key__in=keys[start:start + 500],
                                                 status=IntegrationException.Status.OPEN)
        if codes is not None:
            qs = qs.filter(kind__in=codes)
        pks.extend(qs.values_list("pk", flat=True))
    return _close(pks, action="auto-resolved", note=note or "Closed automatically")


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


# --- What a person does from the dashboard or the API (issue 3) -----------------------------
# Retry, resolve with a note, assign, snooze; one at a time or in bulk. Each is recorded as an
# ExceptionEvent with who and when, writes by compare-and-swap, and is safe to repeat. Only the
# exception's owner group, ops and integration admins may act on it (integration/shared/roles.py).

class ActionRefused(Exception):
    """The action cannot be done to this exception; the message says why. Nothing was written."""


class NotAllowed(ActionRefused):
    """The person's role may not act on this exception's kind (403, not 409)."""


class HeldObjectRefused(ActionRefused):
    """Closing this exception would leave its object held with nothing saying why. ``held``
    says what is held and what the person may choose instead."""

    def __init__(self, exception: IntegrationException, held: holds.Held) -> None:
        super().__init__(holds.refusal_text(exception, held))
        self.exception = exception
        self.held = held


ACTIONS = ("retry", "resolve", "assign", "snooze")
SNOOZE_LONGEST = timedelta(days=30)  # longer than this is not "later", it is forgetting it


def require_may_act(exception: IntegrationException, user: Any) -> None:
    if not may_act_on_exception(user, exception.owner):
        raise NotAllowed(f"{exception.kind} belongs to {exception.owner}; only {exception_actors(exception.owner)} "
                         "may act on it. Nothing was changed.")


def retry_possible(exception: IntegrationException) -> bool:
    """Whether Retry can do anything for this exception: an object a flow can try again now (an
    item sent again, a held or waiting order checked and sent again), or a system that was not
    answering (orders waiting out a backoff are due at once). Not, e.g., for an item fixed in Blue
    Cherry or a dispatch (released from its form). The flows say which (exceptions/registry.py)."""
    kind = exception.kind_info
    if kind is not None and kind.retries_on_its_own:
        return True
    handler = registry.retry_handler(exception)
    return handler is not None and handler.possible(exception)


def retry(exception: IntegrationException, user: Any) -> str:
    """Try again now: the flow that owns the exception's object takes it up again (and its workers
    send it), or, for a system that was not answering, everything waiting out a backoff is due at
    once. The exception stays open until the object succeeds (it then closes itself)."""
    require_may_act(exception, user)
    _require_open(exception)
    kind = exception.kind_info
    handler = registry.retry_handler(exception) if retry_possible(exception) else None
    if handler is None:
        playbook = kind.playbook if kind else "See the message."
        raise ActionRefused(f"There is nothing to retry for {exception.kind} ({exception.trace_key}): {playbook}")
    outcome = handler.run(exception, _name(user))
    ExceptionEvent.objects.create(exception=exception, action="retried", actor=user, note=outcome)
    return outcome


def resolve_with_note(exception: IntegrationException, user: Any, note: str, *, withdraw_order: bool = False,
                      set_aside_dispatch: bool = False) -> str:
    """Close an exception by hand. A note saying what was done is required. Refused while closing
    it would leave its order, dispatch or item held with no open exception, unless the person
    chose what becomes of it: withdraw the held order from fulfilment (``withdraw_order``), or set
    the held dispatch aside as settled by hand (``set_aside_dispatch``); the note is the reason."""
    note = (note or "").strip()
    require_may_act(exception, user)
    if not note:
        raise ActionRefused("Say what was done in the note: a resolution without one helps nobody later.")
    _require_open(exception)
    refusal = registry.reopen_refusal(exception)
    if refusal:
        raise ActionRefused(refusal)
    # One transaction for the check and the close (SQLite takes the write lock at its start), so
    # two people closing an order's last two exceptions at once cannot both pass the check.
    with transaction.atomic():
        held = holds.held_object(exception.trace_key)
        if withdraw_order and (held is None or not held.can_withdraw):
            raise ActionRefused(f"Exception #{exception.pk} is not about a held order, so there is nothing to "
                                "withdraw. Nothing was changed.")
        if set_aside_dispatch and (held is None or not held.can_set_aside):
            raise ActionRefused(f"Exception #{exception.pk} is not about a held dispatch, so there is nothing to "
                                "set aside. Nothing was changed.")
        chose = withdraw_order or set_aside_dispatch
        if held is not None and not chose and holds.last_open_about(exception):
            raise HeldObjectRefused(exception, held)
        said = (f"Withdrew the order from fulfilment: {note}" if withdraw_order
                else f"Set the dispatch aside, settled by hand: {note}" if set_aside_dispatch else note)
        if not resolve(exception, user, said):
            raise ActionRefused(f"Exception #{exception.pk} was closed meanwhile by someone else; nothing changed.")
        # A refusal raised by the flow leaves the block, which undoes the resolve too.
        if set_aside_dispatch:
            return registry.settler(registry.SET_ASIDE_DISPATCH)(exception, _name(user), note)
        if withdraw_order:
            return registry.settler(registry.WITHDRAW_ORDER)(exception, _name(user), note)
    return f"Exception #{exception.pk} resolved."


def assign(exception: IntegrationException, user: Any, assignee: Any) -> str:
    """Give the exception to ``assignee`` (None: unassign), who is told by email. Assigning to
    the current assignee changes nothing and records nothing."""
    require_may_act(exception, user)
    _require_open(exception)
    if assignee is not None and not assignee.is_active:
        raise ActionRefused(f"{assignee.username} is not an active user.")
    current = exception.assigned_to_id
    new = assignee.pk if assignee is not None else None
    if current == new:
        return f"Exception #{exception.pk} is already {'with ' + assignee.username if assignee else 'unassigned'}."
    with transaction.atomic():
        # Compare-and-swap on the assignee seen, so two people assigning at once both see the result.
        changed = IntegrationException.objects.filter(pk=exception.pk, assigned_to_id=current).update(assigned_to=new)
        if not changed:
            raise ActionRefused(f"Exception #{exception.pk} was reassigned meanwhile; look again.")
        note = f"to {assignee.username}" if assignee else "unassigned"
        ExceptionEvent.objects.create(exception=exception, action="assigned", actor=user, note=note)
        if assignee is not None and assignee.pk != getattr(user, "pk", None):
            transaction.on_commit(lambda: _tell_assignee(exception, assignee, user))
    exception.assigned_to = assignee
    return f"Exception #{exception.pk} assigned {note}."


def _tell_assignee(exception: IntegrationException, assignee: Any, by: Any) -> None:
    """Email the new assignee (Django's mail API: the console in the demo). A mail failure is
    logged, never undoes the assignment: the exception is in their "assigned to me" view anyway."""
    if not assignee.email:
        return
    kind = exception.kind_info
    # The dashboard's own address, when the deployment says it; a path otherwise.
    link = getattr(settings, "DASHBOARD_URL", "").rstrip("/") + f"/exceptions/{exception.pk}/"
    subject = f"[Blue Cherry ↔ Seko] #{exception.pk} {exception.kind} assigned to you"
    body = (f"{_name(by) or 'Someone'} assigned exception #{exception.pk} to you.\n\n"
            f"{kind.title if kind else exception.kind} ({exception.trace_key})\n{exception.message}\n\n"
            f"What to do: {kind.playbook if kind else 'see the message.'}\n\nOpen it: {link}\n")
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [assignee.email])
    except Exception as error:  # any mail failure is only worth a log line
        log.warning("could not email %s about exception #%s: %s", assignee.username, exception.pk, error)


def snooze(exception: IntegrationException, user: Any, until: datetime | None) -> str:
    """Leave the exception out of the open queue's default view until ``until``, when it comes
    back by itself (None wakes it now). It stays open meanwhile: it still counts for its object."""
    require_may_act(exception, user)
    _require_open(exception)
    now = timezone.now()
    if until is not None and until <= now:
        raise ActionRefused(f"Snooze until a time in the future (given {until:%Y-%m-%d %H:%M} UTC). "
                            "Nothing was changed.")
    if until is not None and until > now + SNOOZE_LONGEST:
        raise ActionRefused(f"Snooze for at most {SNOOZE_LONGEST.days} days; longer is forgetting it. "
                            "Nothing was changed.")
    with transaction.atomic():
        if not IntegrationException.objects.filter(pk=exception.pk, status=IntegrationException.Status.OPEN).update(
                snoozed_until=until):
            raise ActionRefused(f"Exception #{exception.pk} was closed meanwhile; nothing to snooze.")
        note = f"until {until:%Y-%m-%d %H:%M} UTC" if until else "woken: back in the open queue"
        ExceptionEvent.objects.create(exception=exception, action="snoozed" if until else "woken", actor=user,
                                      note=note)
    exception.snoozed_until = until
    return f"Exception #{exception.pk} snoozed {note}." if until else f"Exception #{exception.pk} is back in the queue."


@dataclass
class BulkResult:
    done: dict[int, str] = field(default_factory=dict)  # pk -> what happened
    refused: dict[int, str] = field(default_factory=dict)  # pk -> why not
    held: set[int] = field(default_factory=set)  # refused because their order is held (may be withdrawn)
    not_allowed: set[int] = field(default_factory=set)

    def summary(self, action: str) -> str:
        text = f"{action.capitalize()}: {len(self.done)} done"
        if self.refused:
            reasons = "; ".join(f"#{pk}: {why}" for pk, why in list(self.refused.items())[:5])
            more = " …" if len(self.refused) > 5 else ""
            text += f", {len(self.refused)} not done ({reasons}{more})"
        return text + "."


BULK_LIMIT = 1000  # exceptions one bulk action takes (the API's list and "all matching" alike)


def bulk(action: str, pks: Iterable[int], user: Any, *, note: str = "", assignee: Any = None,
         until: datetime | None = None, withdraw_order: bool = False) -> BulkResult:
    """Apply one action to many exceptions. Each succeeds or is refused on its own (one refusal
    never stops the rest); a bad request (unknown action, no rows, too many, resolve without a
    note) is refused before anything is done."""
    if not action:
        raise ActionRefused(f"Choose an action ({', '.join(ACTIONS)}) with its button; nothing was done.")
    if action not in ACTIONS:
        raise ActionRefused(f"Unknown action {action!r}; choose one of {', '.join(ACTIONS)}.")
    wanted = sorted({int(pk) for pk in pks})
    if not wanted:
        raise ActionRefused("Select at least one exception.")
    if len(wanted) > BULK_LIMIT:
        raise ActionRefused(f"{len(wanted)} exceptions is more than one action takes ({BULK_LIMIT}); narrow the "
                            "filters. Nothing was done.")
    if action == "resolve" and not (note or "").strip():
        raise ActionRefused("Say what was done in the note: a resolution without one helps nobody later.")
    found = IntegrationException.objects.select_related("order").in_bulk(wanted)
    result = BulkResult()
    for pk in wanted:
        exception = found.get(pk)
        if exception is None:
            result.refused[pk] = "no such exception"
            continue
        try:
            if action == "retry":
                result.done[pk] = retry(exception, user)
            elif action == "resolve":
                # Withdrawing applies only to the held orders among the selection; the rest resolve.
                withdraw = withdraw_order and bool((held := holds.held_object(exception.trace_key))
                                                   and held.can_withdraw and holds.last_open_about(exception))
                result.done[pk] = resolve_with_note(exception, user, note, withdraw_order=withdraw)
            elif action == "snooze":
                result.done[pk] = snooze(exception, user, until)
            else:
                result.done[pk] = assign(exception, user, assignee)
        except HeldObjectRefused as refused:
            result.refused[pk] = str(refused)
            if refused.held.can_withdraw:
                result.held.add(pk)
        except NotAllowed as refused:
            result.refused[pk] = str(refused)
            result.not_allowed.add(pk)
        except ActionRefused as refused:
            result.refused[pk] = str(refused)
    return result


def _require_open(exception: IntegrationException) -> None:
    current = IntegrationException.objects.filter(pk=exception.pk).values_list("status", flat=True).first()
    if current != IntegrationException.Status.OPEN:
        raise ActionRefused(f"Exception #{exception.pk} is already resolved; nothing to do.")


def _name(user: Any) -> str:
    return getattr(user, "username", "") or ""
