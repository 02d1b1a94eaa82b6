"""The simulated ERP's state. Shapes follow contracts/bluecherry.md; order lines live in a
JSON column because the simulator only ever reads and rewrites them together with the order."""

from __future__ import annotations

from django.db import models

ITEM_STATUSES = ("DRAFT", "PENDING_WMS", "LIVE", "DISCONTINUED")
ORDER_STATUSES = ("OPEN", "HELD", "RELEASED", "PICKING", "SHIPPED", "INVOICED", "CANCELLED")
BATCH_STATUSES = ("QUEUED", "APPLIED", "FAILED")


class Item(models.Model):
    sku = models.CharField(max_length=80, unique=True)
    division = models.CharField(max_length=20, blank=True, default="")
    style = models.CharField(max_length=40, blank=True, default="")
    style_name = models.CharField(max_length=120, blank=True, default="")
    color_code = models.CharField(max_length=20, blank=True, default="")
    color_name = models.CharField(max_length=60, blank=True, default="")
    label = models.CharField(max_length=20, blank=True, default="")
    dimension = models.CharField(max_length=20, blank=True, default="")
    size = models.CharField(max_length=20, blank=True, default="")
    size_bucket = models.IntegerField(default=0)
    upc = models.CharField(max_length=20, blank=True, default="")
    season = models.CharField(max_length=10, blank=True, default="")
    hs_number = models.CharField(max_length=20, blank=True, default="")
    country_of_origin = models.CharField(max_length=10, blank=True, default="")
    weight_kg = models.DecimalField(max_digits=10, decimal_places=3, default=0)
    wholesale_price = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    retail_price = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    currency = models.CharField(max_length=3, default="GBP")
    status = models.CharField(max_length=20, default="DRAFT")
    # Set by POST items/{sku}/status; not part of the API body, shown by the control API.
    wms_reference = models.CharField(max_length=120, blank=True, default="")
    updated_at = models.DateTimeField(db_index=True)

    class Meta:
        indexes = [models.Index(fields=["updated_at", "sku"], name="bc_item_cursor")]

    def __str__(self) -> str:
        return self.sku


class SalesOrder(models.Model):
    ord_num = models.CharField(max_length=40, unique=True)
    division = models.CharField(max_length=20, blank=True, default="")
    season = models.CharField(max_length=10, blank=True, default="")
    customer = models.CharField(max_length=40, blank=True, default="")
    customer_name = models.CharField(max_length=120, blank=True, default="")
    channel = models.CharField(max_length=20, blank=True, default="")
    location = models.CharField(max_length=20, blank=True, default="")
    ship_via = models.CharField(max_length=20, blank=True, default="")
    order_date = models.DateTimeField(null=True, blank=True)
    start_date = models.DateField(null=True, blank=True)
    cancel_date = models.DateField(null=True, blank=True)
    currency = models.CharField(max_length=3, default="GBP")
    status = models.CharField(max_length=20, default="OPEN", db_index=True)
    ship_to = models.JSONField(default=dict)
    # [{"line_no", "sku", "upc", "qty_ordered", "qty_shipped", "qty_cancelled", "unit_price"}]
    lines = models.JSONField(default=list)
    wms_reference = models.CharField(max_length=120, blank=True, default="")
    updated_at = models.DateTimeField(db_index=True)

    class Meta:
        indexes = [models.Index(fields=["updated_at", "ord_num"], name="bc_order_cursor")]

    def __str__(self) -> str:
        return self.ord_num


class Shipment(models.Model):
    ship_num = models.CharField(max_length=40, unique=True)
    order = models.ForeignKey(SalesOrder, on_delete=models.CASCADE, related_name="shipments")
    wms_dispatch_id = models.CharField(max_length=120, unique=True)
    ship_date = models.DateTimeField()
    ship_day = models.DateField(db_index=True)  # ship_date's UTC date, for ?ship_date=
    carrier = models.CharField(max_length=120, blank=True, default="")
    ship_via = models.CharField(max_length=20, blank=True, default="")
    tracking_numbers = models.JSONField(default=list)
    lines = models.JSONField(default=list)  # [{"line_no", "sku", "qty_shipped"}]
    cancel_remainder = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    # Posts of the same wms_dispatch_id after the first, refused (no second shipment, invoice or
    # notification): how often this net was needed, the figure that shows a double post.
    duplicate_posts = models.IntegerField(default=0)

    def __str__(self) -> str:
        return self.ship_num


class Invoice(models.Model):
    invoice_num = models.CharField(max_length=40, unique=True)
    order = models.ForeignKey(SalesOrder, on_delete=models.CASCADE, related_name="invoices")
    # Null for an invoice raised by hand (the control API plants one for the reconciliation).
    shipment = models.OneToOneField(Shipment, null=True, blank=True, on_delete=models.CASCADE, related_name="invoice")
    invoice_date = models.DateField(db_index=True)
    customer = models.CharField(max_length=40, blank=True, default="")
    currency = models.CharField(max_length=3, default="GBP")
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    lines = models.JSONField(default=list)  # [{"line_no", "sku", "qty", "unit_price", "amount"}]
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.invoice_num


class Notification(models.Model):
    """A customer notification Blue Cherry fired (the dispatch e-mail)."""

    order = models.ForeignKey(SalesOrder, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=40)
    recipient = models.CharField(max_length=200, blank=True, default="")
    subject = models.CharField(max_length=200, blank=True, default="")
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.kind} {self.order_id}"


class InventoryPosition(models.Model):
    sku = models.CharField(max_length=80)
    location = models.CharField(max_length=20)
    on_hand = models.IntegerField(default=0)
    wip = models.IntegerField(default=0)
    channel_available = models.IntegerField(null=True, blank=True)
    channel_available_as_of = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["location", "sku"], name="bc_inventory_location_sku")]

    def __str__(self) -> str:
        return f"{self.location}/{self.sku}"


class AtsBatch(models.Model):
    batch_id = models.CharField(max_length=40, unique=True)
    location = models.CharField(max_length=20)
    as_of = models.DateTimeField()
    positions = models.JSONField(default=list)
    status = models.CharField(max_length=10, default="QUEUED", db_index=True)
    errors = models.JSONField(default=list)
    created_at = models.DateTimeField(db_index=True)
    applied_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.batch_id
