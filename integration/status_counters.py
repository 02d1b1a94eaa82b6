"""Every counter the database keeps of rows per status (integration/shared/status_counter.py),
for what must handle them all: the check after every migrate, the compaction schedule, and the
move to another database."""

from __future__ import annotations

from integration.items.sync_status_counts import ITEMS_BY_SYNC_STATUS
from integration.orders.status_counts import ORDERS_BY_STATUS

COUNTERS = (ORDERS_BY_STATUS, ITEMS_BY_SYNC_STATUS)
