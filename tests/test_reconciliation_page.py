"""Finance's Reconciliation screens: days with a status, a day's lines, the month-end summary,
CSV of a day and of a month, and who may open them."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone

from exceptions import catalogue
from exceptions import services as queue
from integration.models import Order
from reconciliation import rules
from reconciliation.models import Difference, ReconciliationDay

pytestmark = pytest.mark.django_db


def member(client, group: str) -> User:
    user = User.objects.create_user(f"{group}-user")
    user.groups.add(Group.objects.get_or_create(name=group)[0])
    client.force_login(user)
    return user


def day(when: date, differences: int = 0, **totals) -> ReconciliationDay:
    return ReconciliationDay.objects.create(day=when, reconciled_at=timezone.now(), differences=differences,
                                            dispatched_orders=2, invoiced_orders=2, dispatched_value=Decimal("90.00"),
                                            invoiced_value=Decimal("189.00"), **totals)


@pytest.fixture
def november():
    order = Order.objects.create(ord_num="SO-P1", status=Order.Status.DISPATCHED, bc_status="INVOICED",
                                 bc_updated_at=timezone.now(), location="UK3PL", ship_via="RMNDAY")
    exception = queue.raise_exception(catalogue.RECON_DISCREPANCY, "order:SO-P1", "Reconciliation: twice",
                                      order=order)
    balanced = day(date(2026, 11, 26))
    unbalanced = day(date(2026, 11, 27), differences=1)
    Difference.objects.create(day=unbalanced, kind=rules.INVOICED_TWICE, ord_num="SO-P1", order=order,
                              exception=exception, invoice_num="IN-100002", bc_value=Decimal("189.00"),
                              message="SO-P1 is invoiced 2 times, credit the duplicate.")
    day(date(2026, 12, 1))  # another month: not in November's figures
    return balanced, unbalanced, exception


def rows(response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_finance_sees_each_day_balanced_or_not_and_drills_down_to_the_line(client, november):
    member(client, "finance")
    page = client.get("/reconciliation/").content.decode()
    assert "2026-11-26" in page and "balanced" in page and "1 difference" in page
    detail = client.get("/reconciliation/2026-11-27/").content.decode()
    assert "Invoiced more than once" in detail and "IN-100002" in detail
    assert "/orders/SO-P1/" in detail and f"/exceptions/{november[2].pk}/" in detail


def test_the_csv_of_a_day_lists_its_differences_with_the_exception_and_its_status(client, november):
    member(client, "finance")
    response = client.get("/reconciliation/2026-11-27/export.csv")
    assert response["Content-Type"] == "text/csv"
    [line] = rows(response)
    assert (line["day"], line["kind"], line["ord_num"], line["invoice_num"]) == (
        "2026-11-27", rules.INVOICED_TWICE, "SO-P1", "IN-100002")
    assert line["bc_value"] == "189.00" and line["exception_id"] == str(november[2].pk)
    assert line["exception_status"] == "open"
    assert rows(client.get("/reconciliation/2026-11-26/export.csv")) == []


def test_the_csv_of_a_month_has_only_that_months_days_and_totals_per_day(client, november):
    member(client, "finance")
    assert [r["ord_num"] for r in rows(client.get("/reconciliation/month/2026-11/export.csv"))] == ["SO-P1"]
    totals = rows(client.get("/reconciliation/month/2026-11/export.csv?totals=1"))
    assert [(r["day"], r["status"]) for r in totals] == [("2026-11-26", "balanced"), ("2026-11-27", "differences")]
    assert totals[0]["invoiced_value"] == "189.00"


def test_the_month_end_summary_sums_the_days_and_counts_what_is_still_open(client, november):
    member(client, "finance")
    page = client.get("/reconciliation/month/2026-11/").content.decode()
    assert "2 days reconciled" in page and "1 balanced" in page and "28 not reconciled" in page
    assert "Invoiced more than once" in page and "1 order still with an open discrepancy" in page
    assert "378.00" in page  # two days of 189.00 invoiced; December's day is not counted


def test_ops_may_not_open_the_reconciliation_and_do_not_see_it_in_the_nav(client, november):
    member(client, "ops")
    assert client.get("/reconciliation/").status_code == 403
    assert client.get("/reconciliation/month/2026-11/export.csv").status_code == 403
    assert "/reconciliation/" not in client.get("/").content.decode()
    client.logout()
    member(client, "integration-admin")
    assert client.get("/reconciliation/").status_code == 200
