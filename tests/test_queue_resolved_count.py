"""The queue's resolved tab counts the resolved pile only so far: past RESOLVED_COUNTED it says
"N+", so a year of resolved exceptions is never counted on every load of the queue."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.utils import timezone

from exceptions import catalogue, views
from exceptions.models import IntegrationException

pytestmark = pytest.mark.django_db


def resolved(count: int, start: int = 0) -> None:
    kind = catalogue.MAPPING_CARRIER_UNKNOWN
    IntegrationException.objects.bulk_create([
        IntegrationException(kind=kind.code, owner=str(kind.owner), category=str(kind.category),
                             trace_key=f"order:SO-{n}", message="m", status="resolved", resolved_at=timezone.now())
        for n in range(start, start + count)])


@pytest.fixture
def ops_client() -> Client:
    user = User.objects.create_user("ops-person", password="x")
    user.groups.add(Group.objects.get_or_create(name="ops")[0])
    client = Client()
    client.force_login(user)
    return client


def test_up_to_the_limit_the_resolved_tab_shows_the_exact_count(ops_client):
    resolved(views.RESOLVED_COUNTED)
    page = ops_client.get("/exceptions/").content.decode()
    assert f'Resolved <span class="count">{views.RESOLVED_COUNTED}</span>' in page


def test_past_the_limit_it_says_there_are_more(ops_client):
    resolved(views.RESOLVED_COUNTED + 1)
    page = ops_client.get("/exceptions/").content.decode()
    assert f'Resolved <span class="count">{views.RESOLVED_COUNTED}+</span>' in page
    assert 'Open <span class="count">0</span>' in page
