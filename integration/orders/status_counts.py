"""Orders per status, counted by the database itself (issue 9): the overview's "orders by
status" was a ``GROUP BY status`` over every order, ~170 ms on SQLite and ~250 ms on PostgreSQL
at a million orders. How the counter works: integration/shared/status_counter.py."""

from __future__ import annotations

from integration.shared.status_counter import StatusCounter

ORDERS_BY_STATUS = StatusCounter(table="integration_orderstatuscount", counted="integration_order",
                                 column="status", prefix="integration_order_status_count")
