"""The exception queue: everything a person must look at, one row per kind and object."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from exceptions import catalogue


class IntegrationException(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"

    kind = models.CharField(max_length=60, db_index=True)
    owner = models.CharField(max_length=30, db_index=True)
    category = models.CharField(max_length=20, db_index=True)
    trace_key = models.CharField(max_length=200, db_index=True, help_text="e.g. order:SO-100234")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN, db_index=True)
    message = models.TextField()
    problems = models.JSONField(default=list, blank=True, help_text="Every problem found, one per item")
    request_payload = models.TextField(blank=True)
    response_payload = models.TextField(blank=True)
    occurrences = models.PositiveIntegerField(default=1)
    order = models.ForeignKey(
        "integration.Order", null=True, blank=True, on_delete=models.SET_NULL, related_name="exceptions"
    )
    sku = models.CharField(max_length=100, blank=True, db_index=True)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    first_seen_at = models.DateTimeField(auto_now_add=True, db_index=True)
    last_seen_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolution_note = models.TextField(blank=True)
    # Snoozed: left out of the open queue's default view until then, when it comes back by itself.
    snoozed_until = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-last_seen_at", "-id"]
        constraints = [
            # One open exception per kind and object; a repeat bumps `occurrences`.
            models.UniqueConstraint(
                fields=["kind", "trace_key"], condition=Q(status="open"), name="one_open_exception_per_kind_and_key"
            )
        ]
        indexes = [
            models.Index(fields=["status", "owner", "kind"], name="exc_queue_idx"),
            # The queue's default and "age" sorts within a status (issue 3).
            models.Index(fields=["status", "-last_seen_at"], name="exc_queue_recent_idx"),
            models.Index(fields=["status", "first_seen_at"], name="exc_queue_age_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.trace_key} ({self.status})"

    @property
    def kind_info(self) -> catalogue.Kind | None:
        return catalogue.KINDS.get(self.kind)


class ExceptionEvent(models.Model):
    """The history of an exception: raised, repeated, retried, assigned, resolved, by whom."""

    exception = models.ForeignKey(IntegrationException, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(auto_now_add=True)
    action = models.CharField(max_length=30)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.action} at {self.at:%Y-%m-%d %H:%M}"


class AlertDestination(models.Model):
    """Where one owner group wants to be alerted, besides the email digest: a Slack or Teams
    channel, a webhook, ... (an Apprise URL, a secret: shown back only masked). It is told once
    each time the group's new exceptions in the window rise to the threshold, and of every new
    ``sync.stalled`` or ``dispatch.overdue`` of the group's kinds. Set by integration admins in
    the admin."""

    name = models.CharField(max_length=100, help_text="e.g. 'Ops on Slack'")
    owner = models.CharField(max_length=30, choices=[(o.value, o.value) for o in catalogue.Owner],
                             help_text="The group whose exceptions it is told about")
    url = models.TextField(help_text="The Apprise URL of the destination (a secret: never shown in full)")
    threshold = models.PositiveIntegerField(
        default=10, help_text="New exceptions of the group's kinds within the window that make an alert")
    window_minutes = models.PositiveIntegerField(default=60)
    active = models.BooleanField(default=True)
    # State, written by the monitor with compare-and-swap so that two workers cannot both alert.
    above_threshold_since = models.DateTimeField(
        null=True, blank=True, help_text="When the count last rose to the threshold (re-armed once below it)")
    told_through = models.DateTimeField(
        null=True, blank=True, help_text="first_seen_at of the newest stalled/overdue exception already told")
    last_sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["owner", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.owner})"
