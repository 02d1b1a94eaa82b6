"""Nobody is left unaware: the workers' health for the company's monitor, refused pushes raised
for the admins, a heartbeat whose steps fail independently, and an order's every exception found
by its number."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone
from django.utils.module_loading import import_string
from django_q.models import Schedule

from exceptions import catalogue
from exceptions import services as queue
from exceptions.filters import ExceptionFilter
from exceptions.models import IntegrationException
from integration import tasks
from integration.models import Dispatch, InboundPush, Order, SyncCursor
from integration.orders import flow as orders
from integration.pushes import views as webhooks
from integration.shared import worker_health
from tests.factories import BlueCherryOrderFactory, LineFactory
from tests.helpers import signed_in
from tests.test_order_flow import mapped_and_stocked

pytestmark = pytest.mark.django_db

WEBHOOK = "/webhooks/seko/"
TOKEN = "push-token-for-tests"


# --- The workers' health ---------------------------------------------------------------------


def test_healthz_workers_is_503_saying_so_when_no_worker_ever_beat():
    response = Client().get("/healthz/workers")  # no login: the company's monitor calls it
    assert response.status_code == 503
    body = response.json()
    assert body["ok"] is False and body["last_beat"] is None and body["age_seconds"] is None
    assert "No worker has ever run the heartbeat task" in body["message"]


def test_healthz_workers_is_200_once_a_worker_ran_the_heartbeat_task():
    tasks.workers_heartbeat()
    response = Client().get("/healthz/workers")
    assert response.status_code == 200
    assert response.json()["ok"] is True and response.json()["age_seconds"] < 5


def test_healthz_workers_is_503_saying_how_old_the_beat_is_past_the_configured_age(settings):
    settings.WORKERS_HEALTHY_WITHIN_SECONDS = 120
    worker_health.record_beat(timezone.now() - timedelta(minutes=10))
    response = Client().get("/healthz/workers")
    assert response.status_code == 503
    body = response.json()
    assert 595 <= body["age_seconds"] <= 610 and body["healthy_within_seconds"] == 120
    assert "last heartbeat 10 min ago, more than 2 min" in body["message"]
    settings.WORKERS_HEALTHY_WITHIN_SECONDS = 900  # the same beat, a more patient monitor
    assert Client().get("/healthz/workers").status_code == 200


def test_workers_stopped_on_purpose_are_503_at_once_until_the_next_beat():
    """The headless demo stops its workers at the end: its kept data must not look healthy."""
    tasks.workers_heartbeat()
    worker_health.record_stopped()
    response = Client().get("/healthz/workers")
    assert response.status_code == 503 and response.json()["message"].startswith("Workers stopped")
    tasks.workers_heartbeat()  # started again
    assert Client().get("/healthz/workers").status_code == 200


def test_the_workers_heartbeat_is_scheduled_every_minute():
    from integration.schedules import ensure_schedules

    ensure_schedules()
    schedule = Schedule.objects.get(func="integration.tasks.workers_heartbeat")
    assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == (Schedule.MINUTES, 1, -1)


def test_the_overview_says_the_workers_are_not_running_and_does_not_list_their_beat_as_a_flow(settings):
    settings.WORKERS_HEALTHY_WITHIN_SECONDS = 300
    worker_health.record_beat(timezone.now() - timedelta(hours=2))
    page = signed_in("ops").get("/").content.decode()
    assert 'id="workers-state" class="flash error"' in page
    assert "Workers not running: last heartbeat 2 h 0 min ago" in page
    assert worker_health.WORKERS_CURSOR not in page
    tasks.workers_heartbeat()
    page = signed_in("cx").get("/").content.decode()
    assert "Workers running: last heartbeat" in page


# --- Refused pushes ----------------------------------------------------------------------------


@pytest.fixture
def push_door(settings, monkeypatch):
    """The webhook's in-process refusal counters start afresh (as in a newly started process)."""
    settings.SEKO_PUSH_TOKEN = TOKEN
    settings.SEKO_PUSH_SECRET = ""
    for name, value in (("_refused_here", 0), ("_refused_since", None), ("_refusals_looked_at", float("-inf")),
                        ("_quiet_looked_at", float("-inf")), ("_last_kick_here", 0.0)):
        monkeypatch.setattr(webhooks, name, value)
    monkeypatch.setattr(webhooks, "async_task", lambda *args, **kwargs: None)  # no worker in these tests
    return settings


def push(token: str, body: str = '{"Responses": []}'):
    return Client().post(WEBHOOK, data=body, content_type="application/json",
                         headers={"Authorization": f"Bearer {token}"})


def open_refusal() -> IntegrationException:
    return IntegrationException.objects.get(kind=catalogue.PUSH_UNAUTHORIZED.code, status="open")


def test_a_push_with_a_wrong_token_is_a_401_and_leaves_one_open_push_unauthorized_for_the_admins(push_door):
    secret_body = '{"Responses": [{"TrackingNumber": "SECRET-TRACKING-1"}]}'
    for _ in range(5):
        assert push("wrong-token", secret_body).status_code == 401
    exc = open_refusal()
    assert exc.owner == "integration-admin" and exc.occurrences == 1  # at most one new occurrence a minute
    assert "missing or wrong bearer token" in exc.message
    stored = json.dumps([exc.message, exc.problems, exc.request_payload, exc.response_payload])
    assert "SECRET-TRACKING-1" not in stored and "wrong-token" not in stored  # nothing of what was sent
    assert not InboundPush.objects.exists()


def test_refusals_are_counted_and_a_minute_later_repeat_it_with_the_total(push_door):
    for _ in range(4):
        push("wrong-token")
    assert open_refusal().problems[0]["refused_total"] == 1  # the first one reported at once
    # A minute on, in this process and for the cross-process throttle.
    webhooks._refusals_looked_at = float("-inf")
    SyncCursor.objects.filter(name=webhooks.REFUSALS_CURSOR).update(
        last_run_at=timezone.now() - timedelta(seconds=61))
    push("wrong-token")
    exc = open_refusal()
    assert exc.occurrences == 2
    assert exc.problems[0]["refused_now"] == 4 and exc.problems[0]["refused_total"] == 5
    assert "refused 4 pushes" in exc.message


def test_a_push_with_a_bad_signature_raises_push_unauthorized_too(push_door):
    push_door.SEKO_PUSH_SECRET = "whsec_c2VjcmV0LWZvci10ZXN0cw=="
    assert push(TOKEN).status_code == 401  # the right token, no signature
    assert "signature refused" in open_refusal().message


def test_accepted_pushes_close_it_once_none_was_refused_for_ten_minutes(push_door):
    push("wrong-token")
    assert push(TOKEN).status_code == 202  # the token was put right, but a refusal is fresh: stays open
    assert open_refusal()
    IntegrationException.objects.filter(kind=catalogue.PUSH_UNAUTHORIZED.code).update(
        last_seen_at=timezone.now() - timedelta(minutes=11))
    webhooks._quiet_looked_at = float("-inf")  # a minute on in this process
    assert push(TOKEN).status_code == 202
    closed = IntegrationException.objects.get(kind=catalogue.PUSH_UNAUTHORIZED.code)
    assert closed.status == "resolved" and "none was refused for 10 minutes" in closed.resolution_note


# --- The heartbeat's steps fail independently ------------------------------------------------

SKUS = ["10023-NAVY-S", "10023-NAVY-M"]


@pytest.fixture
def world(bluecherry, seko, fast_retries):
    mapped_and_stocked(bluecherry, seko, SKUS)
    return bluecherry, seko


def send_now() -> None:
    Order.objects.filter(status=Order.Status.RECEIVED).update(next_attempt_at=None)
    while orders.send_due_orders():
        pass


def test_blue_cherry_failing_the_item_pull_stops_neither_sends_nor_pick_tickets_nor_cancels(world, monkeypatch):
    bluecherry, seko = world
    line = [LineFactory(line_no=1, sku="10023-NAVY-M")]
    bluecherry.control("POST", "_sim/orders", [BlueCherryOrderFactory(ord_num="SO-TICKET", lines=line),
                                               BlueCherryOrderFactory(ord_num="SO-CANCEL", lines=line)])
    orders.pull_released_orders()
    bluecherry.control("POST", "_sim/faults", {"error_rate": 1.0, "endpoints": ["pick-ticket"]})
    send_now()  # at Seko, their pick tickets still owed to Blue Cherry
    bluecherry.control("POST", "_sim/faults", {})
    bluecherry.control("POST", "_sim/orders/SO-CANCEL/cancel")
    orders.pull_cancelled_orders()  # the cancel is collected, not yet passed to Seko
    bluecherry.control("POST", "_sim/orders", [BlueCherryOrderFactory(ord_num="SO-WAITING", lines=line)])
    orders.pull_released_orders()  # collected, not yet sent
    Order.objects.filter(status=Order.Status.RECEIVED).update(next_attempt_at=None)
    assert Order.objects.get(ord_num="SO-TICKET").pick_ticket_at is None
    assert Order.objects.get(ord_num="SO-CANCEL").cancel_requested_at is not None

    bluecherry.control("POST", "_sim/faults", {"error_rate": 1.0, "endpoints": ["items"]})  # the item pull fails
    # The send tasks the heartbeat fans out run here, as a worker would run them.
    monkeypatch.setattr(tasks, "async_task", lambda func, *args, **kwargs: import_string(func)())
    with pytest.raises(tasks.HeartbeatStepsFailed, match="item pull"):
        tasks.sync_orders()

    at_seko = {o["SalesOrderNumber"]: o for o in seko.control("GET", "_sim/orders")["orders"]}
    assert Order.objects.get(ord_num="SO-WAITING").status == Order.Status.SENT and "SO-WAITING" in at_seko
    assert Order.objects.get(ord_num="SO-TICKET").pick_ticket_at is not None
    assert Order.objects.get(ord_num="SO-CANCEL").status == Order.Status.CANCELLED
    assert at_seko["SO-CANCEL"]["Status"] == "Cancelled"
    assert SyncCursor.objects.get(name="items").last_error  # the overview's flow row says why


# --- Finding everything about an order -------------------------------------------------------


def dispatch_of(ord_num: str, dispatch_id: str) -> Dispatch:
    return Dispatch.objects.create(dispatch_id=dispatch_id, ord_num=ord_num, confirmation={},
                                   order=Order.objects.filter(ord_num=ord_num).first())


def test_searching_by_order_number_finds_the_exceptions_of_its_dispatches_too():
    dispatch_of("SO-500", "DSP-1")
    dispatch_of("SO-500", "DSP-2")
    dispatch_of("SO-600", "DSP-3")
    about_order = queue.raise_exception(catalogue.ORDER_REJECTED_STOCK, catalogue.order_key("SO-500"), "no stock")
    incomplete = queue.raise_exception(catalogue.DISPATCH_INCOMPLETE, catalogue.dispatch_key("DSP-1"), "no tracking")
    held = queue.raise_exception(catalogue.HOLD_UNEXPLAINED, catalogue.dispatch_key("DSP-2"), "held")
    other = queue.raise_exception(catalogue.DISPATCH_INCOMPLETE, catalogue.dispatch_key("DSP-3"), "no date")

    found = set(ExceptionFilter({"q": "SO-500"}, queryset=IntegrationException.objects.all()).qs)
    assert found == {about_order, incomplete, held}
    assert other not in set(ExceptionFilter({"q": "so-5"}, queryset=IntegrationException.objects.all()).qs)
    assert incomplete in set(ExceptionFilter({"q": "so-5"}, queryset=IntegrationException.objects.all()).qs)

    page = signed_in("ops").get("/exceptions/", {"q": "SO-500"}).content.decode()
    assert f"/exceptions/{incomplete.pk}/" in page and f"/exceptions/{other.pk}/" not in page


def test_the_order_search_reaches_dispatches_through_their_order_number_index():
    qs = ExceptionFilter({"q": "SO-500"}, queryset=IntegrationException.objects.all()).qs
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {'QUERY PLAN ' if connection.vendor == 'sqlite' else ''}{sql}", params)
        plan = " ".join(str(row) for row in cursor.fetchall())
    assert "integration_dispatch" in plan or "U0" in plan
    if connection.vendor == "sqlite":
        assert "integration_dispatch_ord_num" in plan, plan  # never a scan of every dispatch
