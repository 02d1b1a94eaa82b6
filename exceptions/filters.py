"""The queue's filters, shared by the screen and the API (so both answer the same question)."""

from __future__ import annotations

from datetime import timedelta

import django_filters
from django.db import connection
from django.db.models import Q, QuerySet, Value
from django.db.models.functions import Concat
from django.utils import timezone

from exceptions import catalogue
from exceptions.models import IntegrationException
from integration.models import Dispatch
from integration.shared.roles import ALL_GROUPS

# Above every character: ``x >= p and x < p + PREFIX_END`` is "x starts with p" in code-point order.
PREFIX_END = "\U0010ffff"


def starts_with(field: str, prefix: str) -> Q:
    """``field`` starts with ``prefix``, in the form the field's index serves. SQLite's LIKE is
    case-insensitive and so never uses an ordinary index (a scan of a million dispatches); its
    default binary collation orders by code point, so there a range is the same prefix, taken on
    the index. PostgreSQL's LIKE 'p%' uses the pattern index Django creates beside db_index."""
    if connection.vendor == "sqlite":
        return Q(**{f"{field}__gte": prefix, f"{field}__lt": prefix + PREFIX_END})
    return Q(**{f"{field}__startswith": prefix})


def dispatch_keys_of_orders(ord_num_prefix: str) -> QuerySet:
    """The exception keys of the dispatches of orders whose number starts with the prefix (a
    subquery on the dispatch's indexed order number: no scan of the queue's million-order history)."""
    return (Dispatch.objects.filter(starts_with("ord_num", ord_num_prefix))
            .annotate(key=Concat(Value(catalogue.dispatch_key("")), "dispatch_id")).values("key"))


AGES = {"1h": timedelta(hours=1), "4h": timedelta(hours=4), "24h": timedelta(days=1), "7d": timedelta(days=7)}


class ExceptionFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(
        choices=lambda: sorted((code, f"{code} · {k.title}") for code, k in catalogue.KINDS.items()),
        empty_label="Any kind",
    )
    owner = django_filters.ChoiceFilter(choices=[(g, g) for g in ALL_GROUPS], empty_label="Any owner")
    status = django_filters.ChoiceFilter(choices=IntegrationException.Status.choices, empty_label="Any status")
    category = django_filters.ChoiceFilter(choices=[(c.value, c.value) for c in catalogue.Category],
                                           empty_label="Any category")
    age = django_filters.ChoiceFilter(
        label="Older than", choices=[(k, f"older than {k}") for k in AGES], method="filter_age", empty_label="Any age"
    )
    q = django_filters.CharFilter(label="Order or SKU", method="filter_order_or_sku")
    assigned = django_filters.ChoiceFilter(
        label="Assigned", choices=[("me", "to me"), ("nobody", "to nobody")], method="filter_assigned",
        empty_label="Anyone",
    )
    snoozed = django_filters.ChoiceFilter(
        label="Snoozed", choices=[("hide", "not snoozed"), ("only", "snoozed")], method="filter_snoozed",
        empty_label="Snoozed or not",
    )
    o = django_filters.OrderingFilter(
        fields=(("first_seen_at", "first_seen"), ("last_seen_at", "last_seen"), ("occurrences", "occurrences"),
                ("kind", "kind"), ("owner", "owner"), ("trace_key", "about")),
        label="Sort",
    )

    class Meta:
        model = IntegrationException
        fields = ["kind", "owner", "status", "category"]

    def filter_age(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(first_seen_at__lte=timezone.now() - AGES[value])

    def filter_order_or_sku(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        """A prefix of an order number or SKU (prefix, so the indexes on trace_key and sku serve it).
        An order's dispatch exceptions are filed under the dispatch (``dispatch:<id>``), so they
        are found through the dispatches of the matching orders."""
        text = value.strip()
        if not text:
            return queryset
        variants = {text, text.upper()}
        condition = Q()
        for v in variants:
            condition |= Q(trace_key__startswith=catalogue.order_key(v)) | Q(sku__startswith=v)
            condition |= Q(trace_key__startswith=catalogue.sku_key(v))
            condition |= Q(trace_key__in=dispatch_keys_of_orders(v))
        return queryset.filter(condition)

    def filter_assigned(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value == "me":
            return queryset.filter(assigned_to=self.request.user if self.request else None)
        return queryset.filter(assigned_to__isnull=True)

    def filter_snoozed(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        """Snoozed = snoozed until a time still ahead; once it passes the exception is back by itself."""
        now = timezone.now()
        if value == "only":
            return queryset.filter(snoozed_until__gt=now)
        return queryset.filter(Q(snoozed_until__isnull=True) | Q(snoozed_until__lte=now))
