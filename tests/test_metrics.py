"""/metrics: refused without its token, and every figure the team alerts on is in the scrape."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from exceptions import catalogue
from exceptions import services as queue
from integration.models import Dispatch, InboundPush, Item, MessageLog, Order, SyncCursor

pytestmark = pytest.mark.django_db

TOKEN = "metrics-test-token-0123456789abcdef"


@pytest.fixture
def token(settings):
    settings.METRICS_TOKEN = TOKEN
    return TOKEN


def _scrape(client: Client) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.content.decode())
            for sample in family.samples}


def _value(samples: dict, name: str, **labels: str) -> float:
    wanted = {k: v for k, v in labels.items()}
    found = [value for (sample, have), value in samples.items()
             if sample == name and wanted.items() <= dict(have).items()]
    assert len(found) == 1, f"{name} {labels}: {len(found)} samples"
    return found[0]


def _order(ord_num: str, status: str, **fields) -> Order:
    return Order.objects.create(ord_num=ord_num, status=status, bc_status="RELEASED",
                                bc_updated_at=timezone.now(), location="WH1", ship_via="UPS", **fields)


def _call(system: str, operation: str, status_code: int | None, duration_ms: int, at=None) -> MessageLog:
    row = MessageLog.objects.create(system=system, operation=operation, method="POST", url="http://x/",
                                    status_code=status_code, duration_ms=duration_ms)
    if at is not None:
        MessageLog.objects.filter(pk=row.pk).update(created_at=at)
    return row


def test_a_scrape_without_the_token_is_refused_with_401(token):
    client = Client()
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer not-the-token")
    assert wrong.status_code == 401
    assert wrong["WWW-Authenticate"].startswith("Bearer")
    assert b"bridge_" not in wrong.content
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Token {TOKEN}").status_code == 401


def test_metrics_are_off_with_403_while_no_token_is_configured(settings):
    settings.METRICS_TOKEN = ""
    response = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer ")
    assert response.status_code == 403
    assert b"METRICS_TOKEN" in response.content


def test_a_signed_in_user_without_the_token_is_refused_too(token, django_user_model):
    client = Client()
    client.force_login(django_user_model.objects.create_superuser("root", password="pw"))
    assert client.get("/metrics").status_code == 401


def test_each_flow_shows_the_age_of_its_last_success_and_whether_it_is_stalled(token):
    now = timezone.now()
    SyncCursor.objects.create(name="orders.released", last_run_at=now, last_success_at=now - timedelta(seconds=90))
    # Stock snapshot: every 6 h by default; 2 days without a success is stalled.
    SyncCursor.objects.create(name="stock.snapshot", last_run_at=now, last_success_at=now - timedelta(days=2))
    samples = _scrape(Client())
    age = _value(samples, "bridge_flow_last_success_age_seconds", flow="orders.released")
    assert 89 <= age < 120
    assert _value(samples, "bridge_flow_stalled", flow="orders.released") == 0
    assert _value(samples, "bridge_flow_stalled", flow="stock.snapshot") == 1
    assert _value(samples, "bridge_flow_interval_seconds", flow="orders.released") > 0
    never = [key for key in samples if key[0] == "bridge_flow_last_success_age_seconds"
             and ("flow", "items.audit") in key[1]]
    assert not never, "a flow that never succeeded has no age"


def test_backlogs_per_flow(token):
    _order("SO-1", Order.Status.RECEIVED)
    _order("SO-2", Order.Status.SENDING)
    _order("SO-3", Order.Status.SENT, sent_at=timezone.now())  # pick ticket owed, awaiting dispatch
    _order("SO-4", Order.Status.SENT, sent_at=timezone.now(), pick_ticket_at=timezone.now(),
           cancel_requested_at=timezone.now())
    Item.objects.create(sku="SKU-1", bc_status=Item.BCStatus.LIVE, bc_updated_at=timezone.now(),
                        sync_status=Item.SyncStatus.PENDING)
    InboundPush.objects.create(body="{}", status=InboundPush.Status.PENDING)
    Dispatch.objects.create(dispatch_id="D-1", ord_num="SO-3", confirmation={}, status=Dispatch.Status.RECEIVED)
    samples = _scrape(Client())
    assert _value(samples, "bridge_flow_backlog", flow="orders.released") == 2
    assert _value(samples, "bridge_flow_backlog", flow="pick_tickets") == 1
    assert _value(samples, "bridge_flow_backlog", flow="orders.cancelled") == 1
    assert _value(samples, "bridge_flow_backlog", flow="items") == 1
    assert _value(samples, "bridge_flow_backlog", flow="dispatches.sync") == 2
    assert _value(samples, "bridge_flow_backlog", flow="seko.fulfilment") == 2


def test_open_exceptions_by_kind_and_owner(token):
    stalled = catalogue.get("sync.stalled")
    queue.raise_exception(stalled, catalogue.flow_key("orders.released"), "late")
    queue.raise_exception(stalled, catalogue.flow_key("stock.publish"), "late")
    closed = queue.raise_exception(stalled, catalogue.flow_key("items"), "late")
    type(closed).objects.filter(pk=closed.pk).update(status="resolved")
    samples = _scrape(Client())
    assert _value(samples, "bridge_open_exceptions", kind="sync.stalled", owner=stalled.owner.value) == 2


def test_pushes_received_by_outcome_and_refused_for_their_token(token, settings):
    InboundPush.objects.create(body="{}", status=InboundPush.Status.PROCESSED)
    InboundPush.objects.create(body="{}", status=InboundPush.Status.PROCESSED)
    InboundPush.objects.create(body="x", status=InboundPush.Status.REJECTED)
    old = InboundPush.objects.create(body="{}", status=InboundPush.Status.PROCESSED)
    InboundPush.objects.filter(pk=old.pk).update(received_at=timezone.now() - timedelta(hours=2))
    queue.raise_exception(catalogue.PUSH_UNAUTHORIZED, catalogue.system_key("seko-push"), "refused",
                          problems=[{"message": "refused", "refused_total": 7, "refused_now": 7}])
    samples = _scrape(Client())
    assert _value(samples, "bridge_pushes_received_window", status="processed") == 2, "the old push is outside"
    assert _value(samples, "bridge_pushes_received_window", status="rejected") == 1
    assert _value(samples, "bridge_pushes_refused_unauthorized") == 7


def test_orders_sent_and_dispatches_posted_in_the_window(token):
    now = timezone.now()
    _order("SO-1", Order.Status.SENT, sent_at=now - timedelta(minutes=5))
    _order("SO-2", Order.Status.DISPATCHED, sent_at=now - timedelta(minutes=1))
    _order("SO-3", Order.Status.SENT, sent_at=now - timedelta(hours=3))
    _call("bluecherry", "create_shipment", 201, 80)
    _call("bluecherry", "create_shipment", 500, 80)
    _call("bluecherry", "create_shipment", 201, 80, at=now - timedelta(hours=3))
    samples = _scrape(Client())
    assert _value(samples, "bridge_orders_sent_window") == 2
    assert _value(samples, "bridge_dispatches_posted_window") == 1
    assert _value(samples, "bridge_metrics_window_seconds") == 15 * 60


def test_seko_and_blue_cherry_latency_and_errors_by_operation(token):
    _call("seko", "submit_order", 200, 40)
    _call("seko", "submit_order", 200, 300)
    _call("seko", "submit_order", None, 20000)  # timed out
    _call("seko", "submit_order", 503, 90)
    _call("seko", "submit_order", 422, 60)
    _call("bluecherry", "pick_ticket", 200, 120)
    _call("seko", "submit_order", 500, 10, at=timezone.now() - timedelta(hours=1))  # outside the window
    samples = _scrape(Client())
    seko = {"system": "seko", "operation": "submit_order"}
    assert _value(samples, "bridge_remote_call_duration_seconds_bucket", le="0.05", **seko) == 1
    assert _value(samples, "bridge_remote_call_duration_seconds_bucket", le="0.5", **seko) == 4
    assert _value(samples, "bridge_remote_call_duration_seconds_bucket", le="+Inf", **seko) == 5
    assert _value(samples, "bridge_remote_call_duration_seconds_gcount", **seko) == 5
    assert _value(samples, "bridge_remote_call_duration_seconds_gsum", **seko) == pytest.approx(20.49)
    assert _value(samples, "bridge_remote_call_slowest_seconds", **seko) == 20.0
    assert _value(samples, "bridge_remote_calls_failed_window", reason="unreachable", **seko) == 1
    assert _value(samples, "bridge_remote_calls_failed_window", reason="server_error", **seko) == 1
    assert _value(samples, "bridge_remote_calls_failed_window", reason="refused", **seko) == 1
    assert _value(samples, "bridge_remote_calls_failed_window", reason="server_error",
                  system="bluecherry", operation="pick_ticket") == 0
    assert _value(samples, "bridge_remote_call_duration_seconds_gcount",
                  system="bluecherry", operation="pick_ticket") == 1


def test_workers_health_is_in_the_scrape(token):
    SyncCursor.objects.create(name="workers.heartbeat", last_run_at=timezone.now(), last_success_at=timezone.now())
    assert _value(_scrape(Client()), "bridge_workers_healthy") == 1


def test_a_scrape_costs_the_same_few_queries_whatever_the_volume(token):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            _scrape(Client())
        return len(captured.captured_queries)

    before = queries()
    for n in range(30):
        _order(f"SO-{n}", Order.Status.SENT, sent_at=timezone.now())
        _call("seko", f"operation_{n % 5}", 200, 50)
    assert queries() == before
    assert before <= 15
