"""Bounded concurrency for remote calls (issue 9).

Seko and Blue Cherry are remote: a call costs its round trip, mostly waiting. One call at a
time caps a worker at 1 / latency orders a second (about 6 at 150 ms), however idle the CPU.
``each_in_threads`` runs one piece of work per item on a few threads, each with its own client
(its own keep-alive HTTP session: a ``requests.Session`` is not shared across threads) and its
own database connection, closed when the thread ends. Every write the work makes stays a
compare-and-swap on the order's state, so concurrency never sends or records anything twice;
SQLite's single writer only queues those short writes (the busy timeout covers it).

Inside a transaction the work runs inline, one at a time: other threads' connections could not
see the caller's uncommitted rows (a test's transaction, or a caller holding a lock).
"""

from __future__ import annotations

import contextlib
import contextvars
import queue
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from django.db import connection, connections

T = TypeVar("T")


def each_in_threads(items: Iterable[T], work: Callable[[T, Any], None], *,
                    client_factory: Callable[[], contextlib.AbstractContextManager[Any]], threads: int,
                    stop: threading.Event | None = None) -> None:
    """Call ``work(item, client)`` for every item, on up to ``threads`` threads. Setting
    ``stop`` (e.g. the remote is down: the rest would fail the same way) leaves the items not
    yet started for the next run. An exception escaping ``work`` is raised here at the end."""
    pending = list(items)
    stop = stop or threading.Event()
    if threads <= 1 or len(pending) <= 1 or connection.in_atomic_block:
        with client_factory() as client:
            for item in pending:
                if stop.is_set():
                    return
                work(item, client)
        return

    waiting: queue.SimpleQueue[T] = queue.SimpleQueue()
    for item in pending:
        waiting.put(item)

    def drain() -> None:
        try:
            with client_factory() as client:
                while not stop.is_set():
                    try:
                        item = waiting.get_nowait()
                    except queue.Empty:
                        return
                    work(item, client)
        finally:
            connections.close_all()  # this thread's connections only (they are per thread)

    # Each thread runs in its own copy of the caller's context, so what the caller set there
    # (the message log's buffer, see ``messagelog.buffered``) reaches the threads.
    with ThreadPoolExecutor(max_workers=min(threads, len(pending)), thread_name_prefix="remote") as pool:
        futures = [pool.submit(contextvars.copy_context().run, drain) for _ in range(min(threads, len(pending)))]
    for future in futures:
        future.result()
