"""LOG_FORMAT=json: every log line is one JSON object, with the order being worked on; plain otherwise.

Each case starts a fresh Python with the environment set, because Django configures logging from
the settings once, at start-up, exactly as the web server and the workers do.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Logs inside about_order, an error with its traceback, and a 403 as Django's request handler logs it.
SCRIPT = """
import logging, sys
import django
django.setup()
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory
from integration.shared.messagelog import about_order
from integration.models import Order

log = logging.getLogger("integration.orders.flow")
log.info("outside any order")
with about_order(Order(ord_num="SO-4711")):
    log.warning("Seko refused the order: %s", "bad postcode")
try:
    raise ValueError("boom")
except ValueError:
    log.exception("sync failed")
request = RequestFactory().get("/exceptions/1/")
try:
    raise PermissionDenied("needs resolve_exceptions")
except PermissionDenied:
    logging.getLogger("django.request").warning("Forbidden (Permission denied): %s", request.path,
                                                 extra={"status_code": 403, "request": request},
                                                 exc_info=sys.exc_info())
"""


def _run(tmp_path: Path, **env: str) -> list[str]:
    environment = {name: value for name, value in os.environ.items() if name != "LOG_FORMAT"}
    environment.update(DJANGO_SETTINGS_MODULE="config.settings", DATA_DIR=str(tmp_path), LOG_LEVEL="INFO", **env)
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=environment, capture_output=True,
                          text=True, timeout=60, check=True)
    # Only our four records: other apps may log at start-up.
    return [line for line in done.stderr.splitlines()
            if any(word in line for word in ("outside any order", "Seko refused", "sync failed", "Forbidden", "Trace",
                                             "File ", "ValueError", "PermissionDenied"))]


def test_json_logs_are_one_object_per_line_with_the_order_number(tmp_path):
    lines = _run(tmp_path, LOG_FORMAT="json")
    records = [json.loads(line) for line in lines]  # every kept line parses: tracebacks are inside
    assert len(records) == 4, lines
    outside, refused, failed, forbidden = records
    assert outside["message"] == "outside any order" and "ord_num" not in outside
    assert outside["level"] == "INFO" and outside["logger"] == "integration.orders.flow" and outside["time"]
    assert refused["message"] == "Seko refused the order: bad postcode"
    assert refused["ord_num"] == "SO-4711"
    assert refused["trace_key"] == "order:SO-4711"  # as the exception queue names the order
    assert "ValueError: boom" in failed["exc_info"]
    # A refused request: one line saying who and why, no traceback, no request object dumped.
    assert forbidden["status_code"] == 403 and forbidden["path"] == "/exceptions/1/" and forbidden["method"] == "GET"
    assert "needs resolve_exceptions" in forbidden["message"] and "exc_info" not in forbidden
    assert "request" not in forbidden


def test_plain_logs_stay_as_they_were_without_log_format(tmp_path):
    lines = _run(tmp_path)
    assert any(line.endswith("WARNING integration.orders.flow: Seko refused the order: bad postcode")
               for line in lines), lines
    assert not any(line.startswith("{") for line in lines)
    assert any(line.startswith("Traceback") for line in lines), "plain logs keep the traceback as before"
