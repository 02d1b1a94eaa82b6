"""The production settings profile (issue 8): ``DJANGO_SETTINGS_MODULE=config.settings_production``.

Everything of config/settings.py (the same environment variables), hardened so that
``manage.py check --deploy`` is clean, and refusing to start without what production must
set: a real SECRET_KEY (not the development key, at least 50 characters) and ALLOWED_HOSTS.
TLS is assumed to end at a proxy in front of the app; SECURE_PROXY_SSL_HEADER_NAME names the
header it sets (e.g. HTTP_X_FORWARDED_PROTO) when there is one.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from config.settings import *  # noqa: F403  (the same settings, then the overrides below)
from config.settings import env_bool, env_int, env_str

DEV_SECRET_KEY = "dev-only-insecure-key-set-SECRET_KEY-in-production"

DEBUG = False

SECRET_KEY = env_str("SECRET_KEY", "")
if not SECRET_KEY or SECRET_KEY == DEV_SECRET_KEY or SECRET_KEY.startswith("django-insecure-"):
    raise ImproperlyConfigured("SECRET_KEY must be set to a real secret in production (not the development key)")
if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5:
    raise ImproperlyConfigured("SECRET_KEY must be at least 50 characters with at least 5 different ones")

ALLOWED_HOSTS = [h.strip() for h in env_str("ALLOWED_HOSTS", "").split(",") if h.strip()]
if not ALLOWED_HOSTS or "*" in ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must name the host(s) the app is served as (no '*') in production")
CSRF_TRUSTED_ORIGINS = [o.strip() for o in env_str("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]

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
