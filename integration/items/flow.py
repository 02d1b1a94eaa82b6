"""Flow 1, item master: Blue Cherry SKUs -> Seko products, LIVE only once Seko says yes.

The steps, in order (DESIGN.md):

1. ``pull_items``: new and changed items into the ``Item`` mirror, cursor on ``updated_at``,
   a batch of records per read and write. Each version gets a fingerprint of the product it
   makes; one Seko does not hold yet is PENDING (DRAFT and DISCONTINUED are not for the
   warehouse).
2. ``send_pending_items``: claim a batch (PENDING -> SENDING, one compare-and-swap), then for
   each: validate (``item_rules``, every problem listed) -> map (``item_mapper``) -> ``submit``
   if Seko never acknowledged it, else ``update`` ("already exists" on submit falls back to
   update, "does not exist" on update to submit) -> record the acknowledgement. The calls run
   ``ITEM_SYNC_CONCURRENCY`` at a time, batches pipelined; the outcomes are written back in one
   bulk write per batch.
3. ``set_owed_items_live``: tell Blue Cherry LIVE, one ``POST items/status`` per claimed batch of
   items Seko acknowledged. Apart from step 2, so a Blue Cherry outage never re-sends to Seko.

A SKU is sellable, for order pre-validation, only when it is LIVE in Blue Cherry and Seko has
acknowledged it. Becoming sellable releases every order quarantined for it.

Failures are exceptions for the ``data`` group, one per SKU (``sku:<sku>``): ``item.invalid``
and ``item.sync_failed``; they close themselves when the SKU later goes through. The audit of
both item masters is ``integration/items/audit.py``.
"""

from __future__ import annotations

import contextvars
import json
import logging
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from exceptions import catalogue
from exceptions import services as queue
from exceptions.models import IntegrationException
from integration.clients.bluecherry import MAX_STATUS_UPDATES
from integration.clients.errors import MalformedPayload, NotFound, Rejected, Transient, Unauthorized
from integration.clients.seko import AlreadyExists, SekoClient
from integration.items.bulkwrite import update_rows
from integration.items.mapper import describe, fingerprint, map_product
from integration.items.rules import validate_item
from integration.items.signals import skus_went_live
from integration.models import Item
from integration.shared import cursors, messagelog, recovery
from integration.shared.systems import bluecherry_client, seko_client

log = logging.getLogger(__name__)

CURSOR = "items"
PULL_PAGE_SIZE = 500  # Blue Cherry's largest page: fewer round trips for a big item master
CHUNK = 500  # keys per IN (...) query

Sync = Item.SyncStatus
BC = Item.BCStatus
# Blue Cherry statuses whose items belong at the warehouse.
FOR_THE_WAREHOUSE = frozenset({BC.PENDING_WMS, BC.LIVE})
ITEM_KINDS = [catalogue.ITEM_INVALID, catalogue.ITEM_SYNC_FAILED]

T = TypeVar("T")


def sync_items(budget_seconds: float | None = None) -> dict[str, int]:
    """The whole flow once: pull, then send and set LIVE batch after batch until nothing is
    pending or ``budget_seconds`` is spent (the rest waits for the next run)."""
    deadline = _deadline(budget_seconds)
    recovered = recover_stale_item_claims()
    seen, applied = pull_items()
    sent, set_live = send_and_set_live(deadline)
    return {"recovered": recovered, "seen": seen, "applied": applied, "sent": sent, "set_live": set_live}


def send_pulled_items(budget_seconds: float | None = None) -> dict[str, int]:
    """``sync_items`` without its pull: send the items already pulled (created or changed at
    Seko) and set LIVE those Seko took, so that a failing pull does not hold back items Blue
    Cherry gave us before."""
    deadline = _deadline(budget_seconds)
    recovered = recover_stale_item_claims()
    sent, set_live = send_and_set_live(deadline)
    return {"recovered": recovered, "sent": sent, "set_live": set_live}


def send_and_set_live(deadline: float | None = None) -> tuple[int, int]:
    """Send the pending items and set LIVE the ones owed it, batch after batch until none is
    pending or the ``time.monotonic()`` ``deadline`` has passed; returns (sent, set LIVE).

    Pipelined: the next batch is claimed and handed to the senders before this one's outcomes
    are written, so the ``ITEM_SYNC_CONCURRENCY`` calls in flight never wait for our
    bookkeeping or for Blue Cherry's LIVE call (measured at 150 ms a call: waiting for each
    batch to finish before starting the next left the senders idle half the time). At most
    ``ITEM_BATCHES_IN_FLIGHT`` batches are claimed at once; only this thread touches the database."""
    sent = set_live = 0
    started = timezone.now()  # what fails in this run waits for a later one, however short its backoff
    with messagelog.buffered() as buffer, ThreadedClients(seko_client) as senders:
        in_flight: deque[_BatchAtSeko] = deque()
        claiming = True
        while True:
            while claiming and len(in_flight) < max(1, settings.ITEM_BATCHES_IN_FLIGHT):
                batch = _start_batch(senders, due_by=started)
                claiming = batch is not None and not _past(deadline)
                if batch is not None:
                    in_flight.append(batch)
            if not in_flight:
                break
            batch = in_flight.popleft()
            _record_outcomes(batch.token, batch.items, batch.outcomes())
            sent += len(batch.items)
            set_live += set_owed_items_live()
            messagelog.flush(buffer)
        # Items Seko took in an earlier run whose LIVE has not reached Blue Cherry yet.
        while not _past(deadline) and (done := set_owed_items_live()):
            set_live += done
            messagelog.flush(buffer)
    return sent, set_live


@dataclass
class _BatchAtSeko:
    """A claimed batch whose items are being sent by the senders' threads."""

    token: str
    items: list[Item]
    futures: list[Future[Outcome]]

    def outcomes(self) -> list[Outcome]:
        return [future.result() for future in self.futures]


def _start_batch(senders: ThreadedClients, due_by: datetime) -> _BatchAtSeko | None:
    token, batch = claim_pending_items(settings.ITEM_BATCH_SIZE, due_by)
    if not batch:
        return None
    return _BatchAtSeko(token, batch, [senders.submit(_send_one_safely, item) for item in batch])


def _past(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() > deadline


def _deadline(budget_seconds: float | None) -> float | None:
    return time.monotonic() + budget_seconds if budget_seconds is not None else None


# --- 1. Pull (the mirror) -------------------------------------------------------------------

def pull_items() -> tuple[int, int]:
    """Pull new and changed items; returns (seen, applied)."""
    with bluecherry_client() as client, messagelog.buffered():
        return cursors.pull_batched(
            CURSOR, lambda since: client.iter_items(updated_since=since, page_size=PULL_PAGE_SIZE), apply_items,
        )


def status_for_version(*, bc_status: str, new_fingerprint: str, previous_fingerprint: str, seko_fingerprint: str,
                       current: str | None) -> str:
    """Where a new Blue Cherry version of an item leaves its sync (pure)."""
    if current == Sync.SENDING:
        return Sync.SENDING  # the sender compares fingerprints when it writes its outcome
    if bc_status not in FOR_THE_WAREHOUSE:
        return Sync.NOT_READY
    if seko_fingerprint and new_fingerprint == seko_fingerprint:
        return Sync.LIVE if bc_status == BC.LIVE else Sync.SENT  # Seko has this very product
    if current in (Sync.INVALID, Sync.FAILED) and new_fingerprint == previous_fingerprint:
        return current  # nothing Seko would see changed: sending it again would fail the same way
    return Sync.PENDING


def _identity(record: Any) -> tuple[str, datetime]:
    if not isinstance(record, dict):
        raise cursors.MalformedRecord(f"expected an object, got {type(record).__name__}")
    sku = str(record.get("sku") or "").strip()
    if not sku:
        raise cursors.MalformedRecord("the item has no sku")
    if len(sku) > 100:
        raise cursors.MalformedRecord(f"sku is {len(sku)} characters (at most 100)", key=sku[:60])
    try:
        return sku, cursors.parse_timestamp(record.get("updated_at"))
    except ValueError as error:
        raise cursors.MalformedRecord(str(error), key=sku) from error


VERSION_FIELDS = ["upc", "description", "style", "color_code", "size", "bc_status", "bc_updated_at", "raw",
                  "bc_fingerprint", "sync_status", "sync_changed_at", "next_attempt_at", "sync_attempts",
                  "synced_at"]


def _take_version(row: Item, payload: dict[str, Any], updated_at: datetime, now: datetime) -> None:
    new_fingerprint = fingerprint(payload)
    bc_status = str(payload.get("status") or "")[:20]
    status = status_for_version(
        bc_status=bc_status, new_fingerprint=new_fingerprint, previous_fingerprint=row.bc_fingerprint,
        seko_fingerprint=row.seko_fingerprint, current=row.sync_status if row.pk else None,
    )
    row.upc = str(payload.get("upc") or "")[:32]
    row.description = describe(payload)[:255]
    row.style = str(payload.get("style") or "")[:50]
    row.color_code = str(payload.get("color_code") or "")[:50]
    row.size = str(payload.get("size") or "")[:20]
    row.bc_status = bc_status
    row.bc_updated_at = updated_at
    row.raw = payload
    row.bc_fingerprint = new_fingerprint
    row.synced_at = now
    if status != row.sync_status or not row.pk:
        row.sync_status = status
        row.sync_changed_at = now
        if status == Sync.PENDING:
            row.next_attempt_at, row.sync_attempts = None, 0


def apply_items(records: list[dict[str, Any]]) -> tuple[int, list[tuple[Any, cursors.MalformedRecord]]]:
    """Take a batch of item versions from Blue Cherry into the mirror: one read of the rows it
    touches and one bulk insert and update, in one transaction. Returns (applied, the records
    that could not be read, with why). A version not newer than the one held is skipped."""
    unreadable: list[tuple[Any, cursors.MalformedRecord]] = []
    latest: dict[str, tuple[datetime, dict[str, Any]]] = {}
    for record in records:
        try:
            sku, updated_at = _identity(record)
        except cursors.MalformedRecord as error:
            unreadable.append((record, error))
            continue
        if sku not in latest or updated_at > latest[sku][0]:
            latest[sku] = (updated_at, record)
    if not latest:
        return 0, unreadable
    # The cursor's overlap re-reads recent versions on purpose; those already held are dropped
    # on one light read (no rows built, no payloads decoded) before the transaction (issue 9:
    # every idle beat re-read the last two minutes' items in full).
    held = dict(Item.objects.filter(sku__in=list(latest)).values_list("sku", "bc_updated_at"))
    newer = {sku: version for sku, version in latest.items() if sku not in held or version[0] > held[sku]}
    if not newer:
        _resolve_where_open([f"record:{CURSOR}:{sku}" for sku in latest], [catalogue.RECORD_MALFORMED],
                            "A readable version came")
        return 0, unreadable

    now = timezone.now()
    became_sellable: list[str] = []
    left_the_warehouse: list[str] = []
    with transaction.atomic():
        existing = {row.sku: row for row in Item.objects.select_for_update().filter(sku__in=list(newer))}
        created: list[Item] = []
        changed: list[Item] = []
        for sku, (updated_at, payload) in newer.items():
            row = existing.get(sku)
            if row is not None and row.bc_updated_at >= updated_at:
                continue  # seen already: the cursor's overlap re-reads a little on purpose
            was_sellable = row is not None and row.is_sellable
            previous_status = row.sync_status if row is not None else None
            if row is None:
                row = Item(sku=sku)
                created.append(row)
            else:
                changed.append(row)
            _take_version(row, payload, updated_at, now)
            if row.is_sellable and not was_sellable:
                became_sellable.append(sku)
            if row.sync_status == Sync.NOT_READY and previous_status in (Sync.INVALID, Sync.FAILED):
                left_the_warehouse.append(sku)
        # A concurrent on-demand fetch may have created the row a moment ago; its version is
        # as good as ours, and the next one is taken normally.
        Item.objects.bulk_create(created, batch_size=CHUNK, ignore_conflicts=True)
        update_rows(Item, changed, VERSION_FIELDS)

    _resolve_where_open([f"record:{CURSOR}:{sku}" for sku in latest], [catalogue.RECORD_MALFORMED],
                        "A readable version came")
    _resolve_where_open([catalogue.sku_key(sku) for sku in left_the_warehouse], ITEM_KINDS,
                        "The item is no longer for the warehouse (DRAFT or DISCONTINUED in Blue Cherry)")
    if became_sellable:
        _release_orders(became_sellable)
    return len(created) + len(changed), unreadable


def apply_item(payload: dict[str, Any]) -> bool:
    """Take one item version; False when it was already held. ``MalformedRecord`` when unreadable."""
    applied, unreadable = apply_items([payload])
    if unreadable:
        raise unreadable[0][1]
    return bool(applied)


# --- What order pre-validation reads --------------------------------------------------------

def sku_statuses(skus: Iterable[str]) -> dict[str, str | None]:
    """Blue Cherry status of each SKU, from the mirror; a SKU the mirror lacks is fetched
    directly (it may have been created since the last pull). None: Blue Cherry does not know it."""
    wanted = set(skus)
    known = dict(Item.objects.filter(sku__in=wanted).values_list("sku", "bc_status"))
    missing = wanted - known.keys()
    if missing:
        client = bluecherry_client()
        for sku in sorted(missing):
            try:
                payload = client.get_item(sku)
            except NotFound:
                known[sku] = None
                continue
            apply_item(payload)
            known[sku] = str(payload.get("status") or "")
    return known


def seko_acknowledged(skus: Iterable[str]) -> set[str]:
    """The SKUs among ``skus`` whose product Seko has acknowledged."""
    wanted = list(set(skus))
    found: set[str] = set()
    for start in range(0, len(wanted), CHUNK):
        found.update(Item.objects.filter(sku__in=wanted[start:start + CHUNK], seko_acknowledged_at__isnull=False)
                     .values_list("sku", flat=True))
    return found


# --- 2. Validate, map, send -----------------------------------------------------------------

ACKNOWLEDGED, INVALID, FAILED, RETRY = "acknowledged", "invalid", "failed", "retry"


@dataclass
class Outcome:
    """What happened to one claimed item at Seko; written back with the rest of its batch."""

    pk: int
    sku: str
    fingerprint: str
    result: str
    note: str = ""  # how Seko took it ("created", "updated (it already had it)") or why not
    problems: list[dict[str, str]] = field(default_factory=list)
    request: str = ""
    response: str = ""
    transient: bool = False
    unauthorized: bool = False
    retry_after: float | None = None


def claim_pending_items(limit: int, due_by: datetime | None = None) -> tuple[str, list[Item]]:
    """Claim up to ``limit`` PENDING items due by ``due_by`` (now) for this worker: one
    compare-and-swap moves them to SENDING under a fresh token, so two workers never send the
    same item at once."""
    now = timezone.now()
    token = uuid.uuid4().hex
    candidates = list(
        Item.objects.filter(sync_status=Sync.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=due_by or now))
        .order_by("id").values_list("pk", flat=True)[:limit]
    )
    if not candidates:
        return token, []
    Item.objects.filter(pk__in=candidates, sync_status=Sync.PENDING).update(
        sync_status=Sync.SENDING, claim_token=token, claimed_at=now)
    claimed = Item.objects.filter(claim_token=token, sync_status=Sync.SENDING).order_by("id")
    return token, list(claimed.only("pk", "sku", "raw", "seko_fingerprint", "sync_attempts"))


def send_pending_items(limit: int | None = None, due_by: datetime | None = None) -> int:
    """Validate and send one batch of pending items; returns how many were handled."""
    token, batch = claim_pending_items(limit or settings.ITEM_BATCH_SIZE, due_by)
    if not batch:
        return 0
    with ThreadedClients(seko_client) as senders:
        futures = [senders.submit(_send_one_safely, item) for item in batch]
        outcomes = [future.result() for future in futures]
    _record_outcomes(token, batch, outcomes)
    return len(batch)


def _send_one_safely(seko: SekoClient, item: Item) -> Outcome:
    try:
        return _send_one(seko, item)
    except Exception:  # one bad item must not stop the batch; it is tried again later
        log.exception("unexpected failure sending item %s", item.sku)
        return Outcome(item.pk, item.sku, fingerprint(item.raw), RETRY, note="Unexpected error; see the worker log")


def _send_one(seko: SekoClient, item: Item) -> Outcome:
    """Validate, map and send one item (no database: this runs in the worker's threads)."""
    raw = item.raw
    sent = fingerprint(raw)
    problems = validate_item(raw)
    if problems:
        return Outcome(item.pk, item.sku, sent, INVALID, problems=[p.as_dict() for p in problems],
                       note=" ".join(p.message for p in problems))
    product = map_product(raw)
    try:
        note = _submit_or_update(seko, product, known=bool(item.seko_fingerprint))
    except Rejected as error:  # NotFound / AlreadyExists after the fallback too: Seko says no
        return Outcome(item.pk, item.sku, sent, FAILED, note=error.remote_message,
                       request=json.dumps({"ProductMaster": product}, indent=2),
                       response=error.exchange.response_body if error.exchange else "")
    except Unauthorized as error:
        return Outcome(item.pk, item.sku, sent, RETRY, note=str(error), unauthorized=True)
    except (Transient, MalformedPayload) as error:
        retry_after = error.retry_after if isinstance(error, Transient) else None
        return Outcome(item.pk, item.sku, sent, RETRY, note=str(error), transient=True, retry_after=retry_after)
    return Outcome(item.pk, item.sku, sent, ACKNOWLEDGED, note=note)


def _submit_or_update(seko: SekoClient, product: dict[str, Any], *, known: bool) -> str:
    """``submit`` a product Seko never acknowledged, ``update`` one it did, each falling back to
    the other when Seko says the opposite (a lost reply, a product created or removed at Seko
    by hand). Returns how Seko took it."""
    if known:
        try:
            seko.update_product(product)
            return "updated"
        except NotFound:
            seko.submit_product(product)
            return "created (Seko no longer had it)"
    try:
        seko.submit_product(product)
        return "created"
    except AlreadyExists:
        seko.update_product(product)
        return "updated (Seko already had it)"


OUTCOME_FIELDS = ["sync_status", "sync_changed_at", "claim_token", "claimed_at", "seko_fingerprint",
                  "seko_acknowledged_at", "problems", "last_error", "sync_attempts", "next_attempt_at"]


def _record_outcomes(token: str, batch: list[Item], outcomes: list[Outcome]) -> None:
    """Write a batch's outcomes in one transaction: only rows this claim still holds (a worker
    whose lease ran out and was re-claimed writes nothing), and a version that came from Blue
    Cherry while we were sending is sent again rather than marked done."""
    now = timezone.now()
    by_pk = {outcome.pk: outcome for outcome in outcomes}
    became_sellable: list[str] = []
    with transaction.atomic():
        rows = list(Item.objects.select_for_update().filter(pk__in=list(by_pk), claim_token=token,
                                                             sync_status=Sync.SENDING))
        for row in rows:
            outcome = by_pk[row.pk]
            changed_meanwhile = fingerprint(row.raw) != outcome.fingerprint
            row.claim_token, row.claimed_at, row.sync_changed_at = "", None, now
            if outcome.result == ACKNOWLEDGED:
                row.seko_fingerprint, row.seko_acknowledged_at = outcome.fingerprint, now
                row.problems, row.last_error, row.sync_attempts, row.next_attempt_at = [], "", 0, None
                if changed_meanwhile:
                    row.sync_status = Sync.PENDING
                elif row.bc_status == BC.LIVE:
                    row.sync_status = Sync.LIVE
                    became_sellable.append(row.sku)
                elif row.bc_status == BC.PENDING_WMS:
                    row.sync_status = Sync.SENT
                else:
                    row.sync_status = Sync.NOT_READY
            elif outcome.result == INVALID:
                row.problems, row.last_error = outcome.problems, ""
                row.sync_status = Sync.PENDING if changed_meanwhile else Sync.INVALID
            elif outcome.result == FAILED:
                row.problems, row.last_error = [], outcome.note[:2000]
                row.sync_status = Sync.PENDING if changed_meanwhile else Sync.FAILED
            else:
                row.sync_attempts += 1
                row.last_error = outcome.note[:2000]
                row.next_attempt_at = now + timedelta(seconds=_backoff(row.sync_attempts, outcome.retry_after))
                row.sync_status = Sync.PENDING
        update_rows(Item, rows, OUTCOME_FIELDS)
    attempts = {row.pk: row.sync_attempts for row in rows}
    _raise_and_resolve([by_pk[row.pk] for row in rows], attempts)
    if became_sellable:
        _release_orders(became_sellable)


def _backoff(attempts: int, retry_after: float | None) -> float:
    delay = min(settings.RETRY_MAX_SECONDS, settings.RETRY_BASE_SECONDS * 2 ** min(attempts - 1, 32))
    if retry_after:
        delay = max(delay, retry_after)
    return random.uniform(delay / 2, delay)  # jitter: do not come back all at once


def _raise_and_resolve(outcomes: list[Outcome], attempts: dict[int, int]) -> None:
    """The exceptions a batch's outcomes open and close. The common case (every item went
    through) costs one read per chunk of SKUs, not a query per item."""
    for outcome in outcomes:
        key = catalogue.sku_key(outcome.sku)
        if outcome.result == INVALID:
            queue.raise_exception(
                catalogue.ITEM_INVALID, key, f"Item {outcome.sku} was not sent to Seko: {outcome.note}",
                problems=outcome.problems, sku=outcome.sku,
            )
        elif outcome.result == FAILED:
            queue.raise_exception(
                catalogue.ITEM_SYNC_FAILED, key, f"Seko refused the product for {outcome.sku}: {outcome.note}",
                problems=[{"kind": catalogue.ITEM_SYNC_FAILED.code, "message": outcome.note, "value": outcome.sku}],
                sku=outcome.sku, request_payload=outcome.request, response_payload=outcome.response,
            )
    settled = {INVALID: [catalogue.ITEM_SYNC_FAILED], FAILED: [catalogue.ITEM_INVALID]}
    for result, kinds in settled.items():
        _resolve_where_open([catalogue.sku_key(o.sku) for o in outcomes if o.result == result], kinds,
                            "No longer true when the item was checked again")
    acknowledged = [o for o in outcomes if o.result == ACKNOWLEDGED]
    _resolve_where_open([catalogue.sku_key(o.sku) for o in acknowledged], ITEM_KINDS, "Seko accepted the product")
    if acknowledged:
        queue.auto_resolve(catalogue.system_key("seko"), [catalogue.TRANSPORT_SEKO_UNAVAILABLE,
                                                          catalogue.TRANSPORT_UNAUTHORIZED], "Seko answered again")
        recovery.system_answered(recovery.SEKO)
    retried = [o for o in outcomes if o.result == RETRY]
    if any(o.unauthorized for o in retried):
        queue.raise_exception(catalogue.TRANSPORT_UNAUTHORIZED, catalogue.system_key("seko"),
                              next(o.note for o in retried if o.unauthorized))
    worst = max((o for o in retried if o.transient), key=lambda o: attempts.get(o.pk, 0), default=None)
    if worst is not None:
        recovery.note_outage(recovery.SEKO, worst.note)  # released at once when Seko answers again
    if worst is not None and attempts.get(worst.pk, 0) >= settings.TRANSIENT_ALERT_AFTER:
        queue.raise_exception(
            catalogue.TRANSPORT_SEKO_UNAVAILABLE, catalogue.system_key("seko"),
            f"Seko did not take products (last: {worst.note}). Items are retried on their own with backoff.",
        )


# --- 3. Tell Blue Cherry ----------------------------------------------------------------------

def set_owed_items_live(limit: int | None = None) -> int:
    """Set LIVE in Blue Cherry, in one call (``POST items/status``), a batch of the items Seko
    has acknowledged and Blue Cherry has not been told about. The batch is claimed first (one
    compare-and-swap on the claim token), so two workers never tell Blue Cherry the same item;
    a claim left by a worker that died is released by ``recover_stale_item_claims``, and setting
    LIVE again is harmless there. Returns how many went LIVE."""
    token, owed = claim_owed_live(min(limit or settings.ITEM_BATCH_SIZE, MAX_STATUS_UPDATES))
    if not owed:
        return 0
    try:
        with bluecherry_client() as client:
            replies = client.set_item_statuses([(item.sku, BC.LIVE, item.sku) for item in owed])
    except (Transient, Unauthorized, MalformedPayload) as error:
        _release_live_claim(token)  # still owed: the next batch takes them again
        queue.raise_exception(
            catalogue.TRANSPORT_BLUECHERRY_UNAVAILABLE, catalogue.system_key("bluecherry"),
            f"Blue Cherry did not take item statuses (last: {error}). They are retried on their own.",
        )
        return 0
    except Rejected as error:  # the whole request refused: each item has that answer
        replies = [error] * len(owed)
    try:
        return _take_live_replies(owed, replies)
    finally:
        _release_live_claim(token)


def claim_owed_live(limit: int) -> tuple[str, list[Item]]:
    """Claim up to ``limit`` items Seko acknowledged (SENT) that no worker is telling Blue
    Cherry about: one compare-and-swap sets this worker's token on them."""
    token = uuid.uuid4().hex
    candidates = list(Item.objects.filter(sync_status=Sync.SENT, claim_token="").order_by("id")
                      .values_list("pk", flat=True)[:limit])
    if not candidates:
        return token, []
    Item.objects.filter(pk__in=candidates, sync_status=Sync.SENT, claim_token="").update(
        claim_token=token, claimed_at=timezone.now())
    return token, list(Item.objects.filter(claim_token=token, sync_status=Sync.SENT).order_by("id").only("pk", "sku"))


def _release_live_claim(token: str) -> None:
    Item.objects.filter(claim_token=token).update(claim_token="", claimed_at=None)


def _take_live_replies(owed: list[Item], replies: list[dict[str, Any] | Rejected]) -> int:
    """Write what Blue Cherry answered for each item of a LIVE batch; returns how many went LIVE."""
    taken = [reply for reply in replies if isinstance(reply, dict)]
    done = [item.sku for item, reply in zip(owed, replies, strict=True) if isinstance(reply, dict)]
    # Blue Cherry's answer is the item's new version (LIVE, a later updated_at): taking it
    # into the mirror now means the next pull does not see it as a change.
    apply_items(taken)
    now = timezone.now()
    Item.objects.filter(sku__in=done, live_at__isnull=True).update(live_at=now)
    # Should Blue Cherry not have moved updated_at, the version above was not newer: say LIVE.
    still_sent = list(Item.objects.filter(sku__in=done, sync_status=Sync.SENT).values_list("sku", flat=True))
    if still_sent:
        Item.objects.filter(sku__in=still_sent, sync_status=Sync.SENT).update(
            bc_status=BC.LIVE, sync_status=Sync.LIVE, sync_changed_at=now)
        _release_orders(still_sent)

    for item, reply in zip(owed, replies, strict=True):
        refused = isinstance(reply, Rejected) and Item.objects.filter(pk=item.pk, sync_status=Sync.SENT).update(
            sync_status=Sync.FAILED, last_error=reply.remote_message[:2000], sync_changed_at=now)
        if refused:
            queue.raise_exception(
                catalogue.ITEM_SYNC_FAILED, catalogue.sku_key(item.sku),
                f"Seko has the product {item.sku}, but Blue Cherry refused to set it LIVE: {reply.remote_message}",
                sku=item.sku,
            )
    if done:
        queue.auto_resolve(catalogue.system_key("bluecherry"), [catalogue.TRANSPORT_BLUECHERRY_UNAVAILABLE])
        recovery.system_answered(recovery.BLUECHERRY)
    return len(done)


# --- Retry from the exception queue -------------------------------------------------------------

# The kinds a resend can settle: Seko refused the product (it may have fixed its side since, or
# the refusal was Blue Cherry's LIVE step) or holds a different one. Not ``item.invalid``: our
# own check fails the same data the same way, and a corrected item is taken by the pull.
RESENDABLE_KINDS = frozenset({catalogue.ITEM_SYNC_FAILED.code, catalogue.ITEM_MASTER_MISMATCH.code})


class ResendRefused(Exception):
    """The item cannot be sent again; the message says why. Nothing was changed."""


def resend_item(sku: str) -> str:
    """Send the item to Seko again as Blue Cherry has it now: fetch it, take that version into
    the mirror, and put it back in the send queue whatever Seko was last sent (a product Seko
    fixed or lost on its side is the same version to us). The workers send it: validate, map,
    submit or update, then set LIVE. Returns what was done, in words."""
    with bluecherry_client() as client, messagelog.buffered():
        try:
            payload = client.get_item(sku)
        except NotFound:
            raise ResendRefused(f"Blue Cherry has no item {sku}, so there is nothing to send to Seko. "
                                "Nothing was changed.") from None
    apply_items([payload])  # a newer version is taken exactly as the pull would take it
    row = Item.objects.filter(sku=sku).only("pk", "bc_status", "sync_status").first()
    if row is None:
        raise ResendRefused(f"Blue Cherry's item {sku} could not be read; see the integration.malformed_record "
                            "exception about it. Nothing was changed.")
    if row.bc_status not in FOR_THE_WAREHOUSE:
        raise ResendRefused(f"{sku} is {row.bc_status or 'without a status'} in Blue Cherry; only PENDING_WMS and "
                            "LIVE items go to Seko. Nothing was sent.")
    now = timezone.now()
    # Compare-and-swap: an item a worker is sending right now is left to that worker.
    queued = Item.objects.filter(pk=row.pk).exclude(sync_status=Sync.SENDING).update(
        sync_status=Sync.PENDING, sync_changed_at=now, next_attempt_at=None, sync_attempts=0)
    if not queued:
        return f"{sku} is being sent to Seko right now; its outcome closes or updates this exception."
    return f"{sku} fetched from Blue Cherry again and queued to be sent to Seko as Blue Cherry has it now."


def recover_stale_item_claims() -> int:
    """Items left SENDING by a worker that died go back to pending (sending again is safe: a
    submit Seko already took falls back to update), and LIVE batches it had claimed are freed."""
    cutoff = timezone.now() - timedelta(seconds=settings.ORDER_LEASE_SECONDS)
    resend = Item.objects.filter(sync_status=Sync.SENDING, claimed_at__lt=cutoff).update(
        sync_status=Sync.PENDING, claim_token="", next_attempt_at=None)
    # A LIVE batch claimed by a worker that died: still owed, free for the next one to take.
    retell = Item.objects.filter(sync_status=Sync.SENT, claimed_at__lt=cutoff).exclude(claim_token="").update(
        claim_token="", claimed_at=None)
    return resend + retell


# --- Helpers ----------------------------------------------------------------------------------

class ThreadedClients:
    """``ITEM_SYNC_CONCURRENCY`` threads, each with its own client (a requests session is not
    meant to be shared between threads), running ``work(client, item)``; kept for a whole run
    so the next batch's calls start while this one's outcomes are written. Each task runs in a
    copy of the submitting thread's context, so the message log buffer set by the caller
    collects the exchanges; ``work`` must not touch the database. On the way out by an error,
    the calls not started are dropped (their items stay claimed until the lease runs out)."""

    def __init__(self, make_client: Callable[[], Any], workers: int | None = None):
        self._make_client = make_client
        self._workers = max(1, workers or settings.ITEM_SYNC_CONCURRENCY)
        self._local = threading.local()
        self._clients: list[Any] = []
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    def __enter__(self) -> ThreadedClients:
        self._pool = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="items")
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        assert self._pool is not None
        self._pool.shutdown(wait=True, cancel_futures=kind is not None)
        for client in self._clients:
            client.close()

    def submit(self, work: Callable[[Any, Item], T], item: Item) -> Future[T]:
        assert self._pool is not None, "use ThreadedClients in a with block"
        return self._pool.submit(contextvars.copy_context().run, self._run, work, item)

    def _run(self, work: Callable[[Any, Item], T], item: Item) -> T:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = self._make_client()
            with self._lock:
                self._clients.append(client)
        return work(client, item)


def _resolve_where_open(trace_keys: list[str], kinds: list[catalogue.Kind], note: str) -> None:
    """``auto_resolve`` for the keys that have an open exception of ``kinds``: one read per
    chunk of keys finds the few that do."""
    codes = [kind.code for kind in kinds]
    for start in range(0, len(trace_keys), CHUNK):
        open_keys = set(IntegrationException.objects.filter(
            status=IntegrationException.Status.OPEN, kind__in=codes, trace_key__in=trace_keys[start:start + CHUNK],
        ).values_list("trace_key", flat=True))
        for key in sorted(open_keys):
            queue.auto_resolve(key, kinds, note)


def _release_orders(skus: list[str]) -> None:
    skus_went_live.send(sender=Item, skus=skus)
