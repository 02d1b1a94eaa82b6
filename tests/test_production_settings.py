"""The production settings profile refuses to start with any development value: the simulators'
addresses and API keys, the public push token, a short push token, unsigned pushes where Seko can
sign. Each refusal names the setting and says what to set instead. (SECRET_KEY, ALLOWED_HOSTS
and `check --deploy`: tests/test_security.py.)
"""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Variables a developer's shell (or the browser tests) may have set that production must not inherit.
DROPPED = ("SECRET_KEY", "ALLOWED_HOSTS", "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE", "BLUECHERRY_BASE_URL", "SEKO_BASE_URL",
           "BLUECHERRY_API_KEY", "SEKO_API_KEY", "SEKO_PUSH_TOKEN", "SEKO_PUSH_SECRET", "SEKO_PUSH_SIGNED",
           "BLUECHERRY_USER_PAGE_URL")


def production_ready_env() -> dict[str, str]:
    """Every variable production requires, each a real-looking value (freshly random where it is a secret)."""
    return {
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "bridge.example.com",
        "BLUECHERRY_BASE_URL": "https://brand.bluecherry.example/api/v1/",
        "SEKO_BASE_URL": "https://ihub.supplystream.example:8081/api/",
        "BLUECHERRY_API_KEY": secrets.token_hex(16),
        "SEKO_API_KEY": secrets.token_hex(16),
        "SEKO_PUSH_TOKEN": secrets.token_urlsafe(32),
        "SEKO_PUSH_SECRET": "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode(),
    }


def start_production(command: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    inherited = {k: v for k, v in os.environ.items() if k not in DROPPED}
    profile = {"DJANGO_SETTINGS_MODULE": "config.settings_production"}
    return subprocess.run([sys.executable, *command], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**inherited, **production_ready_env(), **profile, **env})


def load_settings(**env: str) -> subprocess.CompletedProcess[str]:
    """Import the profile in a fresh interpreter: what every process of production does first."""
    return start_production(["-c", "import config.settings_production"], **env)


def test_production_settings_start_with_real_values_and_no_development_one():
    result = load_settings()
    assert result.returncode == 0, result.stderr


def test_manage_py_refuses_to_start_with_the_development_defaults_and_names_each_of_them():
    dev_defaults = {name: "" for name in ("BLUECHERRY_BASE_URL", "SEKO_BASE_URL", "BLUECHERRY_API_KEY", "SEKO_API_KEY",
                                          "SEKO_PUSH_TOKEN", "SEKO_PUSH_SECRET")}
    result = start_production(["manage.py", "check"], **dev_defaults)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    for name in dev_defaults:
        assert f"- {name} " in result.stderr, f"{name} not named in:\n{result.stderr}"


@pytest.mark.parametrize("env, words", [
    ({"SEKO_PUSH_TOKEN": "seko-push-dev-token"}, "SEKO_PUSH_TOKEN is the public development token"),
    ({"SEKO_PUSH_TOKEN": secrets.token_urlsafe(16)}, "SEKO_PUSH_TOKEN is 22 characters"),
    ({"SEKO_PUSH_TOKEN": "a" * 40}, "at least 32 random characters"),
    ({"BLUECHERRY_API_KEY": "bc-dev-key"}, "BLUECHERRY_API_KEY is the simulator's development key"),
    ({"SEKO_API_KEY": "seko-dev-key"}, "SEKO_API_KEY is the simulator's development key"),
    ({"SEKO_API_KEY": "bc-dev-key"}, "SEKO_API_KEY is the simulator's development key"),
    ({"BLUECHERRY_BASE_URL": "http://127.0.0.1:8101/api/v1/"}, "BLUECHERRY_BASE_URL points at 127.0.0.1"),
    ({"SEKO_BASE_URL": "http://localhost:8102/api/"}, "SEKO_BASE_URL points at localhost"),
    ({"SEKO_BASE_URL": "https://[::1]:8102/api/"}, "SEKO_BASE_URL points at ::1"),
    ({"SEKO_BASE_URL": "http://ihub.supplystream.example:8081/api/"}, "SEKO_BASE_URL is plain http"),
    ({"SEKO_PUSH_SECRET": ""}, "SEKO_PUSH_SECRET is not set"),
    ({"SEKO_PUSH_SECRET": "whsec_" + base64.b64encode(b"x" * 8).decode()}, "SEKO_PUSH_SECRET holds a key of 8 bytes"),
    ({"BLUECHERRY_USER_PAGE_URL": "http://127.0.0.1:8101/_sim/user"}, "BLUECHERRY_USER_PAGE_URL points at the demo"),
])
def test_production_settings_refuse_each_development_value_naming_the_setting_and_the_fix(env, words):
    result = load_settings(**env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and words in result.stderr, result.stderr
    refusal = result.stderr[result.stderr.index("refuse to start"):]
    assert refusal.count("\n- ") == 1, f"only the one development value should be named:\n{refusal}"


def test_unsigned_pushes_are_accepted_only_when_it_is_said_that_seko_cannot_sign():
    assert load_settings(SEKO_PUSH_SECRET="", SEKO_PUSH_SIGNED="false").returncode == 0
    assert load_settings(SEKO_PUSH_SECRET="", SEKO_PUSH_SIGNED="true").returncode != 0
