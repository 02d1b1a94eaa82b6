"""``manage.py reconcile [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--json]``: the reconciliation on
demand for any date range (default: the scheduled range, the last RECON_LOOKBACK_DAYS days)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reconciliation.models import ReconciliationDay
from reconciliation.run import AlreadyRunning, days_between, run_recent, run_reconciliation


class Command(BaseCommand):
    help = "Reconcile Seko's dispatches with Blue Cherry's shipments and invoices for a range of days."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="date_from", type=date.fromisoformat, help="first day (UTC)")
        parser.add_argument("--to", dest="date_to", type=date.fromisoformat, help="last day (default: --from)")
        parser.add_argument("--json", action="store_true", help="one JSON object on stdout")

    def handle(self, *args: Any, date_from: date | None, date_to: date | None, **options: Any) -> None:
        try:
            if date_from is None:
                run = run_recent(trigger="command")
            else:
                run = run_reconciliation(date_from, date_to or date_from, trigger="command")
        except AlreadyRunning as error:
            raise CommandError(str(error)) from None
        days = ReconciliationDay.objects.filter(day__in=days_between(run.date_from, run.date_to)).order_by("day")
        summary = {
            "from": run.date_from.isoformat(), "to": run.date_to.isoformat(), "days": days.count(),
            "balanced_days": sum(1 for d in days if d.balanced), "differences": run.differences,
            "exceptions_closed": run.exceptions_closed,
            "per_day": {d.day.isoformat(): d.differences for d in days},
        }
        if options["json"]:
            self.stdout.write(json.dumps(summary))
            return
        for day in days:
            self.stdout.write(f"{day.day}  {'balanced' if day.balanced else f'{day.differences} differences'}  "
                              f"sent {day.sent_orders} dispatched {day.dispatched_orders} shipped {day.shipped_orders} "
                              f"invoiced {day.invoiced_orders} ({day.invoiced_value})")
        self.stdout.write(f"{summary['differences']} differences; {summary['exceptions_closed']} discrepancies closed")
