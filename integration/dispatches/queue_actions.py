"""What the exception queue may do about a dispatch: set a held one aside as settled by hand,
and refuse to close an overdue alert the monitor would only raise again (exceptions/registry.py)."""

from __future__ import annotations

from django.conf import settings

from exceptions import catalogue, registry
from exceptions.models import IntegrationException
from exceptions.services import ActionRefused
from integration.dispatches import flow as dispatch_flow
from integration.dispatches import overdue


def _set_aside(exception: IntegrationException, who: str, note: str) -> str:
    try:
        return dispatch_flow.set_aside(exception.trace_key.partition(":")[2], who, note)
    except dispatch_flow.SetAsideRefused as refused:
        raise ActionRefused(str(refused)) from refused


def _overdue_alert_would_reopen(exception: IntegrationException) -> str | None:
    """An overdue alert closed while its order is still late would be raised again by the next
    check: say what works instead (the monitor measures against a new promised time)."""
    if exception.order is None or not overdue.is_overdue(exception.order):
        return None
    return (f"Order {exception.order.ord_num} has still not left the warehouse, so this alert would open again "
            f"at the monitor's next check (every {settings.MONITOR_INTERVAL_MINUTES} minutes). On Overdue, record "
            "the time agreed with the customer with Promise new time, or Snooze the alert; if the order will never "
            "ship, have it cancelled in Blue Cherry. Nothing was changed.")


def register() -> None:
    registry.register_settle(registry.SET_ASIDE_DISPATCH, _set_aside)
    registry.register_reopen_check(catalogue.DISPATCH_OVERDUE.code, _overdue_alert_would_reopen)
