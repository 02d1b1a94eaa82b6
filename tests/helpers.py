"""Small helpers many test modules share: users in a role and a client signed in as one, several
settings at once, an order held with its open exception, and what both clients do when rate-limited."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.utils import timezone

from exceptions import catalogue
from exceptions import services as queue
from exceptions.models import IntegrationException
from integration.clients.errors import Exchange, Transient
from integration.models import Order


def user_in(group: str, username: str | None = None, email: str = "") -> User:
    """A user (``u-<group>`` unless named) in that group, the group made if it is new."""
    user = User.objects.create_user(username or f"u-{group}", password="pw", email=email)
    user.groups.add(Group.objects.get_or_create(name=group)[0])
    return user


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def signed_in(group: str, username: str | None = None) -> Client:
    """A test client signed in as a new user of that group."""
    return client_for(user_in(group, username))


def configure(settings: Any, **values: Any) -> Any:
    """Set several settings on pytest-django's ``settings`` (which puts them back after the test)."""
    for name, value in values.items():
        setattr(settings, name, value)
    return settings


def held_with_exception(ord_num: str, kind: catalogue.Kind, *, status: str, ship_via: str, problem: str,
                        title: str | None = None) -> IntegrationException:
    """An order in that status with one problem of that kind, and the open exception it raised
    (titled "<ord_num>: <problem>" unless a title is given)."""
    order = Order.objects.create(ord_num=ord_num, bc_updated_at=timezone.now(), location="UK3PL", ship_via=ship_via,
                                 status=status, problems=[{"kind": kind.code, "message": problem}])
    return queue.raise_exception(kind, catalogue.order_key(ord_num), title or f"{ord_num}: {problem}", order=order)


def assert_rate_limit_is_retried_after_the_time_asked(simulator: Any, client_class: type, call: Callable[[Any], Any],
                                                      exchanges: list[Exchange]) -> None:
    """Every call rate-limited (the simulators ask for one second): the client sleeps what it was
    asked between its attempts, then gives up with a Transient that carries the time asked."""
    simulator.control("POST", "_sim/faults", {"rate_limit_rate": 1})
    slept: list[float] = []
    client = client_class(simulator.base_url, simulator.api_key, max_retries=2, backoff=0.001,
                          on_exchange=exchanges.append, sleep=slept.append)
    with pytest.raises(Transient) as caught:
        call(client)
    assert [e.status_code for e in exchanges] == [429, 429, 429]
    assert slept == [1.0, 1.0]
    assert caught.value.retry_after == 1.0
