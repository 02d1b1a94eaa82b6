"""What saving an active row releases: the held orders it unblocks (previewed before the
save) and, for a carrier row, the dispatches held for want of it."""

from __future__ import annotations

from django.db import transaction
from django_q.tasks import async_task

from integration.mappings.tables import MappingTable
from integration.orders.flow import orders_blocked_by_mapping


def orders_to_release(table: MappingTable, code: str, active: bool) -> list[str]:
    """The numbers of the held orders saving an active row for ``code`` releases (none for an
    inactive row), in order."""
    code = (code or "").strip()
    if not active or not code:
        return []
    return sorted(order.ord_num for order in orders_blocked_by_mapping(**{table.release_arg: code}))


def release_preview(table: MappingTable, code: str, active: bool) -> int:
    """How many held orders saving an active row for ``code`` releases (0 for an inactive row)."""
    return len(orders_to_release(table, code, active))


def release_held_dispatches_on_commit(table: MappingTable) -> None:
    """After a carrier row is saved active: the dispatches held because no carrier row mapped
    them back are checked again (and posted) by a worker. A warehouse row holds no dispatch."""
    if table.slug != "carriers":
        return
    transaction.on_commit(lambda: async_task(
        "integration.dispatches.flow.release_dispatches_held_for_carrier",
        task_name="release_dispatches_held_for_carrier"))
