"""The production settings profile (issue 8): ``DJANGO_SETTINGS_MODULE=config.settings_production``.

Everything of config/settings.py (the same environment variables), hardened so that
``manage.py check --deploy`` is clean, and refusing to start without what production must
set: a real SECRET_KEY (not the development key, at least 50 characters) and ALLOWED_HOSTS; and
refusing any development value (the simulators' addresses and API keys, the public push token, a
short push token, unsigned pushes unless SEKO_PUSH_SIGNED=false says Seko cannot sign).
TLS is assumed to end at a proxy in front of the app; SECURE_PROXY_SSL_HEADER_NAME names the
header it sets (e.g. HTTP_X_FORWARDED_PROTO) when there is one.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from config.settings import *  # noqa: F403  (the same settings, then the overrides below)
from config.settings import env_bool, env_int, env_str

DEV_SECRET_KEY = "dev-only-insecure-key-set-SECRET_KEY-in-production"

DEBUG = False

# The demo app (demo, chaos, bench, the simulators' launcher) runs the product without the real
# systems; a production deployment has no use for it.
INSTALLED_APPS = [app for app in INSTALLED_APPS if app != "demo"]  # noqa: F405

SECRET_KEY = env_str("SECRET_KEY", "")
if not SECRET_KEY or SECRET_KEY == DEV_SECRET_KEY or SECRET_KEY.startswith("django-insecure-"):
    raise ImproperlyConfigured("SECRET_KEY must be set to a real secret in production (not the development key)")
if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5:
    raise ImproperlyConfigured("SECRET_KEY must be at least 50 characters with at least 5 different ones")

ALLOWED_HOSTS = [h.strip() for h in env_str("ALLOWED_HOSTS", "").split(",") if h.strip()]
if not ALLOWED_HOSTS or "*" in ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must name the host(s) the app is served as (no '*') in production")
CSRF_TRUSTED_ORIGINS = [o.strip() for o in env_str("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]

# Development values that must never reach production: the simulators' public keys and push
# token, and their localhost addresses. Every one found is named in one refusal, so a single
# restart fixes them all.
DEV_API_KEYS = frozenset({"bc-dev-key", "seko-dev-key"})
DEV_PUSH_TOKEN = "seko-push-dev-token"
LOOPBACK_HOSTS = frozenset({"localhost", "0.0.0.0", "::1", "::"})
MIN_PUSH_TOKEN_LENGTH = 32
MIN_SIGNING_KEY_BYTES = 24  # Standard Webhooks secrets are 24 to 64 random bytes
NEW_TOKEN_HINT = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
NEW_SECRET_HINT = "python -c 'import base64, os; print(\"whsec_\" + base64.b64encode(os.urandom(32)).decode())'"


def _is_loopback(host: str) -> bool:
    return host.lower() in LOOPBACK_HOSTS or host.lower().endswith(".localhost") or host.startswith("127.")


def _base_url_problem(name: str, url: str) -> str | None:
    parts = urlsplit(url)
    if not url or not parts.hostname:
        return f"{name} is not set: set it to the API root the provider gave you (https://...)."
    if _is_loopback(parts.hostname):
        return (f"{name} points at {parts.hostname}, the local simulator: set it to the real API root the "
                f"provider gave you (https://...).")
    if parts.scheme != "https":
        return f"{name} is plain {parts.scheme}: the API key would travel unencrypted; use the https:// address."
    return None


def _push_token_problem(token: str) -> str | None:
    if not token or token == DEV_PUSH_TOKEN:
        what = "not set" if not token else f"the public development token {DEV_PUSH_TOKEN!r}"
        return (f"SEKO_PUSH_TOKEN is {what}: set a random token of at least {MIN_PUSH_TOKEN_LENGTH} characters "
                f"({NEW_TOKEN_HINT}) and give the same to Seko's push set-up.")
    if len(token) < MIN_PUSH_TOKEN_LENGTH or len(set(token)) < 10:
        return (f"SEKO_PUSH_TOKEN is {len(token)} characters ({len(set(token))} different): it must be at least "
                f"{MIN_PUSH_TOKEN_LENGTH} random characters ({NEW_TOKEN_HINT}); give the same to Seko's push set-up.")
    return None


def _signing_key_bytes(secret: str) -> int:
    """How long the key behind a secret is: a ``whsec_`` secret is base64 after its prefix (Standard Webhooks)."""
    if secret.startswith("whsec_"):
        try:
            return len(base64.b64decode(secret[len("whsec_"):], validate=True))
        except (binascii.Error, ValueError):
            return 0
    return len(secret.encode())


def _push_signing_problem(secret: str, seko_signs: bool) -> str | None:
    if not secret:
        if not seko_signs:
            return None
        return ("SEKO_PUSH_SECRET is not set, so a forged push with the token would be taken: give Seko's push "
                f"set-up a Standard Webhooks secret ({NEW_SECRET_HINT}) and set the same here; only if Seko "
                "cannot sign its pushes, set SEKO_PUSH_SIGNED=false instead.")
    key_bytes = _signing_key_bytes(secret)
    if key_bytes < MIN_SIGNING_KEY_BYTES:
        return (f"SEKO_PUSH_SECRET holds a key of {key_bytes} bytes: it must be at least {MIN_SIGNING_KEY_BYTES} "
                f"random bytes ({NEW_SECRET_HINT}); give the same to Seko's push set-up.")
    return None


def development_values_problems() -> list[str]:
    """What in these settings is a development value, each with what to set instead."""
    found = [
        _base_url_problem("BLUECHERRY_BASE_URL", BLUECHERRY_BASE_URL),  # noqa: F405
        _base_url_problem("SEKO_BASE_URL", SEKO_BASE_URL),  # noqa: F405
        _push_token_problem(SEKO_PUSH_TOKEN),  # noqa: F405
        # Seko's push set-up can sign with Standard Webhooks; SEKO_PUSH_SIGNED=false says this one cannot.
        _push_signing_problem(SEKO_PUSH_SECRET, env_bool("SEKO_PUSH_SIGNED", True)),  # noqa: F405
    ]
    for name, key in (("BLUECHERRY_API_KEY", BLUECHERRY_API_KEY), ("SEKO_API_KEY", SEKO_API_KEY)):  # noqa: F405
        if not key or key in DEV_API_KEYS:
            what = "not set" if not key else f"the simulator's development key {key!r}"
            found.append(f"{name} is {what}: set the API key the provider issued for this brand.")
    user_page = urlsplit(BLUECHERRY_USER_PAGE_URL).hostname or ""  # noqa: F405
    if user_page and _is_loopback(user_page):
        found.append("BLUECHERRY_USER_PAGE_URL points at the demo's Blue Cherry simulator: leave it empty "
                     "in production.")
    return [problem for problem in found if problem]


_problems = development_values_problems()
if _problems:
    raise ImproperlyConfigured("production settings refuse to start with development values:\n- "
                               + "\n- ".join(_problems))

# Cookies only over HTTPS, never readable by scripts where that is possible.
SESSION_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_SAMESITE = "Lax"
# HTTPS only: redirect, then HSTS (a year by default, subdomains included).
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env_str("SECURE_PROXY_SSL_HEADER_NAME"):
    SECURE_PROXY_SSL_HEADER = (env_str("SECURE_PROXY_SSL_HEADER_NAME"), "https")
# The health check is polled by the load balancer over plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz(/workers)?$"]
