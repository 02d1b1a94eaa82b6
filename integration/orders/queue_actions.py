"""What the exception queue's Retry and Withdraw do to an order (exceptions/registry.py)."""

from __future__ import annotations

from django.db import transaction
from django_q.tasks import async_task

from exceptions import catalogue, holds, registry
from exceptions.models import IntegrationException
from exceptions.services import ActionRefused
from integration.models import Order
from integration.orders import flow as order_flow


def _about_an_order(exception: IntegrationException) -> bool:
    return exception.order_id is not None and exception.trace_key.startswith(catalogue.order_key(""))


def _order_can_go_again(exception: IntegrationException) -> bool:
    order = exception.order
    return order.status in (*order_flow.RETRYABLE, order.Status.RECEIVED) or (
        order.status == order.Status.SENT and order.pick_ticket_at is None)


def _retry_order(exception: IntegrationException, who: str) -> str:
    """The order goes back to waiting, is checked again and sent by the workers."""
    try:
        outcome = order_flow.retry_order(exception.order, who=who)
    except order_flow.ActionRefused as refused:
        raise ActionRefused(str(refused)) from refused
    _send_now()
    return outcome


def _waiting_orders_due_now(exception: IntegrationException, who: str) -> str:
    """A system was not answering: every order waiting out a backoff is due at once."""
    due = order_flow.retry_waiting_orders_now()
    _send_now()
    return f"{due} waiting order(s) are due at once."


def _system_was_not_answering(exception: IntegrationException) -> bool:
    kind = exception.kind_info
    return kind is not None and kind.retries_on_its_own


def _withdraw(exception: IntegrationException, who: str, note: str) -> str:
    order = exception.order or Order.objects.get(ord_num=holds.order_number(exception.trace_key))
    try:
        return order_flow.withdraw_order(order, who, note)
    except order_flow.ActionRefused as refused:
        raise ActionRefused(str(refused)) from refused


def _send_now() -> None:
    """Hand the sending to the workers now rather than at the next scheduled sync."""
    transaction.on_commit(lambda: async_task("integration.tasks.send_orders", task_name="send_orders"))


def register() -> None:
    registry.register_retry(registry.RetryHandler(
        name="order", handles=_about_an_order, possible=_order_can_go_again, run=_retry_order))
    registry.register_retry(registry.RetryHandler(
        name="waiting orders", handles=_system_was_not_answering, possible=lambda exception: True,
        run=_waiting_orders_due_now))
    registry.register_settle(registry.WITHDRAW_ORDER, _withdraw)
