"""The queue: one open exception per kind and object, repeats counted, closing itself."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from exceptions import catalogue
from exceptions import services as queue
from exceptions.models import IntegrationException

pytestmark = pytest.mark.django_db


def test_raising_the_same_kind_for_the_same_object_counts_a_repeat():
    first = queue.raise_exception(catalogue.MAPPING_CARRIER_UNKNOWN, "order:SO-1", "no mapping for ZZ")
    again = queue.raise_exception(catalogue.MAPPING_CARRIER_UNKNOWN, "order:SO-1", "no mapping for ZZ")
    assert first.pk == again.pk
    assert again.occurrences == 2
    assert IntegrationException.objects.count() == 1


def test_owner_and_category_come_from_the_catalogue():
    exc = queue.raise_exception("order.cancel_refused", "order:SO-2", "packing")
    assert (exc.owner, exc.category) == ("cx", "business")
    assert exc.kind_info.playbook


def test_the_database_refuses_a_second_open_exception_for_a_kind_and_key():
    queue.raise_exception(catalogue.ORDER_SKU_NOT_LIVE, "order:SO-3", "x")
    with pytest.raises(IntegrityError), transaction.atomic():
        IntegrationException.objects.create(kind=catalogue.ORDER_SKU_NOT_LIVE.code, owner="data", category="data",
                                            trace_key="order:SO-3", message="dup")


def test_auto_resolve_closes_only_the_named_kinds_and_records_it():
    queue.raise_exception(catalogue.ORDER_SKU_NOT_LIVE, "order:SO-4", "x")
    queue.raise_exception(catalogue.ORDER_ADDRESS_INCOMPLETE, "order:SO-4", "y")
    assert queue.auto_resolve("order:SO-4", [catalogue.ORDER_SKU_NOT_LIVE], "now live") == 1
    assert queue.open_kinds_for("order:SO-4") == {catalogue.ORDER_ADDRESS_INCOMPLETE.code}
    closed = IntegrationException.objects.get(kind=catalogue.ORDER_SKU_NOT_LIVE.code)
    assert closed.status == "resolved"
    assert [e.action for e in closed.events.all()] == ["raised", "auto-resolved"]


def test_auto_resolve_many_closes_the_named_kinds_of_every_key_given_and_nothing_else():
    for n in range(3):
        queue.raise_exception(catalogue.ORDER_SKU_NOT_LIVE, f"order:SO-M{n}", "x")
        queue.raise_exception(catalogue.ORDER_ADDRESS_INCOMPLETE, f"order:SO-M{n}", "y")
    keys = [f"order:SO-M{n}" for n in range(2)] + [f"order:SO-none{n}" for n in range(600)]  # two look-ups
    assert queue.auto_resolve_many(keys, [catalogue.ORDER_SKU_NOT_LIVE], "sent") == 2
    assert queue.open_kinds_for("order:SO-M0") == {catalogue.ORDER_ADDRESS_INCOMPLETE.code}
    untouched = {catalogue.ORDER_SKU_NOT_LIVE.code, catalogue.ORDER_ADDRESS_INCOMPLETE.code}
    assert queue.open_kinds_for("order:SO-M2") == untouched
    assert queue.auto_resolve_many(keys) == 2  # every kind, when none is named
    assert queue.auto_resolve_many([]) == 0
    closed = IntegrationException.objects.get(kind=catalogue.ORDER_SKU_NOT_LIVE.code, trace_key="order:SO-M1")
    assert [e.action for e in closed.events.all()] == ["raised", "auto-resolved"]
    assert closed.resolution_note == "sent"


def test_after_closing_a_new_occurrence_opens_a_new_exception():
    queue.raise_exception(catalogue.ORDER_SKU_NOT_LIVE, "order:SO-5", "x")
    queue.auto_resolve("order:SO-5")
    queue.raise_exception(catalogue.ORDER_SKU_NOT_LIVE, "order:SO-5", "x again")
    assert IntegrationException.objects.filter(trace_key="order:SO-5").count() == 2
    assert queue.open_kinds_for("order:SO-5") == {catalogue.ORDER_SKU_NOT_LIVE.code}


def test_every_kind_has_an_owner_group_category_and_playbook():
    groups = {"ops", "cx", "finance", "data", "integration-admin"}
    for kind in catalogue.KINDS.values():
        assert kind.owner.value in groups
        assert kind.category.value in {"data", "mapping", "transient", "business", "monitoring"}
        assert len(kind.playbook) > 40, kind.code


def test_the_operations_manual_lists_every_kind_as_the_catalogue_says():
    from pathlib import Path

    from exceptions.management.commands.exception_kinds import render_markdown

    page = Path(__file__).resolve().parent.parent / "docs" / "exception-kinds.md"
    assert page.read_text() == render_markdown(), "run: manage.py exception_kinds > docs/exception-kinds.md"
