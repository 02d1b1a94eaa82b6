"""The headless demo's reconciliation (issue 7): once dispatches have settled, reconcile every
day the demo touched, reading both simulators; the report's "reconciliation" block."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC
from typing import Any

from django.db.models import Min
from django.utils import timezone

from integration.models import Order
from reconciliation.models import Difference, ReconciliationDay, ReconciliationRun
from reconciliation.run import days_between, run_reconciliation


def settle(say: Callable[[str], None]) -> ReconciliationRun:
    """Reconcile from the first day an order was sent to today (UTC)."""
    today = timezone.now().astimezone(UTC).date()
    first = Order.objects.aggregate(first=Min("sent_at"))["first"]
    date_from = first.astimezone(UTC).date() if first else today
    run = run_reconciliation(min(date_from, today), today, trigger="demo")
    say(f"reconciliation {run.date_from}..{run.date_to}: {run.differences} differences")
    return run


def report() -> dict[str, Any]:
    run = ReconciliationRun.objects.filter(trigger="demo", status=ReconciliationRun.Status.DONE).first()
    if run is None:
        return {}
    days = list(ReconciliationDay.objects.filter(day__in=days_between(run.date_from, run.date_to)))
    kinds = Counter(Difference.objects.filter(day__in=days).values_list("kind", flat=True))
    return {"days": len(days), "balanced_days": sum(1 for d in days if d.balanced), "differences": run.differences,
            "differences_by_kind": dict(sorted(kinds.items()))}
