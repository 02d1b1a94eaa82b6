"""Writes the message log: every HTTP exchange the clients make, linked to the order being
worked on. The flows say which order that is with ``about_order``; the clients report each
exchange through the ``record_exchange`` callback they are built with."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

from integration.clients.errors import Exchange
from integration.models import MessageLog, Order
from integration.shared.log_format import ORDER_NUMBER

BODY_LIMIT = 200_000  # characters kept of one body; a page of 200 orders fits

_current_order: contextvars.ContextVar[int | None] = contextvars.ContextVar("current_order", default=None)
# While set, exchanges are collected here and written in bulk (see ``buffered``).
_buffer: contextvars.ContextVar[list[MessageLog] | None] = contextvars.ContextVar("messagelog_buffer", default=None)


@contextlib.contextmanager
def about_order(order: Order | None) -> Iterator[None]:
    """Link the exchanges made inside this block to ``order``."""
    token = _current_order.set(order.pk if order is not None else None)
    # Its number goes on the log lines written meanwhile (LOG_FORMAT=json, integration/shared/log_format.py).
    number_token = ORDER_NUMBER.set(order.ord_num if order is not None else "")
    try:
        yield
    finally:
        ORDER_NUMBER.reset(number_token)
        _current_order.reset(token)


@contextlib.contextmanager
def buffered() -> Iterator[list[MessageLog]]:
    """Collect the exchanges made inside this block (also from threads started with a copy of
    this context) and write them with one bulk insert per ``flush``, and at the end: a run
    over thousands of items must not spend an insert per HTTP call. Only the thread that
    opened the block writes; the others only append (atomic for a list)."""
    rows: list[MessageLog] = []
    token = _buffer.set(rows)
    try:
        yield rows
    finally:
        _buffer.reset(token)
        flush(rows)


def flush(rows: list[MessageLog]) -> None:
    """Write what a ``buffered`` block has collected so far."""
    taken = rows[:]
    del rows[: len(taken)]
    if taken:
        MessageLog.objects.bulk_create(taken, batch_size=500)


def record_exchange(exchange: Exchange) -> None:
    buffer = _buffer.get()
    if buffer is not None:
        buffer.append(_row(exchange))
        return
    _row(exchange).save()


def _row(exchange: Exchange) -> MessageLog:
    return MessageLog(
        direction=MessageLog.Direction.OUT,
        system=exchange.system,
        operation=exchange.operation,
        method=exchange.method,
        url=exchange.url[:2048],
        status_code=exchange.status_code,
        request_body=exchange.request_body[:BODY_LIMIT],
        response_body=exchange.response_body[:BODY_LIMIT],
        error=exchange.error,
        duration_ms=exchange.duration_ms,
        order_id=_current_order.get(),
    )
