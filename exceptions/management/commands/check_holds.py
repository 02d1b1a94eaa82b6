"""``manage.py check_holds``: is any order, dispatch or item held with no open exception saying why?

Reads only (unlike the monitor, which raises ``hold.unexplained``), so it can be run against any
database, e.g. a headless demo's kept data: ``DATA_DIR=<dir> manage.py check_holds``. Prints JSON
(held and unexplained counts per type, the first unexplained keys) and exits 1 when any is found.
"""

from __future__ import annotations

import json
import sys

from django.core.management.base import BaseCommand

from exceptions import holds
from exceptions.unexplained_holds import held_without_open_exception
from integration.models import Dispatch, Item, Order

CHECKS = {
    # type: (model, status field, held statuses, trace key prefix, key field)
    "orders": (Order, "status", holds.HELD_ORDER_STATUSES, "order:", "ord_num"),
    "dispatches": (Dispatch, "status", holds.HELD_DISPATCH_STATUSES, "dispatch:", "dispatch_id"),
    "items": (Item, "sync_status", holds.HELD_ITEM_STATUSES, "sku:", "sku"),
}


class Command(BaseCommand):
    help = "Report held orders, dispatches and items with no open exception (exit 1 if any)."

    def handle(self, *args, **options) -> None:
        report: dict[str, dict] = {}
        for name, (model, field, statuses, prefix, key) in CHECKS.items():
            unexplained = held_without_open_exception(model, field, statuses, prefix, key)
            report[name] = {
                "held": model.objects.filter(**{f"{field}__in": statuses}).count(),
                "without_open_exception": len(unexplained),
                "examples": [getattr(obj, key) for obj in unexplained[:10]],
            }
        self.stdout.write(json.dumps(report, indent=2))
        if any(part["without_open_exception"] for part in report.values()):
            sys.exit(1)
