"""State of the simulated warehouse. Everything lives in the database, not in memory, because
waitress serves from 16 threads and the push thread runs beside them."""

from __future__ import annotations

from django.db import models

ORDER_STATUSES = ["To Be Picked", "Being Picked", "Pick Complete", "To Dispatch", "Dispatched", "Cancelled"]
CANCELLABLE_STATUSES = {"To Be Picked", "Being Picked"}


class DistributionCentre(models.Model):
    code = models.CharField(max_length=50, unique=True)

    def __str__(self) -> str:
        return self.code


class CourierService(models.Model):
    courier_name = models.CharField(max_length=100)
    courier_service = models.CharField(max_length=100)
    # The service in words ("Next Day"): what a dispatch confirmation names it by ("Push Dispatch
    # Confirmation"); the code is what an order is sent with.
    description = models.CharField(max_length=100, blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["courier_name", "courier_service"],
                                    name="seko_unique_courier_service")
        ]

    def __str__(self) -> str:
        return f"{self.courier_name}/{self.courier_service}"


class Product(models.Model):
    code = models.CharField(max_length=100, unique=True)
    # The ProductMaster as received (codes normalised to strings), returned by GET products/v4.
    master = models.JSONField(default=dict)
    supplier_mapping = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.code


class Stock(models.Model):
    """Free stock can be allocated to orders; allocated stock leaves the building on dispatch."""

    product_code = models.CharField(max_length=100)
    dc_code = models.CharField(max_length=50)
    # Seko's location types ("Available Stock", "Web Stock", "Quarantine", "QC", "Query", ...):
    # orders allocate from "Available Stock" only.
    location_type = models.CharField(max_length=50, default="Available Stock")
    free = models.IntegerField(default=0)
    allocated = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["product_code", "dc_code", "location_type"],
                                               name="seko_unique_stock_location")]

    def __str__(self) -> str:
        return f"{self.product_code}@{self.dc_code}: {self.free} free"


class SalesOrder(models.Model):
    sales_order_number = models.CharField(max_length=50, unique=True)
    guid = models.CharField(max_length=36, unique=True)
    status = models.CharField(max_length=20, default="To Be Picked")
    status_changed_at = models.DateTimeField()
    dc_code = models.CharField(max_length=50)
    courier_name = models.CharField(max_length=100, blank=True)
    courier_service = models.CharField(max_length=100, blank=True)
    reference = models.CharField(max_length=100, blank=True)
    raw_body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    # The whole DispatchConfirmation (all lines), served by GET salesorders/v4/{SO}/dispatch.
    dispatch = models.JSONField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.sales_order_number} ({self.status})"


class SalesOrderLine(models.Model):
    order = models.ForeignKey(SalesOrder, on_delete=models.CASCADE, related_name="lines")
    line_number = models.IntegerField()
    product_code = models.CharField(max_length=100)
    quantity = models.IntegerField()
    ean = models.CharField(max_length=50, blank=True)
    dispatched_quantity = models.IntegerField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.order_id}/{self.line_number} {self.product_code} x{self.quantity}"


class SubmitAttempt(models.Model):
    """Every submit call per SalesOrderNumber that Seko read, by what it answered: the figure that
    shows a double send (a second submit of an order it holds is refused as a duplicate and
    counted here, where the order itself is still stored once)."""

    sales_order_number = models.CharField(max_length=50, unique=True)
    count = models.IntegerField(default=0)
    accepted = models.IntegerField(default=0)
    duplicate = models.IntegerField(default=0)  # refused: the order already exists
    refused = models.IntegerField(default=0)  # refused for anything else (model or business rules)

    def __str__(self) -> str:
        return f"{self.sales_order_number}: {self.count}"


class Counter(models.Model):
    """Named monotonically increasing numbers (record ids, dispatch ids, fault draws)."""

    name = models.CharField(max_length=50, unique=True)
    value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


class Setting(models.Model):
    """Singleton JSON rows: "faults" and "push" config, shared by every thread."""

    name = models.CharField(max_length=50, unique=True)
    value = models.JSONField(default=dict)

    def __str__(self) -> str:
        return self.name


class Push(models.Model):
    """One outbox record (one part of a message). Delivery claims rows by compare-and-swap on status."""

    PENDING, SENDING, DELIVERED, DROPPED = "pending", "sending", "delivered", "dropped"

    kind = models.CharField(max_length=40)  # DispatchConfirmation, TrackingDetails, StockAdjustment
    record = models.JSONField()
    status = models.CharField(max_length=10, default=PENDING, db_index=True)
    failures = models.IntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    # Not delivered before this (a TrackingDetails that follows its dispatch in a later push).
    not_before = models.DateTimeField(null=True, blank=True)
    claim = models.CharField(max_length=36, blank=True)
    delivered_count = models.IntegerField(default=0)
    drop_reason = models.CharField(max_length=40, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.kind} #{self.id} ({self.status})"
