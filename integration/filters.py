"""Filters for the order list, shared by the screen and the API."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from integration.models import Order


class OrderFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Order.Status.choices, empty_label="Any status")
    location = django_filters.CharFilter(label="Location")
    ship_via = django_filters.CharFilter(label="Ship-via")
    q = django_filters.CharFilter(label="Order number or customer", method="filter_text")

    class Meta:
        model = Order
        fields = ["status", "location", "ship_via"]

    def filter_text(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        """An order-number prefix or an exact customer code (both indexed lookups)."""
        text = value.strip()
        if not text:
            return queryset
        return queryset.filter(Q(ord_num__startswith=text) | Q(ord_num__startswith=text.upper()) | Q(customer=text))
