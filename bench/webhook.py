"""Webhook ingest (``manage.py bench --only webhook``): signed DispatchConfirmations POSTed to
the web app served as in production (gunicorn) by the load generator in its own process, from
several threads.

What is measured is the door: token, signature, raw body stored, 202. The workers are not
running, so the pushes stay stored for them (their processing is the dispatch flow's cost, not
the door's); the kick the webhook enqueues (at most one a second) still goes to the broker.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.conf import settings

from bench.perf_common import group_cpu_seconds, run_loadgen, say
from demo.dispatch import start_web, use_push_credentials
from demo.processes import Supervisor, web_server_shape
from integration.models import InboundPush

SCALES = {"small": (300, 8), "full": (3000, 16)}  # requests, concurrency


def run(data_dir: Path, *, scale: str) -> dict[str, Any]:
    requests, concurrency = SCALES[scale]
    with Supervisor(data_dir, dict(os.environ), say) as supervisor:
        use_push_credentials(supervisor)
        port = start_web(supervisor)
        web_pgid = next(process.pid for name, process in supervisor.processes if name == "web")
        web_cpu_started = group_cpu_seconds(web_pgid)  # every web process (its own session)
        result = run_loadgen({"mode": "webhook", "url": f"http://127.0.0.1:{port}/webhooks/seko/",
                              "requests": requests, "concurrency": concurrency,
                              "token": settings.SEKO_PUSH_TOKEN, "secret": settings.SEKO_PUSH_SECRET}, data_dir)
        # Includes the load generator's 20 warm-up pushes: a rounding error at 3,000.
        web_cpu = group_cpu_seconds(web_pgid) - web_cpu_started
    stored = InboundPush.objects.filter(webhook_id__startswith="msg_").count()
    say(f"webhook: {result['per_s']}/s, p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms; {stored} stored; "
        f"web CPU {web_cpu:.1f} s, load generator CPU {result['loadgen_cpu_s']} s")
    return {"per_s": result["per_s"], "p50_ms": result["p50_ms"], "p99_ms": result["p99_ms"],
            "max_ms": result["max_ms"], "requests": result["requests"], "concurrency": concurrency,
            "statuses": result["statuses"], "stored": stored, "web": web_server_shape(),
            "web_cpu_ms_per_push": round(web_cpu * 1000 / result["requests"], 2),
            "loadgen_cpu_s": result["loadgen_cpu_s"], "loadgen_cpu_share": result["loadgen_cpu_share"]}
