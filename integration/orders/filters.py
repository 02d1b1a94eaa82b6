"""Filters for the order list, shared by the screen and the API."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from exceptions.holds import HELD_ORDER_STATUSES
from integration.models import Order

HELD = "held"  # every status in which an order waits for a person (exceptions/holds.py)


class OrderFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(
        choices=[(HELD, "Held: quarantined or rejected, waiting for a fix"), *Order.Status.choices],
        empty_label="Any status", method="filter_status")
    location = django_filters.CharFilter(label="Location")
    ship_via = django_filters.CharFilter(label="Ship-via")
    q = django_filters.CharFilter(label="Order number or customer", method="filter_text")

    class Meta:
        model = Order
        fields = ["status", "location", "ship_via"]

    def filter_status(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value == HELD:
            return queryset.filter(status__in=HELD_ORDER_STATUSES)
        return queryset.filter(status=value) if value else queryset

    def filter_text(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        """An order-number prefix or an exact customer code (both indexed lookups)."""
        text = value.strip()
        if not text:
            return queryset
        return queryset.filter(Q(ord_num__startswith=text) | Q(ord_num__startswith=text.upper()) | Q(customer=text))
