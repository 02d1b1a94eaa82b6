"""django-q2 entry points. Thin: each calls flows and takes work in batches.

Correctness never rests on the broker (the Redis broker loses a task whose worker dies): every
piece of work is a row with a state, and ``sync_orders`` (scheduled) finds whatever is due and
hands it out again. Running any task twice is safe.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

from django.conf import settings
from django.utils import timezone
from django_q.tasks import async_task

from integration.items import flow as items
from integration.models import Order, SyncCursor
from integration.orders import flow as orders
from integration.shared import recovery, worker_health

log = logging.getLogger(__name__)

# How long one send task keeps taking batches before it hands over (well under Q_TIMEOUT).
SEND_TASK_BUDGET_SECONDS = 60


HEARTBEAT_CURSOR = "orders.heartbeat"  # when the last heartbeat started; not a flow of its own


def kick_sync_orders() -> None:
    """Ask for a heartbeat now (the demo, the chaos run and the benchmark do, every second or
    two). Kicks queued behind busy workers coalesce: see ``sync_orders``."""
    async_task("integration.tasks.sync_orders", task_name="sync_orders", enqueued_at=time.time())


class HeartbeatStepsFailed(Exception):
    """Some steps of a heartbeat failed (each is named); the others ran. Raised at the end so
    django-q records the run as failed, after everything that could go on did."""


def sync_orders(enqueued_at: float | None = None) -> dict[str, int]:
    """The order flow's heartbeat: pull what changed in Blue Cherry, then fan the sending out
    to the workers in batches, then pass on pick tickets and cancels.

    Each step runs whatever happens to the others: Blue Cherry failing the item pull must not
    stop the orders already collected from going to Seko, nor their pick tickets and cancels.
    A failed step is logged (a pull also records its error on its flow, shown on the overview,
    and ``sync.stalled`` follows if it keeps failing); the run then ends in
    ``HeartbeatStepsFailed`` naming every failed step.

    A kicked heartbeat (``enqueued_at``, a Unix time) does nothing when another one started
    after it was asked for: that one has seen everything this one would. Issue 9: while the
    workers were busy sending, a kick a second queued a dozen heartbeats, which then ran back
    to back, each a round of remote calls, before the next burst's sends (3.5 s at 150 ms).
    The scheduled heartbeat and a direct call always run."""
    now = timezone.now()
    beat, _ = SyncCursor.objects.get_or_create(name=HEARTBEAT_CURSOR)
    if enqueued_at is not None and beat.last_run_at and beat.last_run_at.timestamp() > enqueued_at:
        return {"coalesced": 1}
    SyncCursor.objects.filter(pk=beat.pk).update(last_run_at=now)
    result: dict[str, int] = {}
    failed: dict[str, Exception] = {}

    def step(name: str, run: Callable[[], dict[str, int]]) -> None:
        try:
            result.update(run())
        except Exception as error:  # one step's failure must not stop the others
            log.exception("heartbeat step %r failed; the other steps go on", name)
            failed[name] = error

    step("recover claims", lambda: {"recovered": orders.recover_stale_claims()})
    # First: a system that answers again after an outage has everything waiting out a backoff
    # for it made due now, so this very beat sends it (not each piece at the end of its pause).
    step("outage catch-up", recovery.catch_up_all)
    # Items before orders (issue 4): a SKU about to go LIVE then does not hold its orders. The
    # item pull and the item sends are separate steps, so items already pulled still go to Seko
    # while Blue Cherry fails the pull. Bounded, so a big item-master load never starves the
    # orders; the rest goes next beat.
    step("item pull", _pull_items)
    step("item sends", lambda: send_pulled_items(budget_seconds=settings.ITEM_SYNC_BUDGET_SECONDS))
    step("released order pull", _pull_released)
    step("cancelled order pull", lambda: {"cancelled_seen": orders.pull_cancelled_orders()[0]})
    # After the whole pull, not after its first page: orders picked by the sends while the pull
    # still pages through one instant of Blue Cherry's list would push unseen ones onto pages
    # already read (they would come a heartbeat late; measured, issue 9).
    step("order sends", lambda: {"send_tasks": fan_out_sends()})
    step("pick tickets", lambda: {"pick_tickets": orders.send_owed_pick_tickets()})
    step("cancels", lambda: {"cancels": orders.send_requested_cancels()})
    log.info("sync_orders %s", result)
    if failed:
        raise HeartbeatStepsFailed("; ".join(f"{name}: {error}" for name, error in failed.items())) \
            from next(iter(failed.values()))
    return result


def _pull_items() -> dict[str, int]:
    seen, applied = items.pull_items()
    return {"items_seen": seen, "items_applied": applied}


def send_pulled_items(budget_seconds: float | None = None) -> dict[str, int]:
    """The items already pulled go to Seko even when this heartbeat's pull failed (see
    ``items.send_pulled_items``)."""
    done = items.send_pulled_items(budget_seconds)
    return {"items_recovered": done["recovered"], "items_sent": done["sent"], "items_set_live": done["set_live"]}


def _pull_released() -> dict[str, int]:
    seen, applied = orders.pull_released_orders()
    return {"released_seen": seen, "released_applied": applied}


def workers_heartbeat() -> None:
    """Scheduled every minute: a worker records that it ran, for /healthz/workers and the overview."""
    worker_health.record_beat()


def fan_out_sends() -> int:
    """Enqueue enough send tasks to keep every worker busy with the orders waiting now."""
    waiting = Order.objects.filter(status=Order.Status.RECEIVED).count()
    tasks = min(settings.Q_CLUSTER["workers"], math.ceil(waiting / settings.ORDER_BATCH_SIZE))
    for _ in range(tasks):
        async_task("integration.tasks.send_orders", task_name="send_orders")
    return tasks


def send_orders() -> int:
    """Take batches of waiting orders until none are due or the time budget is spent; then
    tell Blue Cherry about the ones sent."""
    deadline = time.monotonic() + SEND_TASK_BUDGET_SECONDS
    handled = 0
    while time.monotonic() < deadline:
        batch = orders.send_due_orders()
        if not batch:
            break
        handled += batch
    orders.send_owed_pick_tickets()
    return handled


def release_after_mapping_change(location: str | None = None, ship_via: str | None = None) -> int:
    released = orders.release_orders_blocked_by_mapping(location=location, ship_via=ship_via)
    if released:
        send_orders()
    if ship_via is not None:
        # However the carrier row was saved (admin, API, import): the dispatches held because no
        # row mapped them back are checked again too, not only the orders it blocked.
        from integration.dispatches import flow as dispatches

        dispatches.release_dispatches_held_for_carrier()
    return released


# --- Item master (issue 4) --------------------------------------------------------------------

def sync_items() -> dict[str, int]:
    """The item flow alone, to the end (no budget): for a big load run by hand or from a bench."""
    return items.sync_items()


def audit_items() -> dict[str, int]:
    """Compare Blue Cherry's item master with Seko's products (scheduled)."""
    from integration.items.audit import run_item_audit

    return run_item_audit()


# --- Dispatch confirmations and monitoring (issue 5) ----------------------------------------

DISPATCH_TASK_BUDGET_SECONDS = 60


def sync_dispatches() -> dict[str, int]:
    """Take the stored pushes and post the dispatches they complete, batch after batch, until
    none are left or the time budget is spent. Enqueued by the webhook and on a schedule."""
    from integration.dispatches import flow as dispatches
    from integration.dispatches import intake

    recovered = dispatches.recover_stale_claims()
    deadline = time.monotonic() + DISPATCH_TASK_BUDGET_SECONDS
    pushes = posted = 0
    while time.monotonic() < deadline:
        taken = intake.process_pushes()
        handled = dispatches.post_due_dispatches()
        pushes, posted = pushes + taken, posted + handled
        if not taken and not handled:
            break
    dispatches.mark_sync_success()
    return {"recovered": recovered, "pushes": pushes, "dispatches": posted}


def poll_dispatches() -> dict[str, int]:
    """The safety net: fetch dispatches Seko reports whose push never came, then post them."""
    from integration.dispatches import flow as dispatches

    result = dispatches.poll_dispatches()
    if result["recovered"]:
        while dispatches.post_due_dispatches():
            pass
    return result


def monitor() -> dict[str, int]:
    """Overdue orders, stalled flows, objects held with nothing saying why, then the email digests
    and the alerts (Slack, Teams, ... through Apprise) of what they and the flows raised."""
    from exceptions import alerting, digest, unexplained_holds
    from integration.dispatches import overdue
    from integration.shared import stalled

    return {"overdue": overdue.check_overdue(), "stalled": stalled.check_stalled(),
            "unexplained_holds": unexplained_holds.check_unexplained_holds(), "digests": digest.send_digests(),
            "alerts": alerting.send_alerts()}


def compact_status_counts() -> int:
    """Fold each status counter's deltas into one row per status, so that the overview and the
    Items screen sum a handful of rows; the triggers add two rows per status change meanwhile."""
    from django.db import connection

    from integration.status_counters import COUNTERS

    return sum(counter.compact(connection) for counter in COUNTERS)


# The name the schedule used before items were counted too: a task queued under it before an
# upgrade still runs after it.
compact_order_status_counts = compact_status_counts


# --- Stock: Seko free stock -> Blue Cherry available-to-sell (issue 6) ------------------------


def sync_stock() -> dict[str, int]:
    """Every push interval: apply stored StockAdjustment parts the dispatch processing has not
    applied yet (a safety net), publish changed figures, follow the batches sent before."""
    from integration.stock import flow as stock

    adjusted = stock.apply_pending_stock_parts()
    published = stock.publish_available()
    followed = stock.follow_publications()
    return {"adjustments": adjusted, "pushed": published.pushed, "batches": published.batches,
            "applied": followed.applied, "failed": followed.failed}


def snapshot_stock() -> dict[str, int]:
    """A few times a day: Seko's full free stock corrects drift in the running positions."""
    from integration.stock import flow as stock

    result = stock.take_snapshot()
    return {"skus": result.skus, "corrected": result.skus_corrected, "drifted": result.drifted}


def audit_stock() -> dict[str, int]:
    """Blue Cherry's channel_available against what it last applied from us."""
    from integration.stock import flow as stock

    result = stock.audit_bluecherry()
    return {"checked": result.checked, "drifted": result.drifted}


# --- Reconciliation (issue 7) ------------------------------------------------------------------


def reconcile(date_from: str | None = None, date_to: str | None = None, trigger: str = "schedule",
              requested_by: str = "") -> dict[str, int | str]:
    """The daily reconciliation: the last RECON_LOOKBACK_DAYS days (scheduled), or a range asked
    for on the page. Another run in progress: nothing to do (it is re-run by the schedule)."""
    from datetime import date

    from reconciliation.run import AlreadyRunning, run_recent, run_reconciliation

    try:
        if date_from:
            run = run_reconciliation(date.fromisoformat(date_from), date.fromisoformat(date_to or date_from),
                                     trigger=trigger, requested_by=requested_by)
        else:
            run = run_recent(trigger=trigger)
    except AlreadyRunning:
        return {"skipped": "another reconciliation is running"}
    return {"run": run.pk, "differences": run.differences, "closed": run.exceptions_closed}


# --- Retention: customer data kept only as long as needed ----------------------------------------


def apply_retention() -> dict[str, int]:
    """Daily: delete messages and pushes past their retention, mask customer data in older kept rows."""
    from integration.shared import retention

    result = retention.run()
    return {"deleted": result.deleted_total, "redacted": result.redacted_total}
