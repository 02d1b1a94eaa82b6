"""Guessing passwords does not pay: failed logins on the login page are counted per user and
address and locked out after AXES_FAILURE_LIMIT (django-axes), until the cool-off ends or an
integration admin unlocks it in the admin; the JSON API takes no password at all (no Basic
authentication: session or token) and is rate-limited per client.
"""

from __future__ import annotations

import base64

import pytest
from django.contrib.auth.models import Group, User
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.throttling import SimpleRateThrottle

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
PASSWORD = "right-password-1"


@pytest.fixture
def ops_user() -> User:
    user = User.objects.create_user("ops-lock", password=PASSWORD)
    user.groups.add(Group.objects.get_or_create(name="ops")[0])
    return user


def sign_in(client: Client, username: str, password: str, **extra: str):
    return client.post(LOGIN, {"username": username, "password": password}, **extra)


def fail_until_locked(client: Client, username: str, limit: int, **extra: str) -> list[int]:
    return [sign_in(client, username, f"wrong-{n}", **extra).status_code for n in range(limit)]


def test_the_login_page_locks_a_user_out_at_an_address_after_the_failure_limit(ops_user, settings):
    settings.AXES_FAILURE_LIMIT = 3
    client = Client()
    statuses = fail_until_locked(client, "ops-lock", 3)
    assert statuses[:2] == [200, 200], "the first wrong passwords just show the form again"
    assert statuses[2] == 429
    # Locked: even the right password is refused now, with a page that says why and what to do.
    locked = sign_in(client, "ops-lock", PASSWORD)
    assert locked.status_code == 429
    page = locked.content.decode()
    assert "Sign-in locked" in page and "ops-lock" in page and "Try again after" in page
    assert "_auth_user_id" not in client.session


def test_the_lock_holds_one_user_at_one_address_only(ops_user, settings):
    settings.AXES_FAILURE_LIMIT = 3
    fail_until_locked(Client(), "ops-lock", 3, REMOTE_ADDR="203.0.113.9")
    # The same user from the office's address, and another user from the guesser's, still get in.
    assert sign_in(Client(), "ops-lock", PASSWORD, REMOTE_ADDR="198.51.100.4").status_code == 302
    User.objects.create_user("cx-lock", password=PASSWORD)
    assert sign_in(Client(), "cx-lock", PASSWORD, REMOTE_ADDR="203.0.113.9").status_code == 302


def test_behind_the_proxy_the_address_is_the_one_the_proxy_appended(ops_user, settings):
    settings.AXES_FAILURE_LIMIT = 3
    settings.CLIENT_IP_HEADER_NAME = "HTTP_X_FORWARDED_FOR"
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    # A guesser varying the forged part of the header is still one address to the lock.
    for n in range(3):
        sign_in(Client(), "ops-lock", "wrong", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, 203.0.113.9", **proxy)
    assert sign_in(Client(), "ops-lock", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.9", **proxy).status_code == 429
    # Someone else behind the same proxy is not locked with it.
    assert sign_in(Client(), "ops-lock", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.4", **proxy).status_code == 302


def test_a_successful_login_clears_the_count_so_typos_never_add_up_to_a_lock(ops_user, settings):
    settings.AXES_FAILURE_LIMIT = 3
    client = Client()
    for _ in range(3):
        fail_until_locked(client, "ops-lock", 2)
        assert sign_in(client, "ops-lock", PASSWORD).status_code == 302
        client.logout()


def test_axes_reset_unlocks_the_user(ops_user, settings):
    settings.AXES_FAILURE_LIMIT = 3
    client = Client()
    fail_until_locked(client, "ops-lock", 3)
    assert sign_in(client, "ops-lock", PASSWORD).status_code == 429
    call_command("axes_reset_username", "ops-lock")
    assert sign_in(client, "ops-lock", PASSWORD).status_code == 302


def test_an_integration_admin_sees_the_lockout_in_the_admin_and_unlocks_it_there(ops_user, settings):
    settings.AXES_FAILURE_LIMIT = 3
    fail_until_locked(Client(), "ops-lock", 3)
    admin_user = User.objects.create_user("admin-lock", password="x")
    admin_user.groups.add(Group.objects.get_or_create(name="integration-admin")[0])
    admin = Client()
    admin.force_login(admin_user)
    listing = admin.get("/admin/axes/accessattempt/?locked_out=yes")
    assert listing.status_code == 200 and "ops-lock" in listing.content.decode()
    from axes.models import AccessAttempt

    attempt = AccessAttempt.objects.get(username="ops-lock")
    confirm = admin.post("/admin/axes/accessattempt/", {"action": "delete_selected", "_selected_action": [attempt.pk],
                                                        "post": "yes"})
    assert confirm.status_code == 302 and not AccessAttempt.objects.exists()
    assert sign_in(Client(), "ops-lock", PASSWORD).status_code == 302


def test_the_api_refuses_a_username_and_password_and_takes_a_token(ops_user):
    basic = base64.b64encode(f"ops-lock:{PASSWORD}".encode()).decode()
    assert Client().get("/api/orders/", HTTP_AUTHORIZATION=f"Basic {basic}").status_code in (401, 403)
    token = Token.objects.create(user=ops_user).key
    assert Client().get("/api/orders/", HTTP_AUTHORIZATION=f"Token {token}").status_code == 200


def test_the_api_answers_429_once_a_client_is_over_its_rate(ops_user, monkeypatch):
    # DRF reads the rates once at import; the throttles read them from this class attribute.
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"user": "3/minute", "anon": "2/minute"})
    cache.clear()
    try:
        token = Token.objects.create(user=ops_user).key
        statuses = [Client().get("/api/orders/", HTTP_AUTHORIZATION=f"Token {token}").status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        over = Client().get("/api/orders/", HTTP_AUTHORIZATION=f"Token {token}")
        assert int(over["Retry-After"]) > 0
    finally:
        cache.clear()
