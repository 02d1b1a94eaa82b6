"""What the exception queue's Retry does to an item: send it again as Blue Cherry has it now
(exceptions/registry.py)."""

from __future__ import annotations

from django.db import transaction
from django_q.tasks import async_task

from exceptions import registry
from exceptions.models import IntegrationException
from exceptions.services import ActionRefused
from integration.items import flow as item_flow


def _a_fresh_send_can_settle(exception: IntegrationException) -> bool:
    return exception.kind in item_flow.RESENDABLE_KINDS and bool(exception.sku)


def _resend(exception: IntegrationException, who: str) -> str:
    try:
        outcome = item_flow.resend_item(exception.sku)
    except item_flow.ResendRefused as refused:
        raise ActionRefused(str(refused)) from refused
    # The item's send now, not at the next scheduled sync (it sets the item LIVE afterwards).
    transaction.on_commit(lambda: async_task("integration.tasks.sync_items", task_name="sync_items"))
    return outcome


def register() -> None:
    registry.register_retry(registry.RetryHandler(
        name="item", handles=_a_fresh_send_can_settle, possible=lambda exception: True, run=_resend))
