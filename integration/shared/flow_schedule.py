"""When a scheduled flow counts as late: the one rule behind the overview's flow dots and the
``sync.stalled`` alert, so the two never disagree.

Each flow is judged against its own schedule (integration/schedules.py), not a common interval:
the stock snapshot runs every few hours and must not look late minutes after it succeeded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

# A flow is late once it has gone this many of its intervals without a success: one missed run
# can be the scheduler's own delay, two in a row means something is wrong.
INTERVALS_ALLOWED = 2


class FlowState(StrEnum):
    OK = "ok"  # succeeded within its allowance
    LATE = "late"  # no success within INTERVALS_ALLOWED of its intervals: sync.stalled is raised
    NEVER = "never"  # has not succeeded yet, and is not late yet (or has never run)


@dataclass(frozen=True)
class WatchedFlow:
    cursor: str  # the SyncCursor row whose last success says the flow is running
    label: str  # what people call it on the overview
    schedule: str  # the name of its schedule in integration/schedules.py


# In the order the overview lists them. The item pull runs inside "sync orders" (items first).
WATCHED_FLOWS = (
    WatchedFlow("items", "Item master", "sync orders"),
    WatchedFlow("items.audit", "Item master audit", "audit items"),
    WatchedFlow("orders.released", "Order injection", "sync orders"),
    WatchedFlow("orders.cancelled", "Cancels", "sync orders"),
    WatchedFlow("dispatches.sync", "Dispatch confirmation", "sync dispatches"),
    WatchedFlow("dispatches.poll", "Dispatch safety-net poll", "poll dispatches"),
    WatchedFlow("stock.publish", "Stock to Blue Cherry", "sync stock"),
    WatchedFlow("stock.snapshot", "Stock snapshot from Seko", "snapshot stock"),
    WatchedFlow("stock.audit", "Stock audit", "audit stock"),
    WatchedFlow("reconciliation", "Reconciliation", "reconcile"),
)

LABELS = {flow.cursor: flow.label for flow in WATCHED_FLOWS}


def schedule_minutes() -> dict[str, float]:
    """Minutes between runs of each schedule, by schedule name, as setup_schedules registers them."""
    from integration.schedules import schedule_specs  # django_q's models: only once apps are ready

    return {spec["name"]: float(spec["minutes"]) for spec in schedule_specs()}


def flow_intervals() -> dict[str, timedelta]:
    """Each watched flow's cursor name and the time between its scheduled runs."""
    minutes = schedule_minutes()
    return {flow.cursor: timedelta(minutes=minutes[flow.schedule]) for flow in WATCHED_FLOWS}


def allowance(interval: timedelta) -> timedelta:
    return INTERVALS_ALLOWED * interval


def judge(last_success: datetime | None, last_run: datetime | None, interval: timedelta,
          now: datetime) -> FlowState:
    """A flow's state. One that has never run is not judged (its schedule may not have reached it
    yet); one that has run but not yet succeeded is late only once its allowance has passed."""
    allowed = allowance(interval)
    if last_success is not None and now - last_success <= allowed:
        return FlowState.OK
    if last_success is None and (last_run is None or now - last_run <= allowed):
        return FlowState.NEVER
    return FlowState.LATE


def in_words(minutes: float) -> str:
    """An interval as people say it: "1 min", "5 min", "6 h", "1 day"."""
    if minutes < 60:
        return f"{minutes:g} min"
    if minutes < 1440:
        return f"{minutes / 60:g} h"
    days = minutes / 1440
    return f"{days:g} day" + ("" if days == 1 else "s")
