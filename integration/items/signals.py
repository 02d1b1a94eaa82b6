"""What the item flow tells other flows, without importing them (orders import items, not the
other way round)."""

from django.dispatch import Signal

# Sent with ``skus`` (a list) once those items became LIVE: orders held for them can go.
skus_went_live = Signal()
