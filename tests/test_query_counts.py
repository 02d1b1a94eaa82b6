"""Lists cost the same number of queries whatever their size: no N+1 on any row."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from exceptions import catalogue
from exceptions.models import IntegrationException
from integration.models import AtsPublication, CarrierMapping, Item, Order, StockPosition

pytestmark = pytest.mark.django_db

LISTS = ["/exceptions/", "/exceptions/?o=first_seen&owner=integration-admin", "/orders/", "/orders/?status=quarantined",
         "/api/exceptions/", "/api/orders/", "/api/mappings/carriers/", "/", "/stock/", "/items/"]


def add_rows(start: int, count: int, assignee: User) -> None:
    now = timezone.now()
    orders = Order.objects.bulk_create([
        Order(ord_num=f"SO-{n}", bc_updated_at=now, location="UK3PL", ship_via="ZZ", status=Order.Status.QUARANTINED,
              problems=[{"kind": catalogue.MAPPING_CARRIER_UNKNOWN.code, "message": "no mapping"}], sent_at=now)
        for n in range(start, start + count)
    ])
    IntegrationException.objects.bulk_create([
        IntegrationException(kind=catalogue.MAPPING_CARRIER_UNKNOWN.code, owner="integration-admin", category="mapping",
                             trace_key=catalogue.order_key(o.ord_num), message="held", order=o,
                             assigned_to=assignee if n % 2 else None)
        for n, o in enumerate(orders)
    ])
    publication = AtsPublication.objects.create(batch_id=f"B{start}", location="UK3PL", posted_at=now,
                                                positions={f"SKU-{n}": 1 for n in range(start, start + count)})
    StockPosition.objects.bulk_create([
        StockPosition(sku=f"SKU-{n}", dc_code="UK3PL", free=n, held={"Quarantine": 1}, held_units=1, buffer=2,
                      buffer_reason="velocity", velocity=0.5, available=n - 2, published_qty=n - 2,
                      publication=publication, last_correction=1, bc_drift=-1)
        for n in range(start, start + count)
    ])
    Item.objects.bulk_create([Item(sku=f"SKU-{n}", bc_status=Item.BCStatus.LIVE, bc_updated_at=now)
                              for n in range(start, start + count)])
    CarrierMapping.objects.bulk_create([
        CarrierMapping(bc_ship_via=f"S{n}", seko_courier_name="C", seko_courier_service=f"V{n}")
        for n in range(start, start + count)
    ])


def queries_per_list(client: Client) -> dict[str, int]:
    counts = {}
    for url in LISTS:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        assert response.status_code == 200, url
        counts[url] = len(captured)
    return counts


def test_the_queue_the_order_list_and_the_api_lists_issue_the_same_queries_for_10_and_1000_rows():
    user = User.objects.create_user("u-admin", password="pw")
    user.groups.add(Group.objects.get_or_create(name="integration-admin")[0])
    client = Client()
    client.force_login(user)
    add_rows(0, 10, user)
    with_ten = queries_per_list(client)
    add_rows(10, 990, user)
    assert Order.objects.count() == 1000 and IntegrationException.objects.count() == 1000
    with_thousand = queries_per_list(client)
    assert with_thousand == with_ten
