"""Issue 8, security: the production settings profile passes ``check --deploy`` and refuses to
start without a real key and hosts; every state-changing request from a signed-in browser
needs the CSRF token; the API needs authentication; the API keys never reach a log line or a
stored message. (Login on every URL and the role matrix: tests/test_access.py; the webhook's
token and signature: tests/test_seko_webhook.py; masking on screens: test_exception_actions.py.)
"""

from __future__ import annotations

import logging
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import Client

from integration.models import MessageLog
from integration.shared.url_walk import iter_routes
from tests.factories import BlueCherryOrderFactory
from tests.test_order_flow import release, run_flow, world  # noqa: F401  (world is a fixture)
from tests.test_production_settings import production_ready_env

ROOT = Path(__file__).resolve().parent.parent


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    # DJANGO_ALLOW_ASYNC_UNSAFE is the browser tests' (conftest), never production's.
    dropped = ("SECRET_KEY", "ALLOWED_HOSTS", "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE")
    clean = {k: v for k, v in os.environ.items() if k not in dropped}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings_production", **env})


def test_check_deploy_is_clean_under_the_production_profile():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", **production_ready_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("env, words", [
    ({"ALLOWED_HOSTS": "bridge.example.com"}, "SECRET_KEY must be set"),
    ({"ALLOWED_HOSTS": "bridge.example.com", "SECRET_KEY": "dev-only-insecure-key-set-SECRET_KEY-in-production"},
     "SECRET_KEY must be set"),
    ({"ALLOWED_HOSTS": "bridge.example.com", "SECRET_KEY": "short-key"}, "at least 50 characters"),
    ({"SECRET_KEY": "k" * 10 + secrets.token_urlsafe(64)}, "ALLOWED_HOSTS must name"),
    ({"SECRET_KEY": secrets.token_urlsafe(64), "ALLOWED_HOSTS": "*"}, "ALLOWED_HOSTS must name"),
])
def test_the_production_profile_refuses_to_start_without_a_real_key_and_hosts(env, words):
    result = _manage("check", **env)
    assert result.returncode != 0 and words in result.stderr


@pytest.mark.django_db
def test_every_post_from_a_signed_in_browser_without_the_csrf_token_is_refused_403():
    """CSRF is checked before any view runs, so every route, the JSON API's session use
    included, refuses a tokenless POST; only Seko's webhook (its own token and signature) is exempt."""
    admin = User.objects.create_superuser("root", "root@example.com", "pw")
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    accepted = []
    for route in iter_routes():
        if route.name in ("seko_webhook", "login") or route.path.startswith("/webhooks/"):
            continue
        response = client.post(route.path, {"action": "resolve", "note": "x"})
        if response.status_code != 403:
            accepted.append(f"{route.path} ({route.name}): {response.status_code}")
    assert not accepted, "took a POST without the CSRF token:\n" + "\n".join(accepted)


@pytest.mark.django_db
def test_the_json_api_refuses_every_unauthenticated_call():
    client = Client()
    open_calls = []
    for route in iter_routes():
        if not route.path.startswith("/api/") or route.path.startswith("/api/schema"):
            continue
        for method in ("get", "post"):
            status = getattr(client, method)(route.path).status_code
            if status not in (401, 403):
                open_calls.append(f"{method.upper()} {route.path}: {status}")
    assert not open_calls, "\n".join(open_calls)


@pytest.mark.django_db
def test_the_api_keys_never_reach_a_log_line_or_a_stored_message(world, settings, caplog):
    """The whole order flow over HTTP, with both simulators failing now and then so the error
    paths log too: neither key appears in any log record or any stored exchange."""
    bluecherry, seko = world
    seko.control("POST", "_sim/faults", {"error_rate": 0.3, "seed": 3})
    bluecherry.control("POST", "_sim/faults", {"error_rate": 0.3, "seed": 3})
    release(bluecherry, *[BlueCherryOrderFactory(ord_num=f"SO-SEC{n}") for n in range(5)])
    with caplog.at_level(logging.DEBUG):
        for _ in range(3):
            run_flow()
    keys = [settings.SEKO_API_KEY, settings.BLUECHERRY_API_KEY]
    assert all(keys)
    logged = "\n".join(record.getMessage() + (record.exc_text or "") for record in caplog.records)
    assert logged, "the flow should have logged something"
    stored = "\n".join(f"{m.url} {m.request_body} {m.response_body}" for m in MessageLog.objects.all())
    assert stored
    for key in keys:
        assert key not in logged and key not in stored
