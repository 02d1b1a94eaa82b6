"""Flow 4, stock: Seko free stock -> Blue Cherry available-to-sell, buffered (DESIGN.md).

The steps:

1. ``apply_stock_adjustments``: Seko's StockAdjustment pushes move our running positions, each
   part once however often it is delivered (its identity is stored with the movement, in the
   same transaction as the position change).
2. ``take_snapshot``: a scheduled full read of Seko's free stock (``stock/v3/quantity``,
   chunked under the query cap by the client) replaces the running figures and records how
   much it corrected; a correction beyond the tolerance is a ``stock.drift``.
3. ``publish_available``: per SKU ``max(0, free - buffer)`` (``stock_rules``), where free is the
   running position minus the units of orders Seko accepted from us since the snapshot; only
   figures that changed go to Blue Cherry, in batches.
4. ``follow_publications``: each batch is followed to APPLIED or FAILED (``stock.sync_failed``,
   closing itself on the next applied batch).
5. ``audit_bluecherry``: Blue Cherry's ``channel_available`` vs what it last applied from us.

Only Seko's physical free stock is ever published: Blue Cherry's own ATS (on hand + WIP) is
read by the audit and never used for a figure.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from exceptions import catalogue
from exceptions import services as queue
from exceptions.models import IntegrationException
from integration.clients.errors import ClientError, MalformedPayload, NotFound, Rejected, Transient, Unauthorized
from integration.clients.seko import PushRecord
from integration.models import (
    AtsPublication,
    Order,
    OrderLine,
    PushPart,
    StockBufferOverride,
    StockMovement,
    StockPosition,
    StockSnapshot,
    SyncCursor,
    WarehouseMapping,
)
from integration.shared import cursors
from integration.shared.systems import bluecherry_client, seko_client
from integration.stock import rules as stock_rules

log = logging.getLogger(__name__)

PUBLISH_LEASE = "stock.publish"
SNAPSHOT_LEASE = "stock.snapshot"
AUDIT_LEASE = "stock.audit"
# Rows per bulk write: large enough to be few statements, small enough for SQLite's variable cap.
BULK = 500
UPSERT_CHUNK = 5000  # rows per executemany of the positions' upsert (issue 9)

Status = Order.Status
# Orders whose lines are demand (velocity) and, once Seko accepted them, allocations of free stock.
NOT_DEMAND = [Status.CANCELLED]
AT_SEKO = [Status.SENT, Status.DISPATCHED, Status.PARTIALLY_DISPATCHED, Status.CANCEL_REFUSED]


def seko_drift_key(dc_code: str, sku: str) -> str:
    return f"stock:seko:{dc_code}:{sku}"


def bluecherry_drift_key(location: str, sku: str) -> str:
    return f"stock:bluecherry:{location}:{sku}"


def location_key(location: str) -> str:
    return f"stock:bluecherry:{location}"


def buffer_params() -> stock_rules.BufferParams:
    return stock_rules.BufferParams(
        lag_hours=stock_rules.lag_hours(settings.STOCK_PUSH_INTERVAL_MINUTES, settings.BLUECHERRY_BATCH_CYCLE_MINUTES),
        safety=settings.STOCK_SAFETY_FACTOR, minimum=settings.STOCK_BUFFER_MIN, maximum=settings.STOCK_BUFFER_MAX,
    )


@contextmanager
def lease(name: str, seconds: int | None = None) -> Iterator[bool]:
    """One run of ``name`` at a time across workers (compare-and-swap on a SyncCursor row, which
    expires if the worker dies). Yields False when another worker holds it. A run that ends
    without an exception records its success (for the stalled-flow alert)."""
    cursor = cursors.take_lease(name, seconds)
    if cursor is None:
        yield False
        return
    try:
        yield True
    except Exception as error:
        SyncCursor.objects.filter(pk=cursor.pk).update(locked_until=None, last_error=str(error)[:2000])
        raise
    SyncCursor.objects.filter(pk=cursor.pk).update(locked_until=None, last_success_at=timezone.now(), last_error="")


# --- 1. Stock pushes: adjustments and status movements -------------------------------------


def sellable_location_types() -> frozenset[str]:
    return stock_rules.sellable_types(settings.SEKO_SELLABLE_LOCATION_TYPES)


@dataclass
class AdjustmentResult:
    applied: int = 0  # changes applied: adjustment lines and status movements
    repeats: int = 0
    unreadable: int = 0
    # Moved by a snapshot that already included them (read after they happened).
    already_in_snapshot: int = 0
    skus: set[str] = field(default_factory=set)


# Parts whose records are stock changes, applied line by line; overnight summaries are snapshots.
CHANGE_PART_TYPES = (PushPart.STOCK, PushPart.STATUS_MOVEMENT)
STOCK_PART_TYPES = (*CHANGE_PART_TYPES, PushPart.OVERNIGHT_SUMMARY)


def apply_stock_adjustments(records: Iterable[PushRecord | dict[str, Any]]) -> AdjustmentResult:
    """Apply StockAdjustment and StockStatusMovement records (PushRecords; a bare dict is a
    StockAdjustment's fields) to the positions.

    Each change is applied once: an adjustment line is named by its message's InternalId and its
    LineInternalId, a status movement by its MovementID (or its part), and the movement row
    (keyed by that identity) is written in the same transaction as the position change. A change
    whose identity is already stored is a repeat. An unreadable header or line is not applied;
    it is kept raw on a ``stock.adjustment_unreadable`` exception and the other lines go on.
    Safe to call with the same records any number of times."""
    result = AdjustmentResult()
    sellable = sellable_location_types()
    parsed: dict[str, stock_rules.StockChange] = {}
    for record in records:
        kind, fields = (record.type, record.fields) if isinstance(record, PushRecord) else (PushPart.STOCK, record)
        if kind not in CHANGE_PART_TYPES:
            continue
        for change in _read_changes(kind, fields, sellable, result):
            if change.identity in parsed:
                result.repeats += 1  # the same change twice in one delivery
                continue
            parsed[change.identity] = change
    if parsed:
        _apply_changes(parsed, result)
    return result


def _read_changes(kind: str, fields: Any, sellable: frozenset[str],
                  result: AdjustmentResult) -> list[stock_rules.StockChange]:
    try:
        if kind == PushPart.STATUS_MOVEMENT:
            return [stock_rules.parse_status_movement(fields, sellable)]
        changes, unreadable = stock_rules.parse_adjustment_message(fields, sellable)
    except stock_rules.BadAdjustment as error:
        result.unreadable += 1
        _report_unreadable(kind, _part_name(fields), fields, error)
        return []
    header = {k: v for k, v in fields.items() if k != "List"}
    for number, (line, error) in enumerate(unreadable, start=1):
        result.unreadable += 1
        line_id = stock_rules.code_text(line.get("LineInternalId")) if isinstance(line, dict) else ""
        name = f"{stock_rules.code_text(fields.get('InternalId')) or _part_name(fields)}/{line_id or f'#{number}'}"
        _report_unreadable(kind, name, {**header, "Line": line}, error)
    return changes


def _part_name(fields: Any) -> str:
    if not isinstance(fields, dict):
        return "?"
    return (stock_rules.code_text(fields.get("InternalId")) or stock_rules.code_text(fields.get("MovementID"))
            or f"{fields.get('InterfaceRecordId')}/{fields.get('SequenceNumber')}/{fields.get('MessagePart') or 1}")


def _apply_changes(parsed: dict[str, stock_rules.StockChange], result: AdjustmentResult) -> None:
    with transaction.atomic():
        seen = set(StockMovement.objects.filter(identity__in=list(parsed)).values_list("identity", flat=True))
        result.repeats += len(seen)
        fresh = [change for identity, change in parsed.items() if identity not in seen]
        if not fresh:
            return
        positions = _positions_for_update({(c.sku, c.dc_code) for c in fresh})
        movements = []
        for change in fresh:
            position = positions[(change.sku, change.dc_code)]
            # A movement that happened before the snapshot was read is already in its figure.
            in_snapshot = bool(position.snapshot_at and change.adjusted_at
                               and change.adjusted_at < position.snapshot_at)
            if in_snapshot:
                result.already_in_snapshot += 1
            else:
                position.free += change.sellable
                if change.held:
                    position.held = stock_rules.add_held(position.held, change.held)
                    position.held_units = sum(position.held.values())
            movements.append(StockMovement(
                identity=change.identity[:200], kind=change.kind, sku=change.sku, dc_code=change.dc_code,
                location_type=change.location_type, delta=change.sellable, reason=change.reason,
                adjusted_at=change.adjusted_at, counted=not in_snapshot,
                # The held change is kept with the record: a snapshot read before the movement
                # puts it back on top of Seko's held figures (take_snapshot's "late" movements).
                raw=json.loads(json.dumps({**change.raw, HELD_CHANGE: change.held}, default=str)),
            ))
        # The unique identity makes a concurrent duplicate fail the whole transaction (nothing
        # half-written); the caller's retry then finds it stored and counts it as a repeat.
        StockMovement.objects.bulk_create(movements, batch_size=BULK)
        StockPosition.objects.bulk_update(list(positions.values()), ["free", "held", "held_units", "updated_at"],
                                          batch_size=BULK)
    result.applied = len(fresh)
    result.skus = {c.sku for c in fresh}


HELD_CHANGE = "HeldChange"  # our key in StockMovement.raw: {location type: signed units}


def apply_stock_parts(parts: Iterable[PushPart]) -> AdjustmentResult:
    """Stock parts the webhook stored (de-duplicated by their identity there): adjustments and
    status movements applied and marked applied in one transaction, so a part is never applied
    twice nor half-applied; overnight summaries taken once all parts of their message are here.
    Called by the push processing (flows/dispatches.py) for the parts it has just stored."""
    parts = [p for p in parts if p.type in STOCK_PART_TYPES and p.applied_at is None]
    groups = {p.message_group_id for p in parts if p.type == PushPart.OVERNIGHT_SUMMARY}
    changes = [p.pk for p in parts if p.type in CHANGE_PART_TYPES]
    result = AdjustmentResult()
    if changes:
        with transaction.atomic():
            # Locked, and only those still unapplied: another worker's parts are left to it.
            mine = list(PushPart.objects.select_for_update().filter(pk__in=changes, applied_at__isnull=True)
                        .order_by("id"))
            if mine:
                PushPart.objects.filter(pk__in=[p.pk for p in mine]).update(applied_at=timezone.now())
                result = apply_stock_adjustments([PushRecord(type=p.type, fields=p.fields) for p in mine])
    for group in sorted(groups):
        take_overnight_summary(group)
    return result


def apply_pending_stock_parts(limit: int = 1000) -> int:
    """The safety net: stock parts stored but not applied yet (a worker died between storing and
    applying). An overnight summary still missing parts stays pending. Returns how many were
    looked at."""
    taken, after = 0, 0
    while True:
        batch = list(PushPart.objects.filter(type__in=STOCK_PART_TYPES, applied_at__isnull=True, id__gt=after)
                     .order_by("id")[:limit])
        if not batch:
            return taken
        apply_stock_parts(batch)
        taken += len(batch)
        after = batch[-1].pk


def _positions_for_update(keys: set[tuple[str, str]]) -> dict[tuple[str, str], StockPosition]:
    """The positions for ``keys``, created at 0 where missing, locked for this transaction."""
    StockPosition.objects.bulk_create([StockPosition(sku=sku, dc_code=dc) for sku, dc in keys],
                                      ignore_conflicts=True, batch_size=BULK)
    skus = {sku for sku, _ in keys}
    rows = StockPosition.objects.select_for_update().filter(sku__in=skus)
    now = timezone.now()
    found = {}
    for row in rows:
        if (row.sku, row.dc_code) in keys:
            row.updated_at = now
            found[(row.sku, row.dc_code)] = row
    return found


def _report_unreadable(kind: str, name: str, fields: Any, error: Exception) -> None:
    raw = json.dumps(fields, indent=2, default=str)
    sku = ""
    if isinstance(fields, dict):
        line = fields.get("Line") if isinstance(fields.get("Line"), dict) else fields
        sku = stock_rules.code_text(line.get("ProductCode"))
    what = {PushPart.STATUS_MOVEMENT: "stock status movement",
            PushPart.OVERNIGHT_SUMMARY: "stock overnight summary"}.get(kind, "stock adjustment")
    queue.raise_exception(
        catalogue.STOCK_ADJUSTMENT_UNREADABLE, f"push:{kind}:{name}"[:200],
        f"A {what} from Seko ({name}) was not applied: {error}.",
        sku=sku[:100], response_payload=raw,
    )


# --- 2. Snapshots: Retrieve Stock Quantity, and Seko's Stock Overnight Summary --------------


@dataclass
class SnapshotResult:
    skus: int = 0
    skus_corrected: int = 0
    units_corrected: int = 0
    drifted: int = 0


def take_snapshot(dc_code: str | None = None, product_codes: list[str] | None = None) -> SnapshotResult:
    """Read Seko's stock (every SKU, or ``product_codes`` in chunks under the query cap) for each
    mapped DC and make it our running figure, recording what it corrected."""
    total = SnapshotResult()
    with lease(SNAPSHOT_LEASE) as mine:
        if not mine:
            return total
        dcs = [dc_code] if dc_code else _mapped_dcs()
        with seko_client() as seko:
            for dc in dcs:
                one = _snapshot_dc(seko, dc, product_codes)
                for name in ("skus", "skus_corrected", "units_corrected", "drifted"):
                    setattr(total, name, getattr(total, name) + getattr(one, name))
    return total


def _mapped_dcs() -> list[str]:
    return sorted({dc for _, dc in warehouses_in_use()})


# Orders Seko holds for us: still to be picked, packed and dispatched at their DC.
UNDISPATCHED_AT_SEKO = [Order.Status.SENT, Order.Status.CANCEL_REFUSED]


def dc_has_work_or_stock(dc: str) -> bool:
    """True while Seko's DC ``dc`` holds orders of ours or stock we know of (sellable, held, or a
    figure Blue Cherry still shows from us). A position read as 0 and published as 0 is settled."""
    return (Order.objects.filter(status__in=UNDISPATCHED_AT_SEKO, seko_dc_code=dc).exists()
            or StockPosition.objects.filter(dc_code=dc).filter(
                Q(free__gt=0) | Q(held_units__gt=0) | Q(published_qty__gt=0)).exists())


def warehouses_in_use() -> list[tuple[str, str]]:
    """(Blue Cherry location, Seko DC) of every warehouse row the stock runs read, publish and
    audit: the active rows, and the inactive ones whose DC still has work or stock. Deactivating
    a row stops new orders only; dropping its DC at once would leave Blue Cherry showing a stale
    available figure for stock that is still there and still selling."""
    rows = list(WarehouseMapping.objects.order_by("bc_location").values_list("bc_location", "seko_dc_code", "active"))
    inactive_dcs = {dc for _, dc, active in rows if not active}
    busy = {dc for dc in inactive_dcs if dc_has_work_or_stock(dc)}
    return [(location, dc) for location, dc, active in rows if active or dc in busy]


# What publishing and the audit add up over the warehouses (defined further down).
ResultT = TypeVar("ResultT", "PublishResult", "AuditResult")


def _for_each_warehouse(lease_name: str, total: ResultT,
                        per_location: Callable[[Any, str, str], ResultT]) -> ResultT:
    """``per_location(client, location, dc)`` with one Blue Cherry client for every warehouse in
    use, each result added to ``total``; one run at a time across workers (``lease_name``), so
    when another worker holds the lease, ``total`` comes back as it was given."""
    with lease(lease_name) as mine:
        if not mine:
            return total
        mappings = warehouses_in_use()
        with bluecherry_client() as client:
            for location, dc in mappings:
                total.add(per_location(client, location, dc))
    return total


def _snapshot_dc(seko: Any, dc: str, product_codes: list[str] | None) -> SnapshotResult:
    # Seko stamps movements in whole seconds: a movement in the second the snapshot was asked for
    # is counted on top of it (at worst a one-off double count, which the next snapshot corrects)
    # rather than dropped.
    started = timezone.now().replace(microsecond=0)
    record = StockSnapshot.objects.create(dc_code=dc, started_at=started, source=StockSnapshot.Source.RETRIEVE)
    try:
        lines = seko.stock(product_codes=product_codes, dc=dc)
    except ClientError as error:
        StockSnapshot.objects.filter(pk=record.pk).update(finished_at=timezone.now(), error=str(error)[:2000])
        raise
    free, held = stock_rules.split_by_location(
        ((line.product_code, line.location_type, line.quantity) for line in lines if (line.dc_code or dc) == dc),
        sellable_location_types())
    result = _settle(dc, started, free, held, record, only=set(product_codes) if product_codes is not None else None)
    queue.auto_resolve(catalogue.system_key("seko"), [catalogue.TRANSPORT_SEKO_UNAVAILABLE], "Seko answered again")
    return result


def take_overnight_summary(group_id: str) -> list[SnapshotResult]:
    """Seko's Stock Overnight Summary (message group ``group_id``) taken as a snapshot of its DC
    once every part of the message is here: one part holds at most 100 SKUs, and a SKU left
    out of the whole message has no stock. Positions read more recently than the summary are
    left alone. Its parts are marked applied with it, once."""
    results = []
    with transaction.atomic():
        parts = list(PushPart.objects.select_for_update()
                     .filter(type=PushPart.OVERNIGHT_SUMMARY, message_group_id=group_id).order_by("message_part", "id"))
        pending = [p for p in parts if p.applied_at is None]
        if not pending:
            return results
        total = max(p.message_total for p in parts)
        if any(p.applied_at is not None for p in parts) or {p.message_part for p in parts} < set(range(1, total + 1)):
            if any(p.applied_at is not None for p in parts):  # a late copy of a summary already taken
                PushPart.objects.filter(pk__in=[p.pk for p in pending]).update(applied_at=timezone.now())
            return results  # otherwise wait for the other parts
        PushPart.objects.filter(pk__in=[p.pk for p in parts]).update(applied_at=timezone.now())
        by_dc: dict[str, list[stock_rules.OvernightLine]] = {}
        for part in parts:
            header = {k: v for k, v in part.fields.items() if k != "List"}
            for number, line in enumerate(stock_rules.message_lines(part.fields, "StockOvernightSummaryLineItem"),
                                          start=1):
                try:
                    read = stock_rules.parse_overnight_line(line, header)
                except stock_rules.BadAdjustment as error:
                    _report_unreadable(PushPart.OVERNIGHT_SUMMARY, f"{group_id}/{part.message_part}/#{number}",
                                       {**header, "Line": line}, error)
                    continue
                by_dc.setdefault(read.dc_code, []).append(read)
        for dc, lines in sorted(by_dc.items()):
            # The summary's own time; without one, when it reached us (pushes come within ~15 min).
            at = min((line.at for line in lines if line.at), default=None) or min(p.received_at for p in parts)
            at = at.replace(microsecond=0)
            free, held = stock_rules.split_by_location(
                ((line.sku, location_type, units) for line in lines for location_type, units in line.by_type.items()),
                sellable_location_types())
            for line in lines:  # a SKU listed with nothing sellable has 0 sellable, not "unknown"
                free.setdefault(line.sku, 0)
            record = StockSnapshot.objects.create(dc_code=dc, started_at=at, source=StockSnapshot.Source.OVERNIGHT)
            results.append(_settle(dc, at, free, held, record, only=None, newer_kept=True, orders_until=at))
    return results


def _settle(dc: str, started: datetime, free: dict[str, int], held: dict[str, dict[str, int]],
            record: StockSnapshot, *, only: set[str] | None, newer_kept: bool = False,
            orders_until: datetime | None = None) -> SnapshotResult:
    """Make Seko's figures at ``started`` (sellable ``free`` and ``held`` per SKU; a SKU not in
    them has none, unless ``only`` limits the read to some SKUs) our running positions, keeping
    on top what happened after ``started``, and record what it corrected.

    Orders Seko accepted within its order-to-stock lag before ``started`` may or may not be in
    its figures yet: such a SKU's running figure is kept when Seko's answer is consistent with
    it, and otherwise corrected only as far as the answer proves (``stock_rules.settle_snapshot``).
    ``newer_kept``: positions read from Seko after ``started`` are left alone (an overnight
    summary arriving after a later snapshot). ``orders_until``: orders accepted after it cannot
    be in Seko's figures (a summary made before they came); None for a read made just now,
    where an order accepted while it ran is counted as maybe in it."""
    tolerance = settings.STOCK_DRIFT_TOLERANCE
    result = SnapshotResult()
    drifting: dict[str, tuple[int, int]] = {}
    with transaction.atomic():
        existing = StockPosition.objects.select_for_update().filter(dc_code=dc)
        if only is not None:
            existing = existing.filter(sku__in=only)
        positions = {p.sku: p for p in existing}
        if newer_kept:
            newer = {sku for sku, p in positions.items() if p.snapshot_at and p.snapshot_at >= started}
            for sku in newer:
                positions.pop(sku)
                free.pop(sku, None)
                held.pop(sku, None)
        committed = _committed_by_basis(dc, positions.values(), until=orders_until, exclude_pk=record.pk)
        lag = timedelta(seconds=settings.SEKO_ORDER_STOCK_LAG_SECONDS)
        unsure = units_at_seko(dc, started - lag, orders_until)
        late, late_held = _late_movements(dc, started)
        rows = []
        for sku in sorted(set(positions) | set(free) | set(held)):
            position = positions.get(sku) or StockPosition(sku=sku, dc_code=dc)
            late_delta = late.get(sku, 0)
            running = position.free - late_delta - committed(position).get(sku, 0)
            seko_free = free.get(sku, 0)  # a SKU missing from a full answer has no free stock
            # A position never read from Seko (made by a movement that came first) has no
            # figure to correct: this read is its first.
            known = position.pk is not None and position.snapshot_at is not None
            settled = stock_rules.settle_snapshot(running, seko_free, unsure.get(sku, 0)) if known else seko_free
            correction = settled - running if known else 0
            if correction:
                result.skus_corrected += 1
                result.units_corrected += abs(correction)
            if known and stock_rules.drift(running, settled, tolerance) is not None:
                drifting[sku] = (running, settled)
            position.free = settled + late_delta
            position.held = stock_rules.add_held(held.get(sku, {}), late_held.get(sku, {}))
            position.held_units = sum(position.held.values())
            position.snapshot_at = started
            position.last_correction = correction
            position.publish_error = ""  # a SKU Blue Cherry refused is tried again after a snapshot
            position.updated_at = started
            rows.append(position)
        _upsert(rows, ["free", "held", "held_units", "snapshot_at", "last_correction", "publish_error"], touch=False)
        result.skus = len(rows)
        result.drifted = len(drifting)
        StockSnapshot.objects.filter(pk=record.pk).update(
            finished_at=timezone.now(), skus=result.skus, skus_corrected=result.skus_corrected,
            units_corrected=result.units_corrected, drifted=result.drifted,
        )
    source = "overnight summary" if record.source == StockSnapshot.Source.OVERNIGHT else "snapshot"
    for sku, (running, seko_free) in drifting.items():
        queue.raise_exception(
            catalogue.STOCK_DRIFT, seko_drift_key(dc, sku),
            f"Seko's {source} shows {seko_free} free for {sku} at {dc}, but our running position was {running} "
            f"(difference {seko_free - running:+d}): a stock movement was not received. The position is corrected.",
            sku=sku,
        )
    if only is None and not newer_kept:
        _close_settled_drift(f"stock:seko:{dc}:", set(drifting), "The next snapshot agreed with our running position")
    return result


def _late_movements(dc: str, started: datetime) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """Movements that happened after ``started`` were not in Seko's figures: their sellable
    change per SKU, and their held change per SKU and location type (few rows: those since)."""
    late: dict[str, int] = {}
    late_held: dict[str, dict[str, int]] = {}
    rows = StockMovement.objects.filter(dc_code=dc, counted=True, adjusted_at__gte=started).values_list(
        "sku", "delta", "raw")
    for sku, delta, raw in rows:
        late[sku] = late.get(sku, 0) + delta
        change = raw.get(HELD_CHANGE) if isinstance(raw, dict) else None
        if isinstance(change, dict) and change:
            by_type = late_held.setdefault(sku, {})
            for location_type, units in change.items():
                by_type[location_type] = by_type.get(location_type, 0) + int(units)
    return late, late_held


def _committed_by_basis(dc: str, positions: Iterable[StockPosition], *, until: datetime | None = None,
                        exclude_pk: int | None = None) -> Any:
    """A function giving, for a position, the units per SKU of orders Seko accepted since that
    position's own Seko figure was read (its ``snapshot_at``; the DC's last snapshot for one
    never read), up to ``until``. One query per distinct read time, and positions share a few."""
    fallback = _last_snapshot_start(dc, exclude_pk=exclude_pk)
    bases = {p.snapshot_at or fallback for p in positions}
    by_basis = {basis: committed_since(dc, basis, until) for basis in bases}

    def committed(position: StockPosition) -> dict[str, int]:
        return by_basis.get(position.snapshot_at or fallback) or {}

    return committed


def _last_snapshot_start(dc: str, exclude_pk: int | None = None) -> datetime | None:
    """When the figures in the positions were read from Seko (the latest complete snapshot)."""
    done = StockSnapshot.objects.filter(dc_code=dc, finished_at__isnull=False, error="").exclude(pk=exclude_pk)
    return done.order_by("-started_at", "-id").values_list("started_at", flat=True).first()


def _close_settled_drift(prefix: str, still_drifting: set[str], note: str) -> None:
    """Close the open drift exceptions under ``prefix`` whose SKU agrees again (one query to find
    them, so a snapshot of many SKUs does not ask once per SKU)."""
    open_keys = IntegrationException.objects.filter(
        kind=catalogue.STOCK_DRIFT.code, status=IntegrationException.Status.OPEN, trace_key__startswith=prefix,
    ).values_list("trace_key", flat=True)
    for key in list(open_keys):
        if key[len(prefix):] not in still_drifting:
            queue.auto_resolve(key, [catalogue.STOCK_DRIFT], note)


def units_at_seko(dc: str, since: datetime, until: datetime | None = None) -> dict[str, int]:
    """Units per SKU of orders Seko accepted from us in [since, until) that still held their
    stock at ``until`` (not cancelled before it)."""
    still_held = Q(order__status__in=AT_SEKO)
    if until is not None:
        still_held |= Q(order__status=Status.CANCELLED, order__cancelled_at__gte=until)
    lines = OrderLine.objects.filter(still_held, order__seko_dc_code=dc, order__sent_at__gte=since)
    if until is not None:
        lines = lines.filter(order__sent_at__lt=until)
    return dict(lines.values_list("sku").annotate(n=Sum("qty_ordered")).order_by())


def committed_since(dc: str, since: datetime | None, until: datetime | None = None) -> dict[str, int]:
    """Units per SKU that Seko allocated to orders from us since ``since`` (they left free stock
    there, and no push tells us), minus those it gave back on a cancel since then; up to
    ``until`` (now when None)."""
    if since is None:
        return {}
    sent = units_at_seko(dc, since, until)
    returned = OrderLine.objects.filter(order__seko_dc_code=dc, order__sent_at__lt=since,
                                        order__status=Status.CANCELLED, order__cancelled_at__gte=since)
    if until is not None:
        returned = returned.filter(order__cancelled_at__lt=until)
    for sku, units in returned.values_list("sku").annotate(n=Sum("qty_ordered")).order_by():
        sent[sku] = sent.get(sku, 0) - units
    return sent



# --- 3. Publish ----------------------------------------------------------------------------


@dataclass
class PublishResult:
    skus: int = 0
    changed: int = 0
    pushed: int = 0
    batches: int = 0
    error: str = ""

    def add(self, other: PublishResult) -> None:
        """Count in another location's publish; the first error is the one kept."""
        self.skus += other.skus
        self.changed += other.changed
        self.pushed += other.pushed
        self.batches += other.batches
        self.error = self.error or other.error


def sold_in_window(location: str, now: datetime, window_hours: float) -> dict[str, int]:
    """Units per SKU ordered for ``location`` in the window: the SKU's recent sales velocity."""
    since = now - timedelta(hours=window_hours)
    return dict(
        OrderLine.objects.filter(order__location=location, order__order_date__gte=since,
                                 order__order_date__lte=now)
        .exclude(order__status__in=NOT_DEMAND)
        .values_list("sku").annotate(n=Sum("qty_ordered")).order_by()
    )


# What compute_figures and _publish_location read of a position (see compute_figures).
PUBLISH_READS = ("id", "sku", "dc_code", "free", "snapshot_at", "velocity", "buffer", "buffer_reason", "available",
                 "published_qty", "publish_error")


def compute_figures(location: str, dc: str, now: datetime | None = None,
                    strategy: str = "dynamic", fixed_buffer: int = 0) -> tuple[list[StockPosition],
                                                                                dict[str, stock_rules.Figure]]:
    """The positions of ``dc`` and the figure each would publish for ``location`` now.
    ``strategy`` is for the oversell experiment: "none" (no buffer), "fixed" (``fixed_buffer``
    for every SKU) or "dynamic" (the velocity buffer, the product's behaviour)."""
    now = now or timezone.now()
    # Issue 9: only the columns the publish reads or compares. Profiled at 100,000 SKUs on
    # PostgreSQL, loading whole rows spent ~2 s of CPU parsing six timestamp columns nobody here
    # reads; the fields the publish then writes are all assigned before _upsert reads them, so
    # a deferred field is never fetched row by row.
    positions = list(StockPosition.objects.filter(dc_code=dc).only(*PUBLISH_READS))
    # Each position's orders are counted from when its own Seko figure was read.
    committed = _committed_by_basis(dc, positions)
    free = {p.sku: p.free - committed(p).get(p.sku, 0) for p in positions}
    window = settings.STOCK_VELOCITY_WINDOW_HOURS
    sold = sold_in_window(location, now, window) if strategy == "dynamic" else {}
    if strategy == "dynamic":
        overrides = dict(StockBufferOverride.objects.values_list("sku", "buffer"))
    else:
        overrides = {sku: (fixed_buffer if strategy == "fixed" else 0) for sku in free}
    return positions, stock_rules.plan(free, sold, window, buffer_params(), overrides)


def publish_available(now: datetime | None = None, strategy: str = "dynamic", fixed_buffer: int = 0) -> PublishResult:
    """Compute every SKU's figure and send Blue Cherry the ones that changed, in batches."""
    return _for_each_warehouse(PUBLISH_LEASE, PublishResult(), lambda client, location, dc: _publish_location(
        client, location, dc, now or timezone.now(), strategy, fixed_buffer))


def _publish_location(client: Any, location: str, dc: str, now: datetime, strategy: str,
                      fixed_buffer: int) -> PublishResult:
    positions, figures = compute_figures(location, dc, now, strategy, fixed_buffer)
    result = PublishResult(skus=len(positions))
    by_sku = {p.sku: p for p in positions}
    stamp = timezone.now()
    touched = []
    for position in positions:
        fig = figures[position.sku]
        if (position.velocity, position.buffer, position.buffer_reason, position.available) != (
                fig.velocity, fig.buffer, fig.reason, fig.available):
            position.velocity, position.buffer, position.buffer_reason = fig.velocity, fig.buffer, fig.reason
            position.available, position.computed_at = fig.available, stamp
            touched.append(position)

    sendable = {sku: fig.available for sku, fig in figures.items() if not by_sku[sku].publish_error}
    published = {p.sku: p.published_qty for p in positions}
    changes = stock_rules.changed(sendable, published)
    result.changed = len(changes)
    # Issue 9: a recomputed position that is also sent gets its figure written by its batch's
    # UPDATE, with what was sent, instead of by a write of its own first: the first publish of
    # 100,000 SKUs rewrote every row twice (figures, then publication), a 100,000-row write of
    # its own (~1.3 s of client CPU profiled on PostgreSQL, executemany on SQLite). The figures
    # of rows not sent, or left unsent by a failed batch, are written as before (the finally).
    unwritten = {p.sku for p in touched if p.sku in changes}
    _upsert([p for p in touched if p.sku not in unwritten], FIGURE_FIELDS)
    try:
        _send_batches(client, location, now, changes, by_sku, unwritten, result)
    finally:
        _upsert([by_sku[sku] for sku in sorted(unwritten)], FIGURE_FIELDS)
    return result


# The figure a publish computes for a position (the Stock page shows these).
FIGURE_FIELDS = ["velocity", "buffer", "buffer_reason", "available", "computed_at"]


def _send_batches(client: Any, location: str, now: datetime, changes: dict[str, int],
                  by_sku: dict[str, StockPosition], unwritten: set[str], result: PublishResult) -> None:
    """Send ``changes`` in batches and record each accepted batch on its positions, with the
    figures of those in ``unwritten`` (removed from it once written)."""
    for chunk in stock_rules.chunked(sorted(changes), settings.STOCK_PUSH_BATCH_SIZE):
        values = {sku: changes[sku] for sku in chunk}
        try:
            reply = client.post_ats_update(location, now, [{"sku": s, "available_qty": q} for s, q in values.items()])
        except Rejected as error:
            # Refused outright (the shape): nothing was queued. Told, and tried again next cycle.
            result.error = str(error)
            queue.raise_exception(
                catalogue.STOCK_SYNC_FAILED, location_key(location),
                f"Blue Cherry refused an available-to-sell update for {location}: {error.remote_message}",
                problems=[d for d in (error.details or []) if isinstance(d, dict)][:50],
                response_payload=error.exchange.response_body if error.exchange else "",
            )
            break
        except (Transient, Unauthorized, MalformedPayload) as error:
            # It may or may not have been queued; never re-posted blindly. The figures stay
            # unpublished here, so the next cycle sends the then-current figures (absolute
            # values: a late duplicate of this batch would be overwritten by the newer one).
            result.error = str(error)
            queue.raise_exception(
                catalogue.TRANSPORT_BLUECHERRY_UNAVAILABLE, catalogue.system_key("bluecherry"),
                f"Blue Cherry did not take available-to-sell updates (last: {error}). Sent again next cycle.",
            )
            break
        batch_id = str(reply.get("batch_id") or "")
        with transaction.atomic():
            publication = AtsPublication.objects.create(
                batch_id=batch_id, location=location, positions=values, count=len(values), posted_at=timezone.now(),
            )
            rows = [by_sku[sku] for sku in chunk]
            for row in rows:
                row.published_qty, row.published_at = values[row.sku], publication.posted_at
                row.publication = publication
            sent = ["published_qty", "published_at", "publication"]
            _upsert([row for row in rows if row.sku in unwritten], sent + FIGURE_FIELDS)
            _upsert([row for row in rows if row.sku not in unwritten], sent)
        unwritten.difference_update(chunk)
        result.pushed += len(values)
        result.batches += 1


def _upsert(rows: list[StockPosition], fields: list[str], *, touch: bool = True) -> None:
    """Write ``fields`` of positions (inserting those not there yet) with prepared statements
    run for every row (executemany): an UPDATE by id, or ``INSERT ... ON CONFLICT DO UPDATE``.

    Issue 9: profiled at 100,000 SKUs, Django's bulk_create(update_conflicts=True) spent most of
    the cycle building its SQL in Python, every column of every row through the field machinery.
    Here only datetimes are converted by their field; the statement is built once. On
    PostgreSQL the rows go by COPY instead (``_upsert_by_copy``)."""
    if not rows:
        return
    if touch:  # a snapshot stamps its rows with its own start instead
        now = timezone.now()
        for row in rows:
            row.updated_at = now
    meta = StockPosition._meta
    quote = connection.ops.quote_name
    adapted: dict[datetime, Any] = {}  # a cycle's rows share a few stamps: convert each once
    adapt = connection.ops.adapt_datetimefield_value

    def value(row: StockPosition, name: str, is_time: bool) -> Any:
        raw = getattr(row, name)
        if name in JSON_ATTNAMES:
            return json.dumps(raw)
        if not is_time or raw is None:
            return raw
        if raw not in adapted:
            adapted[raw] = adapt(raw)
        return adapted[raw]

    # Rows that exist: an UPDATE by primary key of just the fields asked for (the cheapest
    # write there is); rows that do not: an INSERT that updates instead if a concurrent writer
    # made the row meanwhile.
    changed = [meta.get_field(name) for name in [*fields, "updated_at"]]
    update_sql = (f"UPDATE {quote(meta.db_table)} SET {', '.join(f'{quote(f.column)} = %s' for f in changed)} "
                  f"WHERE {quote(meta.pk.column)} = %s")
    columns = [f for f in meta.concrete_fields if not f.primary_key]
    insert_sql = (f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in columns)}) "
                  f"VALUES ({', '.join(['%s'] * len(columns))}) "
                  f"ON CONFLICT ({quote('sku')}, {quote('dc_code')}) DO UPDATE SET "
                  + ", ".join(f"{quote(f.column)} = excluded.{quote(f.column)}" for f in changed))
    update_spec = [(f.attname, isinstance(f, models.DateTimeField)) for f in changed]
    insert_spec = [(f.attname, isinstance(f, models.DateTimeField)) for f in columns]
    existing = [row for row in rows if row.pk is not None]
    new = [row for row in rows if row.pk is None]
    if connection.vendor == "postgresql":
        if not new and len(existing) <= ARRAY_UPDATE_ROWS:
            _update_by_arrays(existing, changed)
        else:
            _upsert_by_copy(existing, new, changed, columns)
        return
    with connection.cursor() as cursor:
        for start in range(0, len(existing), UPSERT_CHUNK):
            cursor.executemany(update_sql, [[value(row, n, t) for n, t in update_spec] + [row.pk]
                                            for row in existing[start:start + UPSERT_CHUNK]])
        for start in range(0, len(new), UPSERT_CHUNK):
            cursor.executemany(insert_sql, [[value(row, n, t) for n, t in insert_spec]
                                            for row in new[start:start + UPSERT_CHUNK]])


# Positions' JSON columns: written as JSON text by the raw statements below.
JSON_ATTNAMES = frozenset(f.attname for f in StockPosition._meta.concrete_fields if isinstance(f, models.JSONField))


def _column_value(row: StockPosition, attname: str) -> Any:
    raw = getattr(row, attname)
    return json.dumps(raw) if attname in JSON_ATTNAMES else raw


# Up to this many rows with an id, PostgreSQL gets one UPDATE from arrays (_update_by_arrays)
# rather than the temporary table: a publish's batches are 1,000 (issue 9).
ARRAY_UPDATE_ROWS = 5000


def _update_by_arrays(rows: list[StockPosition], changed: list[models.Field]) -> None:
    """PostgreSQL: ``UPDATE ... FROM unnest(<one array per column>)``, one statement by id.

    Issue 9, EXPLAIN ANALYZE at 100,000 positions: the temporary table's UPDATE of a 1,000-row
    batch was planned as a hash join over a sequential scan of every position (the fresh table
    has no statistics), 63 ms a batch and growing with the table; unnest is estimated small, so
    it is a nested loop over the primary key, 16 ms, and one statement instead of the temporary
    table's five. In the bench the first publish's batches still wait ~57 ms each on the server
    (not explained by the plan: the same UPDATE on a fresh 100,000-row copy takes 10 ms)."""
    meta = StockPosition._meta
    quote = connection.ops.quote_name
    fields = [meta.pk, *changed]
    names = [quote(f.column) for f in fields]
    arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in fields)
    pk = quote(meta.pk.column)
    sql = (f"UPDATE {quote(meta.db_table)} AS t SET {', '.join(f'{n} = v.{n}' for n in names[1:])} "
           f"FROM unnest({arrays}) AS v({', '.join(names)}) WHERE t.{pk} = v.{pk}")
    with connection.cursor() as cursor:
        cursor.execute(sql, [[_column_value(row, f.attname) for row in rows] for f in fields])


def _upsert_by_copy(existing: list[StockPosition], new: list[StockPosition], changed: list[models.Field],
                    columns: list[models.Field]) -> None:
    """PostgreSQL: the rows go in by COPY to a temporary table, then one ``UPDATE ... FROM`` (rows
    with an id) and one ``INSERT ... SELECT ... ON CONFLICT DO UPDATE`` (rows without).

    Issue 9, measured at 100,000 SKUs: executemany's single-row statements cost PostgreSQL a
    round of parse, plan and execute each, inside psycopg's pipeline (Django binds parameters on
    the client, so nothing is prepared; a server-binding cursor measured no better): 9-10 s for
    the first snapshot's inserts and 5-6 s per 100,000 updates, against ~2.5 s by COPY, a third
    of the client CPU. ``rows`` must be one per (sku, dc_code), as every caller's are: ON
    CONFLICT cannot update a row twice in one statement."""
    quote = connection.ops.quote_name
    table, pk = quote(StockPosition._meta.db_table), quote(StockPosition._meta.pk.column)
    with transaction.atomic(), connection.cursor() as cursor:
        for rows, fields, with_pk in ((existing, changed, True), (new, columns, False)):
            if not rows:
                continue
            names = [quote(f.column) for f in fields]
            listed = ", ".join(([pk] if with_pk else []) + names)
            # ON COMMIT DROP for a transaction that fails midway; dropped at once otherwise, so
            # a caller's transaction can upsert again. Created from the table: same types.
            cursor.execute("DROP TABLE IF EXISTS pg_temp.stock_upsert")
            cursor.execute(f"CREATE TEMPORARY TABLE stock_upsert ON COMMIT DROP AS SELECT {listed} FROM {table} "
                           "WITH NO DATA")
            attnames = [f.attname for f in fields]
            with cursor.cursor.copy(f"COPY stock_upsert ({listed}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(([row.pk] if with_pk else []) + [_column_value(row, name) for name in attnames])
            if with_pk:
                cursor.execute(f"UPDATE {table} AS t SET {', '.join(f'{n} = s.{n}' for n in names)} "
                               f"FROM stock_upsert AS s WHERE t.{pk} = s.{pk}")
            else:
                updates = ", ".join(f"{q} = excluded.{q}" for q in (quote(f.column) for f in changed))
                cursor.execute(f"INSERT INTO {table} ({listed}) SELECT {listed} FROM stock_upsert "
                               f"ON CONFLICT ({quote('sku')}, {quote('dc_code')}) DO UPDATE SET {updates}")
            cursor.execute("DROP TABLE pg_temp.stock_upsert")



# --- 4. Follow the batches -----------------------------------------------------------------


@dataclass
class FollowResult:
    applied: int = 0
    failed: int = 0
    queued: int = 0


def follow_publications(limit: int = 200) -> FollowResult:
    """Ask Blue Cherry about every queued batch; record APPLIED or FAILED."""
    result = FollowResult()
    queued = list(AtsPublication.objects.filter(status=AtsPublication.Status.QUEUED).order_by("posted_at")[:limit])
    if not queued:
        return result
    with bluecherry_client() as client:
        for publication in queued:
            try:
                state = client.ats_batch(publication.batch_id)
            except NotFound:
                state = {"status": "FAILED", "errors": [{"message": "Blue Cherry does not know this batch"}]}
            except (Transient, Unauthorized, MalformedPayload) as error:
                log.warning("ATS batch %s not followed yet: %s", publication.batch_id, error)
                break
            status = str(state.get("status") or "")
            if status == "APPLIED":
                _applied(publication, state)
                result.applied += 1
            elif status == "FAILED":
                _failed(publication, state)
                result.failed += 1
            else:
                AtsPublication.objects.filter(pk=publication.pk).update(checked_at=timezone.now())
                result.queued += 1
    return result


def _applied(publication: AtsPublication, state: dict[str, Any]) -> None:
    applied_at = state.get("applied_at")
    changed = AtsPublication.objects.filter(pk=publication.pk, status=AtsPublication.Status.QUEUED).update(
        status=AtsPublication.Status.APPLIED, checked_at=timezone.now(),
        applied_at=_parse_time(applied_at) or timezone.now(),
    )
    if changed:
        queue.auto_resolve(location_key(publication.location), [catalogue.STOCK_SYNC_FAILED],
                           f"Batch {publication.batch_id} was applied")


def _failed(publication: AtsPublication, state: dict[str, Any]) -> None:
    errors = [e for e in (state.get("errors") or []) if isinstance(e, dict)]
    with transaction.atomic():
        changed = AtsPublication.objects.filter(pk=publication.pk, status=AtsPublication.Status.QUEUED).update(
            status=AtsPublication.Status.FAILED, checked_at=timezone.now(), errors=errors,
        )
        if not changed:
            return
        refused = {str(e.get("sku")): str(e.get("message") or "refused")[:500] for e in errors if e.get("sku")}
        rows = list(StockPosition.objects.filter(publication=publication))
        for row in rows:
            # Blue Cherry still shows its old figure: send it again (unless it refused the SKU).
            row.published_qty = None
            row.publish_error = refused.get(row.sku, "")
        _upsert(rows, ["published_qty", "publish_error"])
    summary = "; ".join(str(e.get("message")) for e in errors[:10]) or "no reason given"
    queue.raise_exception(
        catalogue.STOCK_SYNC_FAILED, location_key(publication.location),
        f"Blue Cherry FAILED available-to-sell batch {publication.batch_id} for {publication.location} "
        f"({publication.count} SKUs): {summary}. The channels still see the old figures.",
        problems=errors[:50], request_payload=json.dumps(publication.positions)[:100_000],
    )


def _parse_time(value: Any) -> datetime | None:
    try:
        return parse_datetime(str(value)) if value else None
    except ValueError:
        return None


# --- 5. Audit Blue Cherry ------------------------------------------------------------------


@dataclass
class AuditResult:
    checked: int = 0
    drifted: int = 0

    def add(self, other: AuditResult) -> None:
        """Count in another location's audit."""
        self.checked += other.checked
        self.drifted += other.drifted


def audit_bluecherry() -> AuditResult:
    """Blue Cherry's channel_available vs the figure it last applied from us, per SKU. Only
    figures whose batch was APPLIED are compared (one still queued is not yet wrong)."""
    return _for_each_warehouse(AUDIT_LEASE, AuditResult(), _audit_location)


def _audit_location(client: Any, location: str, dc: str) -> AuditResult:
    result = AuditResult()
    shown = {}
    for row in client.iter_inventory(location, page_size=500):
        if isinstance(row, dict) and row.get("sku"):
            shown[str(row["sku"])] = row.get("channel_available")
    tolerance = settings.STOCK_DRIFT_TOLERANCE
    now = timezone.now()
    positions = list(StockPosition.objects.filter(dc_code=dc, published_qty__isnull=False)
                     .select_related("publication"))
    drifting: dict[str, tuple[int, int | None]] = {}
    for position in positions:
        applied = position.publication is not None and position.publication.status == AtsPublication.Status.APPLIED
        if not applied:
            continue
        result.checked += 1
        channel = shown.get(position.sku)
        position.bc_channel_available = channel if isinstance(channel, int) else None
        position.bc_checked_at = now
        expected = position.published_qty or 0
        difference = stock_rules.drift(expected, position.bc_channel_available or 0, tolerance)
        position.bc_drift = (position.bc_channel_available or 0) - expected
        if difference is not None or position.bc_channel_available is None:
            drifting[position.sku] = (expected, position.bc_channel_available)
            position.published_qty = None  # so the next push sends the figure again
    _upsert([p for p in positions if p.bc_checked_at == now], ["bc_channel_available", "bc_checked_at", "bc_drift",
                                                                  "published_qty"])
    for sku, (expected, channel) in drifting.items():
        queue.raise_exception(
            catalogue.STOCK_DRIFT, bluecherry_drift_key(location, sku),
            f"Blue Cherry shows channel_available {channel} for {sku} at {location}, but it applied {expected} "
            f"from us: an update never took effect or was overwritten. The next push corrects it.",
            sku=sku,
        )
    result.drifted = len(drifting)
    _close_settled_drift(f"stock:bluecherry:{location}:", set(drifting), "Blue Cherry shows what we published")
    return result
