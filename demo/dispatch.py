"""The dispatch half of the demo (issue 5): the web app receives Seko's pushes on its webhook,
signed with a secret made up for the run; the warehouse dispatches every order it holds, with
the faults asked for; the workers take the pushes, the poll recovers the dropped ones; the
report counts every dispatch and reads Blue Cherry's own figures from its simulator.
"""

from __future__ import annotations

import base64
import secrets
import time
from collections import Counter
from collections.abc import Callable

from django.conf import settings
from django.db.models import Count, Sum
from django_q.tasks import async_task

from demo.launcher import RunningSimulator, free_port
from demo.processes import Supervisor, web_server_args
from demo.seed import bluecherry_rows
from demo.waiting import drive_until_quiet
from integration.dispatches.rules import text
from integration.models import Dispatch, InboundPush, Order, PushPart

# Seko delivers every ~15 minutes and gives up after three failures; compressed for the demo.
PUSH_INTERVAL_SECONDS = 1.0
FAULT_KEYS = ("drop_push_rate", "duplicate_push_rate")
WAREHOUSE_KEYS = ("short_ship_rate", "missing_tracking_rate", "missing_carrier_rate", "tracking_later_rate")
# A confirmation without its tracking number waits this long for a later TrackingDetails (Seko's
# push cycle, compressed above) before it is quarantined.
TRACKING_WAIT_SECONDS = 8


def push_env() -> dict[str, str]:
    """A push token and a Standard Webhooks secret for this run (the signatures are exercised)."""
    return {"SEKO_PUSH_TOKEN": secrets.token_urlsafe(24),
            "SEKO_PUSH_SECRET": "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()}


def use_push_credentials(supervisor: Supervisor) -> None:
    """Give the web server and workers (started after this) and this process the same credentials,
    and the wait for tracking that follows its dispatch on the demo's compressed clock."""
    supervisor.env.update(push_env())
    supervisor.env.setdefault("DISPATCH_TRACKING_WAIT_SECONDS", str(TRACKING_WAIT_SECONDS))
    settings.DISPATCH_TRACKING_WAIT_SECONDS = int(supervisor.env["DISPATCH_TRACKING_WAIT_SECONDS"])
    settings.SEKO_PUSH_TOKEN = supervisor.env["SEKO_PUSH_TOKEN"]
    settings.SEKO_PUSH_SECRET = supervisor.env["SEKO_PUSH_SECRET"]


def start_web(supervisor: Supervisor, port: int | None = None, name: str = "web") -> int:
    """The web app served as in production (gunicorn; its webhook takes Seko's pushes); returns its port."""
    port = port or free_port()
    supervisor.process(name, web_server_args(port))
    supervisor.wait_for_url(f"http://127.0.0.1:{port}/healthz")
    return port


def point_pushes_at(seko: RunningSimulator, *ports: int) -> None:
    """Seko pushes to our webhook; with several web servers (nodes), to each in turn."""
    seko.control("POST", "_sim/config", {
        "push_url": ", ".join(f"http://127.0.0.1:{port}/webhooks/seko/" for port in ports),
        "push_token": settings.SEKO_PUSH_TOKEN,
        "push_secret": settings.SEKO_PUSH_SECRET, "push_interval_seconds": PUSH_INTERVAL_SECONDS,
    })


def set_push_faults(seko: RunningSimulator, faults: dict[str, float], seed: int) -> None:
    chosen = {key: float(faults[key]) for key in FAULT_KEYS if faults.get(key)}
    if chosen:
        seko.control("POST", "_sim/faults", {**chosen, "seed": seed})


def dispatch_everything(seko: RunningSimulator, rates: dict[str, float], seed: int, rounds: int = 3) -> int:
    """The warehouse clock: dispatch what Seko holds in a few rounds, then whatever is left, so
    every order it holds is dispatched by the end. Returns how many were dispatched."""
    orders = seko.control("GET", "_sim/orders")["orders"]
    held = sum(1 for o in orders if o["Status"] not in ("Dispatched", "Cancelled"))
    chosen = {key: float(rates[key]) for key in WAREHOUSE_KEYS if rates.get(key)}
    dispatched = 0
    for number in range(rounds):
        size = "all" if number == rounds - 1 else max(1, held // rounds)
        body = {"orders": size, "seed": seed * 100 + number, **chosen}
        dispatched += len(seko.control("POST", "_sim/warehouse/advance", body, timeout=120)["dispatched"])
        time.sleep(PUSH_INTERVAL_SECONDS)
    return dispatched


def drive_dispatches_to_quiescence(supervisor: Supervisor, seko: RunningSimulator, say: Callable[[str], None],
                                   *, timeout_s: float) -> None:
    """Kick the dispatch tasks until Seko has nothing left to push, every stored push is taken,
    every dispatch is posted or quarantined and every order Seko dispatched has its dispatch
    here (the poll recovers the dropped): twice in a row."""

    def kick() -> None:
        async_task("integration.tasks.sync_dispatches", task_name="sync_dispatches")
        async_task("integration.tasks.poll_dispatches", task_name="poll_dispatches")

    def quiet() -> bool:
        state = seko.control("GET", "_sim/state")
        counts = dispatch_counts()
        waiting = Order.objects.filter(status__in=[Order.Status.SENT, Order.Status.CANCEL_REFUSED],
                                       dispatches__isnull=True).count()
        say(f"dispatches: {', '.join(f'{k} {v}' for k, v in sorted(counts.items()))}; "
            f"Seko pushes pending {state['pending_pushes']}; orders awaiting their dispatch {waiting}")
        busy = (state["pending_pushes"] or pushes_waiting()
                or counts.get(Dispatch.Status.RECEIVED, 0) or counts.get(Dispatch.Status.POSTING, 0) or waiting)
        return not busy

    drive_until_quiet(supervisor, kick=kick, quiet=quiet, timeout_s=timeout_s, what="dispatches",
                      figures=dispatch_counts)


def pushes_waiting() -> bool:
    """A stored push the workers have yet to finish (pending, or being processed)."""
    return InboundPush.objects.filter(status__in=[InboundPush.Status.PENDING, InboundPush.Status.PROCESSING]).exists()


def dispatch_counts() -> dict[str, int]:
    return dict(Dispatch.objects.values_list("status").annotate(n=Count("id")).order_by())


def dispatch_report() -> dict[str, int]:
    counts = dispatch_counts()
    repeats = (PushPart.objects.aggregate(n=Sum("repeats"))["n"] or 0) + \
              (Dispatch.objects.aggregate(n=Sum("repeats"))["n"] or 0)
    return {
        "received": sum(counts.values()),
        "confirmed": counts.get(Dispatch.Status.POSTED, 0),
        "quarantined": counts.get(Dispatch.Status.QUARANTINED, 0),
        "partial": Dispatch.objects.filter(status=Dispatch.Status.POSTED, short=True).count(),
        "duplicates_ignored": repeats,
        "recovered_by_poll": Dispatch.objects.filter(source=Dispatch.Source.POLL).count(),
        "tracking_later": tracking_later_count(),
    }


def tracking_later_count() -> int:
    """Dispatches whose confirmation came without a tracking number and which got one from a
    TrackingDetails in a push of its own."""
    tracked_orders = set(PushPart.objects.filter(type=PushPart.TRACKING, applied_at__isnull=False)
                         .values_list("sales_order_number", flat=True))
    return sum(1 for dispatch in Dispatch.objects.filter(ord_num__in=tracked_orders).only(
        "ord_num", "confirmation", "overrides")
        if not text(dispatch.confirmation.get("TrackingNumber")) and text(dispatch.effective.get("TrackingNumber")))


def bluecherry_report(bluecherry: RunningSimulator) -> dict[str, int]:
    """Blue Cherry's own figures, read from its API (not from our database)."""
    listed = bluecherry_rows(bluecherry, "shipments")
    shipments = Counter(s["ord_num"] for s in listed)
    without_tracking = sum(1 for s in listed if not s.get("tracking_numbers"))
    invoices = Counter(i["ord_num"] for i in bluecherry_rows(bluecherry, "invoices"))
    return {
        "shipments": sum(shipments.values()),
        "shipments_without_tracking": without_tracking,
        "invoices": sum(invoices.values()),
        "max_shipments_per_order": max(shipments.values(), default=0),
        "max_invoices_per_order": max(invoices.values(), default=0),
    }


def seko_push_report(seko: RunningSimulator) -> dict[str, int]:
    """What Seko's side says it did: orders dispatched, push records delivered, dropped, doubled."""
    pushes = seko.control("GET", "_sim/pushes")["pushes"]
    orders = seko.control("GET", "_sim/orders")["orders"]
    return {
        "orders_dispatched": sum(1 for o in orders if o["Status"] == "Dispatched"),
        "push_records_delivered": sum(1 for p in pushes if p["status"] == "delivered"),
        "push_records_dropped": sum(1 for p in pushes if p["status"] == "dropped"),
        "push_records_duplicated": sum(1 for p in pushes if p["delivered_count"] > 1),
        "dispatch_confirmations_dropped": sum(1 for p in pushes if p["status"] == "dropped"
                                              and p["kind"] == "DispatchConfirmation"),
    }
