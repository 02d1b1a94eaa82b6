"""Alerts per owner group through Apprise, delivered to a local HTTP receiver (Apprise's json://
service POSTs each alert there): once per threshold crossing, once per new stalled or overdue
exception, retried when it did not arrive, and the destination's URL never shown or logged."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone

from exceptions import alerting, catalogue
from exceptions import services as queue
from exceptions.alerting import ThresholdMove, threshold_move
from exceptions.models import AlertDestination, IntegrationException
from integration import tasks

SECRET = "hook-S3CRETTOKEN42"


class Receiver:
    """A local service that records each alert it is sent and answers ``status``."""

    def __init__(self) -> None:
        self.alerts: list[dict] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if receiver.status == 200:
                    receiver.alerts.append(json.loads(body))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"json://127.0.0.1:{self.server.server_address[1]}/{SECRET}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def titles(self) -> list[str]:
        return [alert["title"] for alert in self.alerts]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.server.shutdown()


def ops_destination(receiver: Receiver, threshold: int = 3) -> AlertDestination:
    return AlertDestination.objects.create(name="Ops on Slack", owner=catalogue.Owner.OPS, url=receiver.url,
                                           threshold=threshold, window_minutes=60)


def raise_ops(count: int, start: int = 0) -> None:
    for n in range(start, start + count):
        queue.raise_exception(catalogue.ORDER_ADDRESS_INCOMPLETE, catalogue.order_key(f"SO-A{n}"),
                              "Ship-to address is missing its postcode")


@pytest.mark.parametrize(("count", "alerted", "move"), [
    (2, False, ThresholdMove.NONE), (3, False, ThresholdMove.ALERT), (9, True, ThresholdMove.NONE),
    (2, True, ThresholdMove.REARM), (0, False, ThresholdMove.NONE),
])
def test_the_threshold_rule(count, alerted, move):
    assert threshold_move(count, 3, alerted) == move


@pytest.mark.django_db
def test_a_rise_to_the_threshold_is_one_alert_until_it_falls_below_and_rises_again(receiver):
    ops_destination(receiver)
    raise_ops(2)
    assert alerting.send_alerts() == 0 and receiver.alerts == []
    raise_ops(3, start=2)
    assert alerting.send_alerts() == 1
    raise_ops(4, start=5)
    assert alerting.send_alerts() == 0 and alerting.send_alerts() == 0  # still above: no repeat
    assert receiver.titles() == ["5 new ops exceptions in the last 60 minutes"]
    assert "order.address_incomplete: 5" in receiver.alerts[0]["message"]

    # The window moves on: below the threshold re-arms, the next rise alerts again.
    IntegrationException.objects.update(first_seen_at=timezone.now() - timedelta(hours=2))
    assert alerting.send_alerts() == 0
    assert AlertDestination.objects.get().above_threshold_since is None
    raise_ops(3, start=20)
    assert alerting.send_alerts() == 1
    assert len(receiver.alerts) == 2


@pytest.mark.django_db
def test_another_groups_exceptions_do_not_count(receiver):
    ops_destination(receiver, threshold=1)
    queue.raise_exception(catalogue.ORDER_SKU_NOT_LIVE, catalogue.order_key("SO-D1"), "SKU not live")  # data's
    assert alerting.send_alerts() == 0 and receiver.alerts == []


@pytest.mark.django_db
def test_each_new_stalled_flow_is_told_once_to_its_group(receiver):
    AlertDestination.objects.create(name="Admins on Teams", owner=catalogue.Owner.ADMIN, url=receiver.url,
                                    threshold=1000)
    queue.raise_exception(catalogue.SYNC_STALLED, catalogue.flow_key("orders.pull"), "Flow 'orders' stalled")
    assert tasks.monitor()["alerts"] == 1
    assert alerting.send_alerts() == 0  # told already
    queue.raise_exception(catalogue.SYNC_STALLED, catalogue.flow_key("stock.sync"), "Flow 'stock' stalled")
    queue.raise_exception(catalogue.SYNC_STALLED, catalogue.flow_key("items.sync"), "Flow 'items' stalled")
    assert alerting.send_alerts() == 1
    assert receiver.titles()[0] == "sync.stalled: flow:orders.pull"
    assert receiver.titles()[1] == "2 new sync.stalled exceptions for integration-admin"
    assert "flow:stock.sync" in receiver.alerts[1]["message"] and "flow:items.sync" in receiver.alerts[1]["message"]


@pytest.mark.django_db
def test_an_alert_that_did_not_arrive_is_tried_again_and_names_no_secret(receiver, caplog):
    destination = ops_destination(receiver, threshold=1)
    receiver.status = 500
    raise_ops(1)
    with caplog.at_level(logging.DEBUG):
        assert alerting.send_alerts() == 0
    destination.refresh_from_db()
    assert destination.last_error and destination.above_threshold_since is None
    assert SECRET not in destination.last_error and "S3CRET" not in caplog.text
    receiver.status = 200
    assert alerting.send_alerts() == 1 and alerting.send_alerts() == 0
    destination.refresh_from_db()
    assert destination.last_error == "" and destination.last_sent_at is not None


@pytest.mark.django_db
def test_two_monitors_with_the_same_view_of_a_crossing_send_one_alert(receiver):
    destination = ops_destination(receiver, threshold=1)
    raise_ops(1)
    stale = AlertDestination.objects.get(pk=destination.pk)  # read by a second worker before the first wrote
    assert alerting.send_alerts() == 1
    now = timezone.now()
    assert alerting._threshold_alert(stale, now, alerting.AlertSender()) == 0
    assert len(receiver.alerts) == 1


@pytest.fixture
def admin_client(client):
    user = User.objects.create_user("ada", password="pw-ada-long-enough")
    user.groups.add(Group.objects.get_or_create(name="integration-admin")[0])
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_integration_admins_set_destinations_in_the_admin_and_never_see_the_url_again(admin_client, receiver):
    page = admin_client.post("/admin/exceptions/alertdestination/add/", {
        "name": "Ops on Slack", "owner": "ops", "url": "not a url", "threshold": 5, "window_minutes": 60,
        "active": "on"})
    assert "Apprise does not recognise this URL" in page.content.decode()
    assert not AlertDestination.objects.exists()

    admin_client.post("/admin/exceptions/alertdestination/add/", {
        "name": "Ops on Slack", "owner": "ops", "url": receiver.url, "threshold": 5, "window_minutes": 60,
        "active": "on"})
    destination = AlertDestination.objects.get()
    assert destination.url == receiver.url
    for url in ("/admin/exceptions/alertdestination/", f"/admin/exceptions/alertdestination/{destination.pk}/change/"):
        page = admin_client.get(url).content.decode()
        assert SECRET not in page and "S3CRET" not in page, url
    assert "json://…" in admin_client.get("/admin/exceptions/alertdestination/").content.decode()

    # Saved again without a URL: the saved one stays.
    admin_client.post(f"/admin/exceptions/alertdestination/{destination.pk}/change/", {
        "name": "Ops channel", "owner": "ops", "url": "", "threshold": 7, "window_minutes": 30, "active": "on"})
    destination.refresh_from_db()
    assert (destination.name, destination.threshold, destination.url) == ("Ops channel", 7, receiver.url)

    page = admin_client.post("/admin/exceptions/alertdestination/", {
        "action": "send_test_alert", "_selected_action": [destination.pk]}, follow=True).content.decode()
    assert "the test alert was sent" in page and SECRET not in page
    assert receiver.titles() == ["Test alert for ops"]
