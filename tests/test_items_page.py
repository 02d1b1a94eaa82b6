"""The Items screen: who may see it, the filters, the audit findings and the CSV exports."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from exceptions import catalogue
from exceptions import services as queue
from integration import tasks
from integration.items.sync_status_counts import ITEMS_BY_SYNC_STATUS
from integration.models import Item

pytestmark = pytest.mark.django_db


def member(client, group: str) -> User:
    user = User.objects.create_user(group, password="pw")
    user.groups.add(Group.objects.get_or_create(name=group)[0])
    client.force_login(user)
    return user


def item(sku: str, sync_status: str, bc_status: str = "PENDING_WMS", **fields) -> Item:
    return Item.objects.create(sku=sku, bc_status=bc_status, bc_updated_at=timezone.now(), sync_status=sync_status,
                               **fields)


def test_the_data_team_sees_items_filtered_by_sync_status(client):
    member(client, "data")
    item("A-1", Item.SyncStatus.LIVE, "LIVE")
    item("A-2", Item.SyncStatus.INVALID, problems=[{"message": "The item has no UPC."}])
    page = client.get("/items/", {"status": "invalid"})
    assert page.status_code == 200
    body = page.content.decode()
    assert "A-2" in body and "The item has no UPC." in body and "A-1" not in body


def test_finance_may_not_see_the_items_page_and_anonymous_users_are_sent_to_log_in(client):
    assert client.get("/items/").status_code == 302
    member(client, "finance")
    assert client.get("/items/").status_code == 403
    assert client.get("/items/export.csv").status_code == 403


def test_the_filtered_items_export_as_csv(client):
    member(client, "ops")
    item("B-1", Item.SyncStatus.LIVE, "LIVE", upc="5056000000019")
    item("C-1", Item.SyncStatus.PENDING)
    response = client.get("/items/export.csv", {"q": "B"})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:5] == ["sku", "description", "upc", "bluecherry_status", "sync_status"]
    assert [r[0] for r in rows[1:]] == ["B-1"] and rows[1][4] == "live"


def test_audit_findings_show_on_the_page_and_export_one_row_per_finding(client):
    member(client, "data")
    queue.raise_exception(catalogue.ITEM_MASTER_MISMATCH, "sku:D-1", "Item master audit: ...", sku="D-1", problems=[
        {"kind": "item.master_mismatch", "finding": "ean_mismatch", "message": "EAN differs", "value": "D-1",
         "bluecherry": "1", "seko": "2"},
        {"kind": "item.master_mismatch", "finding": "weight_mismatch", "message": "weight differs", "value": "D-1",
         "bluecherry": "0.2", "seko": "0.3"},
    ])
    assert "weight_mismatch" in client.get("/items/").content.decode()
    response = client.get("/items/findings.csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(r[0], r[1]) for r in rows[1:]] == [("D-1", "ean_mismatch"), ("D-1", "weight_mismatch")]


def page_counts(client) -> dict[str, int]:
    return {value: n for value, _, n in client.get("/items/").context["statuses"] if n}


def grouped() -> dict[str, int]:
    return dict(Item.objects.values_list("sync_status").annotate(n=Count("id")).order_by())


def test_the_counts_per_sync_status_come_from_the_counter_and_equal_a_group_by(client):
    """The counts on the page are summed from the counter the database keeps (a GROUP BY over the
    item master grew with it): they follow creates, moves, bulk writes, deletes and compaction."""
    member(client, "ops")
    S = Item.SyncStatus
    item("E-1", S.PENDING)
    item("E-2", S.PENDING)
    Item.objects.bulk_create([Item(sku=f"F-{n}", bc_status="LIVE", bc_updated_at=timezone.now(), sync_status=S.LIVE)
                              for n in range(5)])
    assert page_counts(client) == grouped() == {S.PENDING: 2, S.LIVE: 5}
    Item.objects.filter(sku="E-1").update(sync_status=S.SENDING)
    Item.objects.filter(sku__startswith="F-").update(description="touched, status unchanged")
    held = Item.objects.get(sku="E-2")
    held.sync_status = S.INVALID
    held.save()
    assert page_counts(client) == grouped() == {S.SENDING: 1, S.INVALID: 1, S.LIVE: 5}
    tasks.compact_status_counts()
    Item.objects.filter(sku__in=["F-0", "F-1"]).delete()
    assert page_counts(client) == grouped() == {S.SENDING: 1, S.INVALID: 1, S.LIVE: 3}
    with connection.cursor() as cursor:  # the counter alone: a wrong count shows here
        cursor.execute(f"INSERT INTO {ITEMS_BY_SYNC_STATUS.table} (status, n) VALUES ('live', 1)")
    assert page_counts(client) != grouped()
