"""The catch-up after an outage, over real HTTP to both simulators: what waits out a backoff for
a system that was down goes within one heartbeat of it answering again, nothing goes while it
still fails, and nothing is sent or posted twice."""

# The order-flow tests' `world` fixture is imported and then taken as a test argument by name.

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from django.utils.module_loading import import_string

from integration import tasks
from integration.clients.errors import NotFound, Transient, Unauthorized
from integration.models import Dispatch, Item, MessageLog, Order
from integration.orders import flow as orders
from integration.shared import recovery
from tests.factories import BlueCherryItemFactory, BlueCherryOrderFactory, LineFactory, valid_upc
from tests.test_dispatch_flow import dispatch_at_seko, push_outbox
from tests.test_order_flow import SKUS, release, world  # noqa: F401  (world is a fixture)

pytestmark = pytest.mark.django_db

Status = Order.Status
ERRORS_ONLY = {"error_rate": 1}  # the simulator answers 500 or 503 to every API call
NEW_SKUS = [f"20044-TEAL-{size}" for size in ("S", "M", "L")]


@pytest.fixture
def long_backoffs(settings):
    """Backoffs of minutes, as in production: only a release can make the work due within a test."""
    settings.RETRY_BASE_SECONDS = 120.0
    settings.RETRY_MAX_SECONDS = 1800.0
    settings.SEKO_PUSH_TOKEN = "flow-token"
    settings.SEKO_PUSH_SECRET = ""
    settings.DISPATCH_POLL_GRACE_SECONDS = 0
    settings.DISPATCH_TRACKING_WAIT_SECONDS = 0
    return settings


def run_now(func: str, *args: Any, **kwargs: Any) -> Any:
    """``async_task`` without a worker: the task runs here, at once."""
    kwargs.pop("task_name", None)
    return import_string(func)(*args, **kwargs)


@pytest.fixture
def heartbeat(monkeypatch) -> Callable[[], None]:
    """One scheduled heartbeat, with the tasks it enqueues (sends, a dispatch drain) run in it.
    A step failing because a system is down is expected here; the steps after it still ran."""
    monkeypatch.setattr(tasks, "async_task", run_now)
    monkeypatch.setattr(recovery, "async_task", run_now)

    def beat() -> None:
        with contextlib.suppress(tasks.HeartbeatStepsFailed):
            tasks.sync_orders()

    return beat


def down(simulator) -> None:
    simulator.control("POST", "_sim/faults", ERRORS_ONLY)


def back(simulator) -> None:
    simulator.control("POST", "_sim/faults", {})


def backoffs(model, **waiting: Any) -> dict[str, Any]:
    """Each waiting row's next attempt, by its name."""
    name = "sku" if model is Item else "ord_num" if model is Order else "dispatch_id"
    return dict(model.objects.filter(**waiting).values_list(name, "next_attempt_at"))


def assert_all_wait_minutes(due: dict[str, Any], count: int) -> None:
    assert len(due) == count
    soon = timezone.now() + timedelta(seconds=30)
    assert all(at is not None and at > soon for at in due.values()), due


def assert_nothing_twice(bluecherry, seko) -> None:
    assert seko.control("GET", "_sim/submit-attempts")["accepted_more_than_once"] == []
    assert bluecherry.control("GET", "_sim/state")["duplicate_posts_refused"] == 0


def test_everything_waiting_for_seko_goes_one_heartbeat_after_it_answers_again(world, long_backoffs, heartbeat):
    bluecherry, seko = world
    seko.control("POST", "_sim/stock", [{"ProductCode": sku, "DCCode": "DCCL01", "Quantity": 100}
                                        for sku in NEW_SKUS])
    down(seko)
    bluecherry.control("POST", "_sim/items", [BlueCherryItemFactory(sku=sku, upc=valid_upc(40 + n),
                                                                    status="PENDING_WMS")
                                              for n, sku in enumerate(NEW_SKUS)])
    release(bluecherry, *[BlueCherryOrderFactory(ord_num=f"SO-OUT-{n}", lines=[LineFactory(line_no=1, sku=SKUS[n % 3])])
                          for n in range(24)])
    # Two orders for a new SKU: held until it goes LIVE, then sent in the same heartbeat.
    release(bluecherry, *[BlueCherryOrderFactory(ord_num=f"SO-NEW-{n}", lines=[LineFactory(line_no=1,
                                                                                           sku=NEW_SKUS[0])])
                          for n in range(2)])
    heartbeat()
    heartbeat()
    assert_all_wait_minutes(backoffs(Order, status=Status.RECEIVED), 24)
    assert_all_wait_minutes(backoffs(Item, sync_status=Item.SyncStatus.PENDING), len(NEW_SKUS))
    assert set(Order.objects.filter(ord_num__startswith="SO-NEW").values_list("status", flat=True)) == {
        Status.QUARANTINED}
    assert recovery.mark_of(recovery.SEKO) is not None

    back(seko)
    heartbeat()

    assert set(Order.objects.values_list("status", flat=True)) == {Status.SENT}
    assert Order.objects.count() == 26 and not Order.objects.filter(pick_ticket_at__isnull=True).exists()
    assert set(Item.objects.filter(sku__in=NEW_SKUS).values_list("sync_status", flat=True)) == {Item.SyncStatus.LIVE}
    assert recovery.mark_of(recovery.SEKO) is None
    assert_nothing_twice(bluecherry, seko)


def test_while_seko_still_fails_the_probe_nothing_is_released(world, long_backoffs, heartbeat):
    bluecherry, seko = world
    down(seko)
    release(bluecherry, *[BlueCherryOrderFactory(ord_num=f"SO-DOWN-{n}") for n in range(5)])
    heartbeat()
    waiting = backoffs(Order, status=Status.RECEIVED)
    assert_all_wait_minutes(waiting, 5)
    attempts = dict(Order.objects.values_list("ord_num", "attempts"))
    probes = MessageLog.objects.filter(system="seko", operation="reference_dcs").count()

    heartbeat()

    assert MessageLog.objects.filter(system="seko", operation="reference_dcs").count() > probes  # it was asked
    assert backoffs(Order, status=Status.RECEIVED) == waiting  # and every backoff stayed as it was
    assert dict(Order.objects.values_list("ord_num", "attempts")) == attempts
    assert recovery.mark_of(recovery.SEKO) is not None
    assert seko.control("GET", "_sim/orders")["orders"] == []


def test_a_failure_noted_while_the_probe_was_out_keeps_the_backoffs(world, long_backoffs, heartbeat, monkeypatch):
    bluecherry, seko = world
    down(seko)
    release(bluecherry, BlueCherryOrderFactory(ord_num="SO-FLAP"))
    heartbeat()
    waiting = backoffs(Order, status=Status.RECEIVED)

    def answered_while_another_call_failed(system: str) -> None:
        recovery.note_outage(system, "503 from another worker's call")

    monkeypatch.setattr(recovery, "probe", answered_while_another_call_failed)
    assert recovery.catch_up(recovery.SEKO) == recovery.Released()
    assert backoffs(Order, status=Status.RECEIVED) == waiting
    assert recovery.mark_of(recovery.SEKO) is not None


def test_a_flow_call_seko_takes_releases_the_rest_at_once(world, long_backoffs, heartbeat,
                                                          django_capture_on_commit_callbacks):
    bluecherry, seko = world
    down(seko)
    release(bluecherry, *[BlueCherryOrderFactory(ord_num=f"SO-FIRST-{n}") for n in range(4)])
    heartbeat()
    back(seko)
    # One order's own backoff ran out first (or a person retried it): Seko takes it, and the
    # others waiting for Seko are due at once rather than at the end of their own pauses.
    Order.objects.filter(ord_num="SO-FIRST-0").update(next_attempt_at=None)
    with django_capture_on_commit_callbacks(execute=True):
        assert orders.send_due_orders(limit=1) == 1
    assert Order.objects.get(ord_num="SO-FIRST-0").status == Status.SENT
    assert backoffs(Order, status=Status.RECEIVED) == {f"SO-FIRST-{n}": None for n in range(1, 4)}
    assert recovery.mark_of(recovery.SEKO) is None


def test_dispatches_waiting_for_blue_cherry_are_posted_one_heartbeat_after_it_answers_again(
        world, long_backoffs, heartbeat, client):
    bluecherry, seko = world
    release(bluecherry, *[BlueCherryOrderFactory(ord_num=f"SO-BC-{n}") for n in range(4)])
    heartbeat()
    assert set(Order.objects.values_list("status", flat=True)) == {Status.SENT}
    down(bluecherry)
    push_outbox(client, dispatch_at_seko(seko))
    tasks.sync_dispatches()
    assert_all_wait_minutes(backoffs(Dispatch, status=Dispatch.Status.RECEIVED), 4)
    heartbeat()  # still down: the probe fails, the dispatches keep waiting
    assert_all_wait_minutes(backoffs(Dispatch, status=Dispatch.Status.RECEIVED), 4)

    back(bluecherry)
    heartbeat()

    assert set(Dispatch.objects.values_list("status", flat=True)) == {Dispatch.Status.POSTED}
    assert set(Order.objects.values_list("status", flat=True)) == {Status.DISPATCHED}
    for n in range(4):
        assert len(bluecherry.control("GET", f"_sim/orders/SO-BC-{n}")["shipments"]) == 1
    assert recovery.mark_of(recovery.BLUECHERRY) is None
    assert_nothing_twice(bluecherry, seko)


def test_pick_tickets_owed_to_blue_cherry_go_the_first_heartbeat_it_answers(world, long_backoffs, heartbeat):
    bluecherry, seko = world
    release(bluecherry, *[BlueCherryOrderFactory(ord_num=f"SO-PT-{n}") for n in range(3)])
    orders.pull_released_orders()
    down(bluecherry)
    heartbeat()  # Seko takes them; Blue Cherry cannot be told
    assert Order.objects.filter(status=Status.SENT, pick_ticket_at__isnull=True).count() == 3
    back(bluecherry)
    heartbeat()
    assert not Order.objects.filter(pick_ticket_at__isnull=True).exists()
    assert {bluecherry.control("GET", f"sales-orders/SO-PT-{n}")["status"] for n in range(3)} == {"PICKING"}
    assert_nothing_twice(bluecherry, seko)


@pytest.mark.parametrize(("error", "reached"), [
    (None, True),
    (NotFound("no such item"), True),  # a refusal is an answer: the system is up
    (Transient("503"), False),
    (Unauthorized("401"), False),
])
def test_only_an_answer_counts_as_the_system_being_back(error, reached):
    assert recovery.reached(error) is reached


def test_the_outage_marks_are_not_shown_as_flows():
    from integration.overview import figures

    recovery.note_outage(recovery.SEKO, "503")
    rows, _ = figures.flow_health()
    assert not {row.name for row in rows} & recovery.OUTAGE_CURSORS
