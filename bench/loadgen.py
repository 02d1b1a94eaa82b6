"""The load generator of the benchmarks, run in its own process (``python -m bench.loadgen SPEC``)
so its CPU is never counted as the app's. No Django here: plain HTTP, one keep-alive connection
per thread (``requests`` for pages, ``http.client`` for the webhook's pushes). Prints one JSON
object: count, elapsed, rate, latencies (and, for the webhook, the generator's own CPU).

Modes:
- ``get``: GET each of ``urls`` ``repeat`` times in turn, one at a time (server time per page).
- ``webhook``: POST ``requests`` distinct DispatchConfirmations, signed as Seko signs them
  (bearer token, Standard Webhooks), from ``concurrency`` threads.
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any
from urllib.parse import SplitResult, urlsplit

import requests
from standardwebhooks import Webhook

from demo.reporting import percentile


def run_get(spec: dict[str, Any]) -> dict[str, Any]:
    session = requests.Session()
    session.cookies.update(spec.get("cookies", {}))
    timings: dict[str, list[float]] = {url: [] for url in spec["urls"]}
    statuses: dict[str, list[int]] = {url: [] for url in spec["urls"]}
    for url in spec["urls"]:
        session.get(url, timeout=120)  # warm: templates compiled, connection open
    for _ in range(spec.get("repeat", 7)):
        for url in spec["urls"]:
            started = time.perf_counter()
            response = session.get(url, timeout=120)
            timings[url].append((time.perf_counter() - started) * 1000)
            statuses[url].append(response.status_code)
    return {url: {"median_ms": round(percentile(t, 0.5), 1), "min_ms": round(min(t), 1),
                  "statuses": sorted(set(statuses[url]))} for url, t in timings.items()}


def confirmation(number: int, run: str) -> dict[str, Any]:
    return {"Responses": [{"Response": {"DispatchConfirmation": {
        "InterfaceRecordId": f"{run}{number}", "SequenceNumber": number, "MessageGroupId": f"g-{run}-{number}",
        "MessagePart": 1, "MessageTotal": 1, "SalesOrderNumber": f"BENCH-{number}", "DispatchId": f"DSP-{run}-{number}",
        "DispatchDate": "2026-11-27T16:40:00Z", "CourierName": "RoyalMail", "CourierService": "TPN24",
        "TrackingNumber": f"JD{number:08d}GB",
        "List": {"DispatchLineItem": [{"LineNumber": 1, "ProductCode": "SKU-A", "Quantity": 2},
                                      {"LineNumber": 2, "ProductCode": "SKU-B", "Quantity": 1}]}}}}]}


def signed_headers(token: str, secret: str, body: bytes, msg_id: str) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", "webhook-id": msg_id}
    if secret:
        # The specification's reference library, as a Standard Webhooks sender signs.
        signer = Webhook(secret if secret.startswith("whsec_") else secret.encode())
        stamp = int(time.time())
        signature = signer.sign(msg_id, datetime.fromtimestamp(stamp, tz=UTC), body.decode())
        headers.update({"webhook-timestamp": str(stamp), "webhook-signature": signature})
    return headers


def post_keepalive(local: threading.local, target: SplitResult, body: bytes, headers: dict[str, str]) -> int:
    """POST on this thread's own keep-alive connection (opened on first use), reading the whole
    answer. Plain http.client: ``requests`` spent about a millisecond of CPU per push here, as
    much as the app itself, on the same two cores (issue 9)."""
    reused = getattr(local, "connection", None) is not None
    if not reused:
        local.connection = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
    try:
        local.connection.request("POST", target.path, body=body, headers=headers)
        response = local.connection.getresponse()
        response.read()
    except (ConnectionError, http.client.HTTPException):
        local.connection.close()
        local.connection = None
        if not reused:
            raise
        # The server had closed the kept connection before taking this request: once more on a
        # new one (a failure there is real).
        return post_keepalive(local, target, body, headers)
    if response.will_close:
        local.connection.close()
        local.connection = None
    return response.status


def run_webhook(spec: dict[str, Any]) -> dict[str, Any]:
    local = threading.local()
    run = str(int(time.time()))[-5:]
    # Bodies are built before the clock starts: the generator's own work is not the app's latency.
    bodies = [json.dumps(confirmation(n, run)).encode() for n in range(spec["requests"])]
    target = urlsplit(spec["url"])

    def one(number: int) -> tuple[float, int]:
        body = bodies[number]
        headers = signed_headers(spec["token"], spec["secret"], body, f"msg_{run}_{number}")
        started = time.perf_counter()
        status = post_keepalive(local, target, body, headers)
        return (time.perf_counter() - started) * 1000, status

    for number in range(spec.get("warmup", 20)):  # not counted: first connections, first queries
        warm = requests.post(spec["url"], data=b"{}", headers=signed_headers(spec["token"], spec["secret"], b"{}",
                                                                             f"warm_{run}_{number}"), timeout=60)
        warm.close()
    started, cpu_started = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(spec["concurrency"]) as pool:
        results = list(pool.map(one, range(spec["requests"])))
    elapsed = time.perf_counter() - started
    # The generator's own CPU (all its threads): near a whole core here would mean the client,
    # not the app, caps the rate.
    cpu_s = time.process_time() - cpu_started
    latencies = [ms for ms, _ in results]
    statuses: dict[str, int] = {}
    for _, status in results:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    return {"requests": len(results), "concurrency": spec["concurrency"], "elapsed_s": round(elapsed, 2),
            "per_s": round(len(results) / elapsed, 1), "p50_ms": round(percentile(latencies, 0.5), 1),
            "p99_ms": round(percentile(latencies, 0.99), 1), "max_ms": round(max(latencies), 1),
            "statuses": statuses, "loadgen_cpu_s": round(cpu_s, 2),
            "loadgen_cpu_share": round(cpu_s / elapsed, 2)}


def main() -> None:
    with open(sys.argv[1]) as handle:
        spec = json.load(handle)
    result = run_get(spec) if spec["mode"] == "get" else run_webhook(spec)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
