"""Writes the message log: every HTTP exchange the clients make, linked to the order being
worked on. The flows say which order that is with ``about_order``; the clients report each
exchange through the ``record_exchange`` callback they are built with."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

from integration.clients.errors import Exchange
from integration.models import MessageLog, Order

BODY_LIMIT = 200_000  # characters kept of one body; a page of 200 orders fits

_current_order: contextvars.ContextVar[int | None] = contextvars.ContextVar("current_order", default=None)


@contextlib.contextmanager
def about_order(order: Order | None) -> Iterator[None]:
    """Link the exchanges made inside this block to ``order``."""
    token = _current_order.set(order.pk if order is not None else None)
    try:
        yield
    finally:
        _current_order.reset(token)


def record_exchange(exchange: Exchange) -> None:
    MessageLog.objects.create(
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
