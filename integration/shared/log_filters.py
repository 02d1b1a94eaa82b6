"""Logging filters wired in config/settings.py LOGGING."""

from __future__ import annotations

import logging


class ForbiddenInOneLine(logging.Filter):
    """A refused request (403) is an expected answer, not a fault: Django logs it with the
    PermissionDenied traceback, which buries real errors. Keep one line saying who was refused
    what and why, and drop the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) != 403 or not record.exc_info:
            return True
        reason = str(record.exc_info[1]) if record.exc_info[1] is not None else ""
        request = getattr(record, "request", None)
        user = getattr(getattr(request, "user", None), "username", "") or "anonymous"
        record.msg = f"{record.getMessage()} (user {user}{': ' + reason if reason else ''})"
        record.args = None
        record.exc_info = None
        record.exc_text = None
        return True
