"""The queue's own guardrail: nothing held without an open exception saying why. Raises
``hold.unexplained`` for every order, dispatch or item held with none, however that came about,
and closes it once the object is released or another exception names the cause."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, Value
from django.db.models.functions import Concat

from exceptions import catalogue, holds
from exceptions import services as queue
from exceptions.models import IntegrationException
from integration.models import Dispatch, Item, Order


def held_without_open_exception(model: type, status_field: str, statuses: tuple, key_prefix: str,
                                 key_field: str) -> list[Any]:
    """The objects of ``model`` in a held status with no open exception about them: one query,
    the open exceptions matched by trace key (``<prefix>:<key_field>``, indexed) in a subquery."""
    about = IntegrationException.objects.filter(
        status=IntegrationException.Status.OPEN, trace_key=Concat(Value(key_prefix), OuterRef(key_field)))
    return list(model.objects.filter(**{f"{status_field}__in": statuses}).filter(~Exists(about)))


def check_unexplained_holds() -> int:
    """Raise ``hold.unexplained`` for every order, dispatch or item held with no open exception
    saying why (however that came about), and close the ones whose object is no longer held or
    has another exception naming its cause. Returns how many are raised or still open: one
    query per object type, however many objects are held."""
    kind = catalogue.HOLD_UNEXPLAINED
    found = 0
    for order in held_without_open_exception(Order, "status", holds.HELD_ORDER_STATUSES, "order:", "ord_num"):
        found += 1
        queue.raise_exception(kind, catalogue.order_key(order.ord_num), order=order, problems=order.problems,
                              message=f"Order {order.ord_num} is {order.status} with no open exception saying why. "
                                      f"Last problems recorded: {_problem_words(order.problems)}")
    for dispatch in held_without_open_exception(Dispatch, "status", holds.HELD_DISPATCH_STATUSES, "dispatch:",
                                                 "dispatch_id"):
        found += 1
        queue.raise_exception(kind, catalogue.dispatch_key(dispatch.dispatch_id), problems=dispatch.problems,
                              message=f"Dispatch {dispatch.dispatch_id} of order '{dispatch.ord_num or '?'}' is "
                                      f"{dispatch.status} with no open exception saying why. Last problems "
                                      f"recorded: {_problem_words(dispatch.problems)}")
    for item in held_without_open_exception(Item, "sync_status", holds.HELD_ITEM_STATUSES, "sku:", "sku"):
        found += 1
        queue.raise_exception(kind, catalogue.sku_key(item.sku), sku=item.sku, problems=item.problems,
                              message=f"Item {item.sku} is {item.sync_status} with no open exception saying why. "
                                      f"Last problems recorded: {_problem_words(item.problems)}"
                                      + (f" Last error: {item.last_error}" if item.last_error else ""))
    _close_explained_holds()
    return found


def _close_explained_holds() -> None:
    """An open ``hold.unexplained`` closes once its object is no longer held or another open
    exception names the cause (the flow raised it again, or a person retried)."""
    open_alerts = IntegrationException.objects.filter(kind=catalogue.HOLD_UNEXPLAINED.code,
                                                      status=IntegrationException.Status.OPEN)
    for alert in open_alerts:
        if holds.held_object(alert.trace_key) is None:
            queue.auto_resolve(alert.trace_key, [catalogue.HOLD_UNEXPLAINED], "No longer held")
        elif IntegrationException.objects.filter(trace_key=alert.trace_key, status=IntegrationException.Status.OPEN
                                                 ).exclude(pk=alert.pk).exists():
            queue.auto_resolve(alert.trace_key, [catalogue.HOLD_UNEXPLAINED], "Another open exception names the cause")


def _problem_words(problems: list[Any]) -> str:
    words = [str(p.get("message") or p.get("kind")) for p in problems if isinstance(p, dict)]
    return "; ".join(words)[:1000] or "none."
