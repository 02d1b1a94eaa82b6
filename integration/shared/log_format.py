"""Log lines as one JSON object each (``LOG_FORMAT=json``), carrying the order being worked on.

Wired in config/settings.py LOGGING. Logging is configured before Django loads its apps, so this
module imports no models: the order number comes from a context variable that
``integration.shared.messagelog.about_order`` sets around the work on one order.
"""

from __future__ import annotations

import contextvars
import logging
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

# The number of the order being worked on in this thread or task, "" when none.
ORDER_NUMBER: contextvars.ContextVar[str] = contextvars.ContextVar("log_order_number", default="")


class OrderContext(logging.Filter):
    """Puts the order number (``ord_num``) and its trace key, as the exception queue writes it
    (``order:SO-1``), on each record made inside ``about_order``, so one search finds the order's
    log lines and its exceptions. A record that names its own is left as it is."""

    def filter(self, record: logging.LogRecord) -> bool:
        number = ORDER_NUMBER.get()
        if number and not getattr(record, "ord_num", ""):
            record.ord_num = number
            if not getattr(record, "trace_key", ""):
                record.trace_key = f"order:{number}"
        return True


class JsonLineFormatter(JsonFormatter):
    """time, level, logger, message, then whatever the record carries (``ord_num``, ``trace_key``,
    a request's ``status_code``, ``extra=``); a traceback is a field, so a record stays one line."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("fmt", ["levelname", "name", "message"])
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        kwargs.setdefault("timestamp", "time")
        # Django's request logs carry the request object itself: its method and path are kept
        # instead (below), never its headers, cookies or body.
        kwargs.setdefault("reserved_attrs", [*RESERVED_ATTRS, "request", "server_time"])
        super().__init__(*args, **kwargs)

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]) -> None:
        super().add_fields(log_data, record, message_dict)
        request = getattr(record, "request", None)
        if request is not None and hasattr(request, "path"):
            log_data["method"] = getattr(request, "method", "")
            log_data["path"] = request.path
