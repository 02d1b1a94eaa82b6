"""What the reconciliation found: one row per day with its totals, one per difference.

A run over a date range replaces the rows of its days (a later run is the truth: a correction
made in Blue Cherry since removes its line). The differences are also ``recon.discrepancy``
exceptions, one per order, so finance work them in the same queue as everything else.
"""

from __future__ import annotations

from django.db import models

from reconciliation import rules


class ReconciliationRun(models.Model):
    """One run over a date range: scheduled, asked for on the page or by the command, or the demo's."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    date_from = models.DateField()
    date_to = models.DateField()
    trigger = models.CharField(max_length=20, default="schedule")
    requested_by = models.CharField(max_length=150, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING, db_index=True)
    started_at = models.DateTimeField(db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    orders_examined = models.PositiveIntegerField(default=0)
    differences = models.PositiveIntegerField(default=0)
    exceptions_raised = models.PositiveIntegerField(default=0)
    exceptions_closed = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"reconciliation {self.date_from}..{self.date_to} ({self.status})"


class ReconciliationDay(models.Model):
    """One day's totals (orders, units, value) as the last run over it found them."""

    day = models.DateField(unique=True)
    run = models.ForeignKey(ReconciliationRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reconciled_at = models.DateTimeField()
    sent_orders = models.PositiveIntegerField(default=0)
    sent_units = models.PositiveIntegerField(default=0)
    sent_value = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    dispatched_orders = models.PositiveIntegerField(default=0)
    dispatched_units = models.PositiveIntegerField(default=0)
    dispatched_value = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    shipped_orders = models.PositiveIntegerField(default=0)
    shipped_units = models.PositiveIntegerField(default=0)
    shipped_value = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    invoiced_orders = models.PositiveIntegerField(default=0)
    invoiced_units = models.PositiveIntegerField(default=0)
    invoiced_value = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    invoices = models.PositiveIntegerField(default=0)
    differences = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-day"]

    def __str__(self) -> str:
        return f"{self.day}: {'balanced' if self.balanced else f'{self.differences} differences'}"

    @property
    def balanced(self) -> bool:
        return self.differences == 0


class Difference(models.Model):
    """One difference on one day, as the last run over that day found it."""

    KIND_CHOICES = list(rules.KINDS.items())

    day = models.ForeignKey(ReconciliationDay, on_delete=models.CASCADE, related_name="lines")
    kind = models.CharField(max_length=30, choices=KIND_CHOICES, db_index=True)
    ord_num = models.CharField(max_length=50, db_index=True)
    order = models.ForeignKey("integration.Order", null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    exception = models.ForeignKey("exceptions.IntegrationException", null=True, blank=True,
                                  on_delete=models.SET_NULL, related_name="+")
    message = models.TextField()
    dispatch_id = models.CharField(max_length=100, blank=True)
    ship_num = models.CharField(max_length=40, blank=True)
    invoice_num = models.CharField(max_length=40, blank=True)
    seko_units = models.IntegerField(null=True, blank=True)
    bc_units = models.IntegerField(null=True, blank=True)
    seko_value = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    bc_value = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)

    class Meta:
        ordering = ["day", "ord_num", "kind", "id"]

    def __str__(self) -> str:
        return f"{self.day_id} {self.kind} {self.ord_num}"
