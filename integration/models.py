"""What the integration knows: orders and lines, the item mirror, the cross-reference tables,
every message in and out, and the cursors of the pulls.

Blue Cherry owns orders and items; these rows are our working copy plus our own state
(``Order.status``). State changes go through compare-and-swap updates in the flows
(``filter(pk=..., status=old).update(...)``), never a bare ``save()`` of an important row.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q


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

    def __str__(self) -> str:
        return self.sku

    @property
    def is_sellable(self) -> bool:
        return self.bc_status == self.BCStatus.LIVE


class WarehouseMapping(models.Model):
    """Blue Cherry location code <-> Seko DC code. Used both ways."""

    bc_location = models.CharField("Blue Cherry location", max_length=20, unique=True)
    seko_dc_code = models.CharField("Seko DC code", max_length=20)
    description = models.CharField(max_length=100, blank=True)
    active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

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
    service_level = models.CharField(max_length=20, blank=True, help_text="e.g. NEXTDAY, STANDARD")
    description = models.CharField(max_length=100, blank=True)
    active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["bc_ship_via"]
        constraints = [
            # The way back (Seko service -> ship-via) must be unambiguous.
            models.UniqueConstraint(
                fields=["seko_courier_name", "seko_courier_service"],
                condition=Q(active=True),
                name="one_active_ship_via_per_seko_service",
            )
        ]

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
        CANCEL_REFUSED = "cancel_refused", "Cancel refused by Seko"

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

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="order_due_idx")]

    def __str__(self) -> str:
        return self.ord_num


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
