"""The Items screen: who may see it, the filters, the audit findings and the CSV exports."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone

from exceptions import catalogue
from exceptions import services as queue
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
