"""The door for Seko's pushes: token, signature, timestamp window, size, content type, and the
raw body kept whenever the caller was authenticated."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook

from exceptions import catalogue
from exceptions.models import IntegrationException
from integration.models import InboundPush

pytestmark = pytest.mark.django_db

URL = "/webhooks/seko/"
TOKEN = "push-token-for-tests"
SECRET = "whsec_c2VjcmV0LWZvci10ZXN0cw=="  # base64 of "secret-for-tests"

DISPATCH = {"Responses": [{"Response": {"DispatchConfirmation": {
    "InterfaceRecordId": "884213", "SequenceNumber": 1, "MessageGroupId": "g-884213", "MessagePart": 1,
    "MessageTotal": 1, "SalesOrderNumber": "SO-1", "DispatchId": "DSP-1", "DispatchDate": "2026-11-27T16:40:00Z",
    "CourierName": "RoyalMail", "CourierService": "TPN24", "TrackingNumber": "JD1GB",
    "List": {"DispatchLineItem": [{"LineNumber": 1, "ProductCode": "A", "Quantity": 2}]}}}}]}


@pytest.fixture(autouse=True)
def push_settings(settings):
    settings.SEKO_PUSH_TOKEN = TOKEN
    settings.SEKO_PUSH_SECRET = SECRET
    return settings


def signature_headers(secret: str, body: str, msg_id: str, stamp: int) -> dict[str, str]:
    """Standard Webhooks, written out here independently of the webhook's own check."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{stamp}.{body}".encode(), hashlib.sha256).digest()
    return {"webhook-id": msg_id, "webhook-timestamp": str(stamp),
            "webhook-signature": f"v1,{base64.b64encode(digest).decode()}"}


def post(client, body: str | bytes, *, token: str = TOKEN, secret: str | None = SECRET, stamp: int | None = None,
         content_type: str = "application/json", headers: dict | None = None):
    text = body.decode() if isinstance(body, bytes) else body
    extra = {"Authorization": f"Bearer {token}"} if token else {}
    if secret:
        extra.update(signature_headers(secret, text, "msg_1", int(time.time()) if stamp is None else stamp))
    extra.update(headers or {})
    return client.post(URL, data=body, content_type=content_type, headers=extra)


def test_a_signed_push_with_the_token_is_stored_raw_and_answered_202(client):
    body = json.dumps(DISPATCH)
    response = post(client, body)
    assert response.status_code == 202, response.content
    push = InboundPush.objects.get()
    assert push.body == body and push.status == InboundPush.Status.PENDING and push.webhook_id == "msg_1"
    assert response.json() == {"accepted": True, "push": push.pk, "records": 1}


@pytest.mark.parametrize("token", ["", "wrong-token"])
def test_a_push_without_the_right_token_is_refused_401_and_not_stored(client, token):
    response = post(client, json.dumps(DISPATCH), token=token)
    assert response.status_code == 401 and "token" in response.json()["error"]
    assert not InboundPush.objects.exists()


def test_a_push_with_a_wrong_signature_is_refused_401_and_not_stored(client):
    response = post(client, json.dumps(DISPATCH), secret="whsec_b3RoZXItc2VjcmV0")
    assert response.status_code == 401 and "does not match" in response.json()["error"]
    assert not InboundPush.objects.exists()


def test_a_push_signed_over_a_different_body_is_refused(client):
    signed = signature_headers(SECRET, json.dumps(DISPATCH), "msg_1", int(time.time()))
    tampered = json.dumps(DISPATCH).replace("JD1GB", "JD2GB")
    response = post(client, tampered, secret=None, headers=signed)
    assert response.status_code == 401


def library_signed(secret: str | bytes, body: str, msg_id: str = "msg_lib") -> dict[str, str]:
    """Headers as any Standard Webhooks sender using the specification's reference library makes them."""
    sent_at = datetime.now(tz=UTC).replace(microsecond=0)
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(sent_at.timestamp())),
            "webhook-signature": Webhook(secret).sign(msg_id, sent_at, body)}


def test_a_push_signed_by_the_reference_library_is_accepted(client):
    body = json.dumps(DISPATCH)
    response = post(client, body, secret=None, headers=library_signed(SECRET, body))
    assert response.status_code == 202, response.content
    assert InboundPush.objects.get().webhook_id == "msg_lib"


def test_a_push_signed_by_the_reference_library_with_a_tampered_body_is_refused(client):
    signed = library_signed(SECRET, json.dumps(DISPATCH))
    response = post(client, json.dumps(DISPATCH).replace("JD1GB", "JD2GB"), secret=None, headers=signed)
    assert response.status_code == 401 and "does not match the body" in response.json()["error"]
    assert not InboundPush.objects.exists()


def test_a_secret_without_the_whsec_prefix_is_used_as_its_own_bytes(client, push_settings):
    push_settings.SEKO_PUSH_SECRET = "plain-shared-secret"
    body = json.dumps(DISPATCH)
    assert post(client, body, secret=None, headers=library_signed(b"plain-shared-secret", body)).status_code == 202


def test_a_wider_tolerance_setting_accepts_a_push_older_than_the_librarys_five_minutes(client, push_settings):
    push_settings.SEKO_PUSH_TOLERANCE_SECONDS = 900
    assert post(client, json.dumps(DISPATCH), stamp=int(time.time()) - 600).status_code == 202
    assert post(client, json.dumps(DISPATCH), stamp=int(time.time()) - 901).status_code == 401


def test_a_malformed_signature_beside_the_right_one_does_not_hide_it(client):
    body = json.dumps(DISPATCH)
    good = signature_headers(SECRET, body, "msg_1", int(time.time()))
    good["webhook-signature"] = "garbage v1,not=base64= " + good["webhook-signature"]
    assert post(client, body, secret=None, headers=good).status_code == 202


def test_a_whsec_secret_that_is_not_base64_refuses_with_words_naming_the_setting(client, push_settings):
    push_settings.SEKO_PUSH_SECRET = "whsec_a"  # one base64 character cannot be decoded
    headers = {"webhook-id": "m", "webhook-timestamp": str(int(time.time())), "webhook-signature": "v1,x"}
    response = post(client, json.dumps(DISPATCH), secret=None, headers=headers)
    assert response.status_code == 401 and "SEKO_PUSH_SECRET is not a usable signing secret" in response.json()["error"]


def test_a_body_that_is_not_utf8_is_refused_because_no_signature_can_cover_it(client):
    body = b'{"Responses": [\xff]}'
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    stamp = str(int(time.time()))
    digest = hmac.new(key, f"msg_1.{stamp}.".encode() + body, hashlib.sha256).digest()
    headers = {"webhook-id": "msg_1", "webhook-timestamp": stamp,
               "webhook-signature": f"v1,{base64.b64encode(digest).decode()}", "Authorization": f"Bearer {TOKEN}"}
    response = client.post(URL, data=body, content_type="application/json", headers=headers)
    assert response.status_code == 401 and "not UTF-8" in response.json()["error"]


def test_a_replayed_push_with_an_old_timestamp_is_refused_even_with_a_valid_signature(client):
    response = post(client, json.dumps(DISPATCH), stamp=int(time.time()) - 301)
    assert response.status_code == 401 and "outside the 300 s window" in response.json()["error"]
    assert not InboundPush.objects.exists()


def test_a_push_without_signature_headers_is_refused_when_a_secret_is_set(client):
    response = post(client, json.dumps(DISPATCH), secret=None)
    assert response.status_code == 401 and "missing webhook-id" in response.json()["error"]


def test_without_a_secret_configured_the_token_alone_is_enough(client, push_settings):
    push_settings.SEKO_PUSH_SECRET = ""
    assert post(client, json.dumps(DISPATCH), secret=None).status_code == 202


def test_an_oversized_body_is_refused_413(client, push_settings):
    push_settings.SEKO_PUSH_MAX_BYTES = 1000
    response = post(client, json.dumps(DISPATCH) + " " * 1000)
    assert response.status_code == 413 and "1000 byte limit" in response.json()["error"]
    assert not InboundPush.objects.exists()


@pytest.mark.parametrize(("body", "content_type", "status", "words"), [
    ('{"Responses": [', "application/json", 400, "not JSON"),
    (json.dumps({"Responses": [{"Response": {"InvoiceNotice": {"InterfaceRecordId": "1"}}}]}),
     "application/json", 400, "none of DispatchConfirmation, TrackingDetails, StockAdjustment"),
    (json.dumps({"Hello": "world"}), "application/json", 400, "no Responses"),
    (json.dumps(DISPATCH), "text/plain", 415, "Content-Type must be application/json"),
])
def test_an_authenticated_bad_push_gets_a_clear_error_and_its_raw_body_is_kept(client, body, content_type, status,
                                                                                words):
    response = post(client, body, content_type=content_type)
    assert response.status_code == status and words in response.json()["error"]
    push = InboundPush.objects.get()
    assert push.status == InboundPush.Status.REJECTED and push.body == body and words in push.error
    exc = IntegrationException.objects.get(kind=catalogue.PUSH_MALFORMED.code)
    assert exc.response_payload == body and words in exc.message


def test_the_webhook_only_takes_post(client):
    assert client.get(URL).status_code == 405


@pytest.mark.django_db(transaction=True)
def test_a_push_arriving_while_sqlite_is_locked_waits_for_the_lock_and_is_stored():
    """Issue 9: on SQLite the door retries a busy write lock itself, every fraction of a
    millisecond (SQLite's own back-off slept up to 100 ms), and puts the busy timeout back."""
    import sqlite3
    import threading

    from django.db import connection

    from integration.pushes import views as webhooks

    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL has no single write lock")
    blocker = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None, check_same_thread=False)
    blocker.execute("BEGIN IMMEDIATE")  # another writer holds the lock for a moment
    released = threading.Timer(0.3, lambda: blocker.execute("COMMIT"))
    released.start()
    started = time.monotonic()
    push = webhooks._store(body='{"Responses": []}', content_type="application/json", webhook_id="msg_locked")
    waited = time.monotonic() - started
    released.join()
    blocker.close()
    assert waited >= 0.25  # it did wait for the other writer, and did not fail
    assert InboundPush.objects.get(pk=push.pk).webhook_id == "msg_locked"
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout")
        assert cursor.fetchone()[0] == int(connection.settings_dict["OPTIONS"]["timeout"] * 1000)
