"""A bounded load test on loopback (issue 8): Seko's webhook and the dashboard, served by the
web app served as in production (gunicorn), hammered from threads in this process for a fixed
time each. Not part of ``make test``.

    .venv/bin/python -m bench.load --seconds 15 --concurrency 8 [--json]

Starts from empty state in a fresh data directory (SQLite, ORM broker, no workers: what is
measured is the door, i.e. token + signature + raw body stored + 202 for the webhook, and a
signed-in page render for the dashboard), and stops everything it started. Reports per target:
requests, throughput (requests/s), p50/p99/max latency in ms, and the status codes seen.
"""

from __future__ import annotations

import argparse
import base64
import itertools
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from bench.loadgen import signed_headers
from demo.launcher import free_port
from demo.processes import web_server_args, web_server_shape
from demo.reporting import percentile

ROOT = Path(__file__).resolve().parent.parent
PAGES = ["/", "/exceptions/", "/orders/", "/mappings/warehouses/", "/mappings/carriers/", "/overdue/",
         "/api/exceptions/", "/api/orders/"]
USER, PASSWORD = "load-admin", "load-admin-pw"
TARGETS = ("webhook", "dashboard")


def push_body(number: int) -> str:
    record = {"InterfaceRecordId": str(7_000_000 + number), "SequenceNumber": number, "MessagePart": 1,
              "MessageTotal": 1, "MessageGroupId": f"g-load-{number}", "SalesOrderNumber": f"SO-L{number}",
              "DispatchId": f"DSP-L{number}", "DCCode": "DCCL01", "CourierName": "RoyalMail",
              "CourierService": "TPN24", "TrackingNumber": f"TRK{number}", "DispatchDate": "2026-11-27T10:00:00Z",
              "List": {"DispatchLineItem": [{"ProductCode": "SKU-1", "Quantity": 1}]}}
    return json.dumps({"Responses": [{"Response": {"DispatchConfirmation": record}}]})


def hammer(call, seconds: float, concurrency: int) -> dict[str, Any]:
    """Run ``call(session, n) -> status`` from ``concurrency`` threads for ``seconds``."""
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    counter = itertools.count()
    # Sessions are set up (signed in) before the clock starts: a login is not a page view.
    sessions = [requests.Session() for _ in range(concurrency)]
    for session in sessions:
        if getattr(call, "setup", None):
            call.setup(session)
    stop_at = time.monotonic() + seconds

    def worker(session: requests.Session) -> None:
        with session:
            while time.monotonic() < stop_at:
                started = time.perf_counter()
                try:
                    status = call(session, next(counter))
                except requests.RequestException:
                    status = 0
                took = (time.perf_counter() - started) * 1000
                with lock:
                    latencies.append(took)
                    statuses[status] += 1

    threads = [threading.Thread(target=worker, args=(session,)) for session in sessions]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    return {"requests": len(latencies), "seconds": round(elapsed, 1), "per_s": round(len(latencies) / elapsed, 1),
            "p50_ms": round(percentile(latencies, 0.50), 1), "p99_ms": round(percentile(latencies, 0.99), 1),
            "max_ms": round(max(latencies, default=0), 1), "concurrency": concurrency,
            "statuses": {str(k): v for k, v in sorted(statuses.items())}}


def main() -> int:
    args = parse_args()
    if args.threads:  # this process only runs the test: the server below inherits it
        os.environ["WEB_THREADS"] = str(args.threads)
    data_dir = Path(tempfile.mkdtemp(prefix="bridge-load-"))
    token, secret = secrets.token_urlsafe(24), "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    env = server_environment(data_dir, token, secret)
    web = None
    try:
        prepare_database(env)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        web = subprocess.Popen([sys.executable, *web_server_args(port)], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until_answering(base)
        report = measure(base, token, secret, args.seconds, args.concurrency)
    finally:
        if web is not None:
            web.terminate()
            web.wait(timeout=15)
        shutil.rmtree(data_dir, ignore_errors=True)
    print_report(report, as_json=args.json)
    return 0 if all(set(report[t]["statuses"]) <= {"200", "202"} for t in TARGETS) else 1


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15, help="per target")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--threads", type=int, default=0,
                        help="threads per web process (default: config/gunicorn.conf.py's)")
    parser.add_argument("--json", action="store_true")
    return parser.parse_args()


def server_environment(data_dir: Path, token: str, secret: str) -> dict[str, str]:
    """The web server's settings: empty state in ``data_dir`` (SQLite, ORM broker, no workers)
    and the push credentials the webhook checks."""
    return {**os.environ, "DATA_DIR": str(data_dir), "DATABASE_URL": f"sqlite:///{data_dir / 'integration.sqlite3'}",
            "Q_BROKER_URL": "", "Q_CLUSTER_NAME": f"load{os.getpid()}", "LOG_LEVEL": "WARNING",
            "SEKO_PUSH_TOKEN": token, "SEKO_PUSH_SECRET": secret, "DJANGO_SETTINGS_MODULE": "config.settings",
            # One user hammers the API pages here: the load measured is the server's, not the per-user rate limit's.
            "API_THROTTLE_USER": "1000000/minute"}


def prepare_database(env: dict[str, str]) -> None:
    """Migrate the fresh database and add the admin the dashboard is read as."""
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    subprocess.run([*manage, "shell", "-c",
                    "from django.contrib.auth.models import User, Group; "
                    f"u = User.objects.create_user({USER!r}, password={PASSWORD!r}); "
                    "u.groups.add(Group.objects.get_or_create(name='integration-admin')[0])"],
                   cwd=ROOT, env=env, check=True, capture_output=True)


def wait_until_answering(base: str) -> None:
    """Give the web server a moment to answer /healthz (the measurements show it if it never does)."""
    for _ in range(100):
        try:
            if requests.get(f"{base}/healthz", timeout=1).status_code < 500:
                break
        except requests.RequestException:
            time.sleep(0.2)


def measure(base: str, token: str, secret: str, seconds: float, concurrency: int) -> dict[str, Any]:
    return {"webhook": hammer(webhook_target(base, token, secret), seconds, concurrency),
            "dashboard": hammer(dashboard_target(base), seconds, concurrency),
            "pages": PAGES, "web": web_server_shape(), "database": "sqlite"}


def webhook_target(base: str, token: str, secret: str) -> Callable[[requests.Session, int], int]:
    """A distinct DispatchConfirmation per call, pushed as Seko pushes (bearer token, signed)."""

    def webhook(session: requests.Session, number: int) -> int:
        body = push_body(number)
        headers = signed_headers(token, secret, body.encode(), f"msg_{secrets.token_hex(8)}")
        return session.post(f"{base}/webhooks/seko/", data=body.encode(), headers=headers, timeout=30).status_code

    return webhook


def dashboard_target(base: str) -> Callable[[requests.Session, int], int]:
    """The pages in turn, read by a signed-in admin (each session signs in before the clock starts)."""

    def dashboard(session: requests.Session, number: int) -> int:
        return session.get(f"{base}{PAGES[number % len(PAGES)]}", timeout=30, allow_redirects=False).status_code

    def login(session: requests.Session) -> None:
        page = session.get(f"{base}/accounts/login/", timeout=30).text
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        session.post(f"{base}/accounts/login/", data={"username": USER, "password": PASSWORD,
                                                      "csrfmiddlewaretoken": csrf.group(1) if csrf else ""},
                     headers={"Referer": f"{base}/accounts/login/"}, timeout=30)

    dashboard.setup = login  # type: ignore[attr-defined]
    return dashboard


def print_report(report: dict[str, Any], *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report))
        return
    for target in TARGETS:
        r = report[target]
        print(f"{target:9} {r['requests']:6} requests in {r['seconds']} s: {r['per_s']}/s, "
              f"p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, max {r['max_ms']} ms, statuses {r['statuses']}")


if __name__ == "__main__":
    sys.exit(main())
