"""What the integration knows: orders and lines, the item mirror, the cross-reference tables,
every message in and out, and the cursors of the pulls.

Blue Cherry owns orders and items; these rows are our working copy plus our own state
(``Order.status``). State changes go through compare-and-swap updates in the flows
(``filter(pk=..., status=old).update(...)``), never a bare ``save()`` of an important row.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords


class Item(models.Model):
    """Mirror of a Blue Cherry item (SKU), pulled with the ``items`` cursor."""

    class BCStatus(models.TextChoices):
        DRAFT = "DRAFT"
        PENDING_WMS = "PENDING_WMS"
        LIVE = "LIVE"
        DISCONTINUED = "DISCONTINUED"

    sku = models.CharField(max_length=100, unique=True)
    upc = models.CharField(max_length=32, blank=True)
    description = models.CharField(max_length=255, blank=True)
    style = models.CharField(max_length=50, blank=True)
    color_code = models.CharField(max_length=50, blank=True)
    size = models.CharField(max_length=20, blank=True)
    bc_status = models.CharField(max_length=20, choices=BCStatus.choices, db_index=True)
    bc_updated_at = models.DateTimeField()
    raw = models.JSONField(default=dict)
    synced_at = models.DateTimeField(auto_now=True)

    # --- Item master sync to Seko (issue 4; integration/items/flow.py) ---------------------
    # A SKU is sellable only when Seko has acknowledged its product and it is LIVE in Blue
    # Cherry. Fingerprints (item_mapper.fingerprint) say whether the version Seko holds is the
    # one Blue Cherry has now, so a touch that changes nothing Seko keeps is never re-sent.
    class SyncStatus(models.TextChoices):
        NOT_READY = "not_ready", "Not for the warehouse (DRAFT or DISCONTINUED)"
        PENDING = "pending", "Waiting to be sent to Seko"
        SENDING = "sending", "Being sent to Seko"
        SENT = "sent", "At Seko; Blue Cherry not yet set LIVE"
        LIVE = "live", "At Seko and LIVE"
        INVALID = "invalid", "Invalid: waiting for a fix in Blue Cherry"
        FAILED = "failed", "Refused: waiting for a fix"

    sync_status = models.CharField(max_length=12, choices=SyncStatus.choices, default=SyncStatus.PENDING,
                                   db_index=True)
    bc_fingerprint = models.CharField(max_length=40, blank=True, help_text="The product Blue Cherry's version makes")
    seko_fingerprint = models.CharField(max_length=40, blank=True, help_text="The product Seko last acknowledged")
    seko_acknowledged_at = models.DateTimeField(null=True, blank=True, db_index=True)
    live_at = models.DateTimeField(null=True, blank=True, help_text="When we set it LIVE in Blue Cherry")
    problems = models.JSONField(default=list, blank=True)
    last_error = models.TextField(blank=True)
    sync_attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # A worker claims a batch with one compare-and-swap (PENDING -> SENDING, its token).
    claim_token = models.CharField(max_length=32, blank=True, db_index=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sync_changed_at = models.DateTimeField(null=True, blank=True, db_index=True)

    def __str__(self) -> str:
        return self.sku

    @property
    def is_sellable(self) -> bool:
        return self.bc_status == self.BCStatus.LIVE and self.seko_acknowledged_at is not None


class WarehouseMapping(models.Model):
    """Blue Cherry location code <-> Seko DC code. Used both ways."""

    bc_location = models.CharField("Blue Cherry location", max_length=20, unique=True)
    seko_dc_code = models.CharField("Seko DC code", max_length=20)
    description = models.CharField(max_length=100, blank=True)
    active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["bc_location"]

    def __str__(self) -> str:
        return f"{self.bc_location} -> {self.seko_dc_code}"


class CarrierMapping(models.Model):
    """Blue Cherry ship-via code <-> Seko courier name and service. Used both ways: orders go
    out with the Seko pair, dispatches come back as the Blue Cherry ship-via."""

    bc_ship_via = models.CharField("Blue Cherry ship-via", max_length=20, unique=True)
    seko_courier_name = models.CharField("Seko courier", max_length=50)
    seko_courier_service = models.CharField("Seko service", max_length=50)
    # Seko's dispatch confirmation may name the service as text ("Next Day") rather than the code
    # we sent (Seko's "Push Dispatch Confirmation" page): matched back by name + this description.
    seko_service_description = models.CharField(
        "Seko service as Seko describes it", max_length=100, blank=True,
        help_text='How Seko names the service in words on a dispatch, e.g. "Next Day"')
    service_level = models.CharField(max_length=20, blank=True, help_text="e.g. NEXTDAY, STANDARD")
    description = models.CharField(max_length=100, blank=True)
    active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        # Several Blue Cherry ship-vias may use one Seko service (many to one): the way back from
        # a dispatch needs no uniqueness, because the order knows the ship-via it was sent with.
        ordering = ["bc_ship_via"]

    def __str__(self) -> str:
        return f"{self.bc_ship_via} -> {self.seko_courier_name}/{self.seko_courier_service}"


class Order(models.Model):
    """A Blue Cherry sales order as the integration handles it."""

    class Status(models.TextChoices):
        RECEIVED = "received", "Waiting to be validated and sent"
        QUARANTINED = "quarantined", "Quarantined: waiting for a fix"
        SENDING = "sending", "Being sent to Seko"
        SENT = "sent", "Sent for fulfilment"
        REJECTED = "rejected", "Rejected by Seko"
        DISPATCHED = "dispatched", "Dispatched"
        PARTIALLY_DISPATCHED = "partially_dispatched", "Dispatched short (remainder cancelled)"
        CANCELLED = "cancelled", "Cancelled"
        CANCEL_REFUSED = "cancel_refused", "Cancel refused: will ship"
        WITHDRAWN = "withdrawn", "Withdrawn from fulfilment by a person"

    ord_num = models.CharField(max_length=50, unique=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RECEIVED, db_index=True)
    bc_status = models.CharField(max_length=20, db_index=True)
    bc_updated_at = models.DateTimeField()
    customer = models.CharField(max_length=50, blank=True)
    channel = models.CharField(max_length=20, blank=True)
    location = models.CharField(max_length=20, db_index=True)
    ship_via = models.CharField(max_length=20, db_index=True)
    currency = models.CharField(max_length=3, blank=True)
    order_date = models.DateTimeField(null=True, blank=True)
    ship_to = models.JSONField(default=dict)
    raw = models.JSONField(default=dict, help_text="The order as Blue Cherry last returned it")
    # Validation problems found the last time the order was checked: [{"kind", "message", ...}].
    problems = models.JSONField(default=list, blank=True)

    # Sending: a worker claims the order (status SENDING, claimed_at); a transient failure puts
    # it back with next_attempt_at in the future.
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # Which claim took it (issue 9): a batch is claimed with one UPDATE and read back by its token.
    claim_token = models.CharField(max_length=32, blank=True, default="")
    last_error = models.TextField(blank=True)

    seko_guid = models.CharField(max_length=64, blank=True, db_index=True)
    seko_dc_code = models.CharField(max_length=20, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # Blue Cherry told (pick ticket -> PICKING); null while that is still owed.
    pick_ticket_at = models.DateTimeField(null=True, blank=True)
    # Set when Seko's dispatch confirmation is accepted (the dispatch-confirmation flow).
    dispatched_at = models.DateTimeField(null=True, blank=True, db_index=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    # A held order a person chose to take out of fulfilment instead of fixing it: who and why.
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_by = models.CharField(max_length=150, blank=True)
    withdrawn_reason = models.TextField(blank=True)
    # A later time CX agreed with the customer for the order to leave the warehouse by (null: the
    # SLA's promise). The overdue monitor measures lateness against it instead of reopening an
    # alert that a person closed while the order still waits.
    promised_dispatch_by = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="order_due_idx")]

    def __str__(self) -> str:
        return self.ord_num


# The order as Blue Cherry sent it: kilobytes of JSON per order, shown on the order's own page and
# not in lists; a list that loads it decodes it for every row.
ORDER_DOCUMENT_FIELDS = ("raw", "ship_to")
# The same fields reached from a row that points at its order (an exception's), for `.defer()`.
ORDER_DOCUMENT_VIA_RELATION = tuple(f"order__{name}" for name in ORDER_DOCUMENT_FIELDS)


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    line_no = models.PositiveIntegerField()
    sku = models.CharField(max_length=100, db_index=True)
    upc = models.CharField(max_length=32, blank=True)
    qty_ordered = models.IntegerField()
    qty_shipped = models.IntegerField(default=0)
    qty_cancelled = models.IntegerField(default=0)
    unit_price = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    # Seko rejects a repeated ProductCode, so lines repeating a SKU go as one Seko line; this
    # remembers which Seko line covers this Blue Cherry line (for the dispatch coming back).
    seko_line_number = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["order", "line_no"]
        constraints = [models.UniqueConstraint(fields=["order", "line_no"], name="one_line_no_per_order")]

    def __str__(self) -> str:
        return f"{self.order_id}/{self.line_no} {self.sku} x{self.qty_ordered}"


class MessageLog(models.Model):
    """Every request and response in and out, with timing, linked to its order where there is one.
    URLs and bodies are stored with secrets removed (the clients do that)."""

    class Direction(models.TextChoices):
        OUT = "out", "Outbound"
        IN = "in", "Inbound"

    direction = models.CharField(max_length=3, choices=Direction.choices, default=Direction.OUT)
    system = models.CharField(max_length=20, db_index=True)  # "seko" | "bluecherry"
    operation = models.CharField(max_length=60, db_index=True)
    method = models.CharField(max_length=8)
    url = models.CharField(max_length=2048)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    request_body = models.TextField(blank=True)
    response_body = models.TextField(blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.system} {self.method} {self.operation} {self.status_code}"


class OrderEvent(models.Model):
    """A status change or notable step of an order, for its timeline."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.order_id} {self.from_status}->{self.to_status}"


class SyncCursor(models.Model):
    """Where a pull got to, and when it last succeeded (for the stalled-flow alert)."""

    name = models.CharField(max_length=50, unique=True)
    position = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    # One pull per cursor at a time: taken with a compare-and-swap, expires if a worker dies.
    locked_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} @ {self.position}"


# --- Dispatch confirmations: Seko -> Blue Cherry (issue 5) --------------------------------------
# The webhook stores each POST raw (InboundPush) before anything else; workers split it into the
# parts Seko numbered (PushPart, de-duplicated by InterfaceRecordId + SequenceNumber +
# MessagePart), assemble a DispatchConfirmation's parts into one Dispatch (one per DispatchId),
# check it against the data contract and post it to Blue Cherry as one shipment.


class InboundPush(models.Model):
    """One POST from Seko, exactly as it arrived. Kept whatever happens to it, so nothing
    received is lost; workers claim pending rows in batches (PENDING -> PROCESSING by CAS)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for a worker"
        PROCESSING = "processing", "Being processed"
        PROCESSED = "processed", "Processed"
        REJECTED = "rejected", "Refused at the door (kept for inspection)"
        FAILED = "failed", "Could not be processed"

    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING, db_index=True)
    body = models.TextField(help_text="The raw body, as received")
    content_type = models.CharField(max_length=200, blank=True)
    # Standard Webhooks message id, when the sender signs (never the Authorization header).
    webhook_id = models.CharField(max_length=200, blank=True)
    records = models.PositiveIntegerField(default=0)
    repeats = models.PositiveIntegerField(default=0, help_text="Parts in it that had already arrived")
    claimed_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"push #{self.pk} ({self.status})"


class PushPart(models.Model):
    """One delivered part of a Seko message. Its type and the triple below name it; the same again
    is a repeat (counted in ``repeats``, otherwise ignored).

    StockAdjustment parts are only stored here for now (``applied_at`` stays null): applying them
    to stock positions is the stock flow's job (issue 6)."""

    DISPATCH = "DispatchConfirmation"
    TRACKING = "TrackingDetails"
    STOCK = "StockAdjustment"
    STATUS_MOVEMENT = "StockStatusMovement"
    OVERNIGHT_SUMMARY = "StockOvernightSummary"

    push = models.ForeignKey(InboundPush, null=True, blank=True, on_delete=models.SET_NULL, related_name="parts")
    type = models.CharField(max_length=30, db_index=True)
    interface_record_id = models.CharField(max_length=64)
    sequence_number = models.CharField(max_length=64)
    message_part = models.PositiveIntegerField(default=1)
    message_total = models.PositiveIntegerField(default=1)
    message_group_id = models.CharField(max_length=100, db_index=True)
    # What the part is about: DispatchId (confirmation), DispatchNumber (tracking), ProductCode (stock).
    ref = models.CharField(max_length=100, blank=True, db_index=True)
    sales_order_number = models.CharField(max_length=50, blank=True, db_index=True)
    fields = models.JSONField(help_text="The record, normalised by the Seko client")
    repeats = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField(auto_now_add=True)
    # Set when the part has been used (assembled into a dispatch, tracking applied, stock applied).
    applied_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            # Per type: Seko numbers each push service on its own, and a tracking message may carry
            # the same InterfaceRecordId (the order's GUID) as its dispatch confirmation.
            models.UniqueConstraint(fields=["type", "interface_record_id", "sequence_number", "message_part"],
                                    name="one_push_part_per_type_and_identity"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.interface_record_id}/{self.sequence_number}/{self.message_part}"


class Dispatch(models.Model):
    """One dispatch (a DispatchId), assembled from its parts or fetched by the poll, and what
    became of it: quarantined against the data contract, or posted once as a Blue Cherry shipment."""

    class Status(models.TextChoices):
        RECEIVED = "received", "Waiting to be checked and posted"
        POSTING = "posting", "Being posted to Blue Cherry"
        POSTED = "posted", "Posted to Blue Cherry"
        QUARANTINED = "quarantined", "Quarantined: waiting for a fix"
        # A person settled it outside the integration (Seko shipped something we never sent, or
        # the shipment was keyed by hand in Blue Cherry): never posted, kept with who and why.
        SET_ASIDE = "set_aside", "Set aside by a person: handled by hand, not posted"

    class Source(models.TextChoices):
        PUSH = "push", "Pushed by Seko"
        POLL = "poll", "Recovered by the poll"

    dispatch_id = models.CharField(max_length=100, unique=True)
    order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.SET_NULL, related_name="dispatches")
    ord_num = models.CharField(max_length=50, db_index=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RECEIVED, db_index=True)
    source = models.CharField(max_length=5, choices=Source.choices, default=Source.PUSH)
    confirmation = models.JSONField(help_text="The DispatchConfirmation, all parts assembled")
    # What ops filled in, and later TrackingDetails: laid over the confirmation when it is checked.
    overrides = models.JSONField(default=dict, blank=True)
    problems = models.JSONField(default=list, blank=True)
    repeats = models.PositiveIntegerField(default=0, help_text="Times the whole dispatch came again")
    short = models.BooleanField(default=False, help_text="Shipped less than was open (remainder cancelled)")
    shipment = models.JSONField(null=True, blank=True, help_text="What was posted to Blue Cherry")
    bc_ship_num = models.CharField(max_length=40, blank=True)
    bc_invoice_num = models.CharField(max_length=40, blank=True)
    # The tracking number Blue Cherry holds for the shipment: one that arrives after the shipment
    # was posted (Seko's TrackingDetails come in their own push) is owed to Blue Cherry until then.
    bc_tracking_number = models.CharField(max_length=100, blank=True)
    tracking_sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    posted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "dispatches"
        indexes = [
            # Every dispatch sync looks for posted dispatches that owe Blue Cherry a tracking
            # number: a handful among all posted ones, found without reading the rest.
            models.Index(fields=["posted_at"], condition=Q(status="posted", tracking_sent_at__isnull=True),
                         name="dispatch_tracking_owed_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.dispatch_id} ({self.ord_num}, {self.status})"

    @property
    def effective(self) -> dict:
        """The confirmation as it is checked: Seko's fields with the fill-ins laid over them."""
        return {**self.confirmation, **{k: v for k, v in self.overrides.items() if v not in (None, "")}}


# --- Stock: Seko free stock -> Blue Cherry available-to-sell (issue 6) --------------------------
# Positions per SKU and DC follow Seko's StockAdjustment pushes (each applied once, by identity)
# and are corrected by scheduled snapshots; the published figure is Seko free minus a buffer,
# sent to Blue Cherry only when it changed, and each batch followed to APPLIED or FAILED.


class StockPosition(models.Model):
    """Our running view of one SKU's free stock at one Seko DC, and what we last told Blue Cherry.

    Seko's free stock now = ``free`` (its last snapshot plus the adjustments since) minus the
    units of orders Seko accepted from us since that snapshot (flows/stock.py computes that)."""

    sku = models.CharField(max_length=100)
    dc_code = models.CharField(max_length=20)
    free = models.IntegerField(default=0, help_text="Seko free at the last snapshot, plus adjustments since")
    snapshot_at = models.DateTimeField(null=True, blank=True, help_text="When Seko's figure in `free` was read")
    last_correction = models.IntegerField(default=0, help_text="Snapshot minus our running figure, last snapshot")
    # Units Seko holds in location types that may not be sold (Quarantine, QC, Query, ...), by
    # type: kept beside the sellable figure so the Stock page can show them, never published.
    held = models.JSONField(default=dict, blank=True, help_text="{location type: units} not sellable")
    held_units = models.IntegerField(default=0, help_text="Sum of held")
    # The last figure computed, and why (the Stock page shows these).
    velocity = models.FloatField(default=0.0, help_text="Units per hour over the velocity window")
    buffer = models.IntegerField(default=0)
    buffer_reason = models.CharField(max_length=20, blank=True)
    available = models.IntegerField(null=True, blank=True)
    computed_at = models.DateTimeField(null=True, blank=True)
    # What Blue Cherry was last given (queued or applied); null: it must be sent (again).
    published_qty = models.IntegerField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    publication = models.ForeignKey("AtsPublication", null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    publish_error = models.CharField(max_length=500, blank=True,
                                     help_text="Blue Cherry refused this SKU; not sent again until the next snapshot")
    # The audit: Blue Cherry's channel_available, and how far it is from what it last applied from us.
    bc_channel_available = models.IntegerField(null=True, blank=True)
    bc_checked_at = models.DateTimeField(null=True, blank=True)
    bc_drift = models.IntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sku", "dc_code"]
        constraints = [models.UniqueConstraint(fields=["sku", "dc_code"], name="one_stock_position_per_sku_dc")]

    def __str__(self) -> str:
        return f"{self.sku}@{self.dc_code}: {self.free}"


class StockBufferOverride(models.Model):
    """A person's buffer for one SKU, used instead of the velocity buffer (never clamped)."""

    sku = models.CharField(max_length=100, unique=True)
    buffer = models.PositiveIntegerField()
    note = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(excluded_fields=["updated_at"])

    def __str__(self) -> str:
        return f"{self.sku}: {self.buffer}"


class StockMovement(models.Model):
    """One StockAdjustment part, applied once: a repeat of its identity (InterfaceRecordId +
    SequenceNumber + MessagePart) is never applied again. ``counted`` is False when Seko's
    snapshot, read after the movement happened, already included it."""

    class Kind(models.TextChoices):
        ADJUSTMENT = "adjustment", "Stock adjustment"
        STATUS_MOVEMENT = "status_movement", "Moved between location types"

    identity = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.ADJUSTMENT)
    sku = models.CharField(max_length=100, db_index=True)
    dc_code = models.CharField(max_length=20)
    # The location type the units moved in (a status movement: the one they moved to is in raw).
    location_type = models.CharField(max_length=100, blank=True)
    # The change to sellable free stock (0 when only held stock moved).
    delta = models.IntegerField()
    reason = models.CharField(max_length=100, blank=True)
    adjusted_at = models.DateTimeField(null=True, blank=True, db_index=True)
    counted = models.BooleanField(default=True)
    raw = models.JSONField(default=dict)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.identity} {self.sku}@{self.dc_code} {self.delta:+d}"


class StockSnapshot(models.Model):
    """One full read of Seko's free stock and how much it corrected our running positions."""

    class Source(models.TextChoices):
        RETRIEVE = "retrieve", "Read by us (Retrieve Stock Quantity)"
        OVERNIGHT = "overnight", "Pushed by Seko (Stock Overnight Summary)"

    dc_code = models.CharField(max_length=20, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.RETRIEVE)
    started_at = models.DateTimeField(db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    skus = models.PositiveIntegerField(default=0)
    skus_corrected = models.PositiveIntegerField(default=0, help_text="SKUs whose running figure was wrong")
    units_corrected = models.PositiveIntegerField(default=0, help_text="Sum of |snapshot - running figure|")
    drifted = models.PositiveIntegerField(default=0, help_text="SKUs beyond the drift tolerance")
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"snapshot {self.dc_code} {self.started_at:%Y-%m-%d %H:%M}"


class AtsPublication(models.Model):
    """One POST inventory/ats-updates batch, followed until Blue Cherry applied or failed it."""

    class Status(models.TextChoices):
        QUEUED = "QUEUED", "Queued in Blue Cherry"
        APPLIED = "APPLIED", "Applied: the channels see it"
        FAILED = "FAILED", "Failed in Blue Cherry"

    batch_id = models.CharField(max_length=60, unique=True)
    location = models.CharField(max_length=20)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    positions = models.JSONField(help_text="{sku: available_qty} as sent")
    count = models.PositiveIntegerField(default=0)
    posted_at = models.DateTimeField(db_index=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    errors = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-posted_at", "-id"]

    def __str__(self) -> str:
        return f"{self.batch_id} {self.location} {self.status}"
