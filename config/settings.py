"""Settings for the integration, read only from environment variables.

Every variable has a default that makes the embedded mode (SQLite, the django-q2 ORM broker,
both simulators on localhost) work with nothing set. Production sets DATABASE_URL,
Q_BROKER_URL, the two base URLs, the keys and SECRET_KEY.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value not in (None, "") else default


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


# Where the embedded mode keeps its SQLite files; the headless demo points it at a fresh folder.
DATA_DIR = Path(env_str("DATA_DIR", str(BASE_DIR / ".data")))
DATA_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY", "dev-only-insecure-key-set-SECRET_KEY-in-production")
ALLOWED_HOSTS = [h for h in env_str("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h]

INSTALLED_APPS = [
    # django.contrib.admin, its site letting the integration-admin group in (integration/shared/admin_access.py)
    "integration.admin_site.BridgeAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "django_q",
    "integration",
    "exceptions",
    "reconciliation",
    # The demo, chaos and bench commands (manage.py demo|chaos|bench); not installed in production.
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "integration.shared.middleware.RefuseNulMiddleware",  # issue 8: NUL in a URL is a 400, not a DB error
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# SQLite settings that survive several processes (web, workers) writing at once: IMMEDIATE
# transactions take the write lock up front so the busy timeout applies (PITFALLS.md).
SQLITE_OPTIONS = {
    "transaction_mode": "IMMEDIATE",
    "timeout": 30,
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
}

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'integration.sqlite3'}"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 0),  # the web server's default is in config/wsgi.py
        conn_health_checks=True,  # a kept connection that broke is replaced, not a 500
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = dict(SQLITE_OPTIONS)
    # Workers and servers started by tests run in other processes: they need a file.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test-integration.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
# The product speaks British English only. With translation on, every number, date and choice
# label a page prints went through the translation machinery (a thread-local lookup of the
# active language per value): a fifth of the Stock page's CPU. Dates and numbers keep en-gb's
# formats without it (Django reads them from LANGUAGE_CODE).
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Serve straight from the app folders so a fresh clone needs no collectstatic.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

LOGIN_URL = "login"
# The second backend authenticates nobody: it gives the integration-admin group its rights in the
# Django admin (integration/shared/admin_access.py), so membership is enough, without the staff flag.
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "integration.shared.admin_access.IntegrationAdminBackend",
]
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
}

# --- The dashboard (issue 3): htmx, token auth for the API, the OpenAPI schema, the nav ------
INSTALLED_APPS += [
    "rest_framework.authtoken",  # `manage.py drf_create_token <user>` for API clients
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served by the app itself, no CDN
    "django_htmx",
    "simple_history",  # history of the cross-reference tables and buffer overrides
]
MIDDLEWARE += ["django_htmx.middleware.HtmxMiddleware",
               # Records the signed-in user on each history row of a mapping or buffer override.
               "simple_history.middleware.HistoryRequestMiddleware"]
# The nav in base.html is built from integration/shared/navigation.py, filtered by the user's role.
TEMPLATES[0]["OPTIONS"]["context_processors"].append("integration.shared.navigation.nav")
# Django's date and truncatechars filters with the same output for a fraction of the CPU
# (integration/templatetags/quick_filters.py): builtins listed here override Django's own.
TEMPLATES[0]["OPTIONS"]["builtins"] = ["integration.templatetags.quick_filters"]
# Form fields (the lists' filters: a select of every exception kind, ...) rendered by Jinja2 from
# Django's own widget templates, same HTML: Django's template engine rendered each <option>
# through a template include, a fifth of the exception queue's CPU.
FORM_RENDERER = "django.forms.renderers.Jinja2"
# No Basic authentication: it would take a password on every API call, outside the login page's
# lockout (django-axes, below); API clients use a token instead.
REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"] = [
    "rest_framework.authentication.SessionAuthentication",
    "rest_framework.authentication.TokenAuthentication",
]
# Per-client request rates on the JSON API (a 429 with Retry-After above them). Counted in the
# default cache, which is per process: with WEB_WORKERS processes a client may get up to that
# many times the rate.
REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] = [
    "rest_framework.throttling.AnonRateThrottle",
    "rest_framework.throttling.UserRateThrottle",
]
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {
    "anon": env_str("API_THROTTLE_ANON", "60/minute"),
    "user": env_str("API_THROTTLE_USER", "600/minute"),
}
REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"] = "drf_spectacular.openapi.AutoSchema"
# Issue 8: a JSON body nested thousands deep is a 400, not a RecursionError (a 500).
REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"] = [
    "integration.shared.parsers.SafeJSONParser",
    "rest_framework.parsers.FormParser",
    "rest_framework.parsers.MultiPartParser",
]
SPECTACULAR_SETTINGS = {
    "TITLE": "Blue Cherry ↔ Seko bridge API",
    "DESCRIPTION": "Exceptions, orders and cross-reference tables, with the same role checks as the screens "
                   "(docs/permissions.md). Session or token auth (`Authorization: Token <key>`).",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "ExceptionStatusEnum": "exceptions.models.IntegrationException.Status",
        "OrderStatusEnum": "integration.models.Order.Status",
    },
}
# Rows per page on the dashboard's lists.
DASHBOARD_PAGE_SIZE = env_int("DASHBOARD_PAGE_SIZE", 50)
# How long Seko's reference lists (DCs, courier services) are trusted before they are asked again.
SEKO_REFERENCE_CACHE_SECONDS = env_int("SEKO_REFERENCE_CACHE_SECONDS", 300)

# --- Failed logins: counted and locked out (django-axes) ---------------------------------
# Counted per user *and* address together: a guesser is stopped without letting anyone lock a
# colleague out from elsewhere, or lock out a whole office behind one address. A lock lasts
# AXES_COOLOFF_MINUTES (0: until an integration admin unlocks it in the admin, under Axes >
# Access attempts, or `manage.py axes_reset_username <user>`). A successful login clears the count.
INSTALLED_APPS += ["axes"]
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", *AUTHENTICATION_BACKENDS]
MIDDLEWARE += ["axes.middleware.AxesMiddleware"]
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 30)) or None
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# Successful logins are not logged row by row (that table would only grow); failures are kept.
AXES_DISABLE_ACCESS_LOG = True
# Behind a TLS proxy every request comes from the proxy: name the header carrying the client's
# address (e.g. HTTP_X_FORWARDED_FOR), else the lock would be per user only (integration/shared/client_address.py).
CLIENT_IP_HEADER_NAME = env_str("CLIENT_IP_HEADER_NAME", "")
AXES_CLIENT_IP_CALLABLE = "integration.shared.client_address.client_address"

# --- The two remote systems -------------------------------------------------------------
BLUECHERRY_BASE_URL = env_str("BLUECHERRY_BASE_URL", "http://127.0.0.1:8101/api/v1/")
BLUECHERRY_API_KEY = env_str("BLUECHERRY_API_KEY", "bc-dev-key")
# Demo only: the Blue Cherry simulator's page where a person plays the Blue Cherry user (edits an
# order, fixes an item). When set, order, item and exception pages link to it; empty in production.
BLUECHERRY_USER_PAGE_URL = env_str("BLUECHERRY_USER_PAGE_URL", "")
SEKO_BASE_URL = env_str("SEKO_BASE_URL", "http://127.0.0.1:8102/api/")
SEKO_API_KEY = env_str("SEKO_API_KEY", "seko-dev-key")
SEKO_PUSH_TOKEN = env_str("SEKO_PUSH_TOKEN", "seko-push-dev-token")
SEKO_PUSH_SECRET = env_str("SEKO_PUSH_SECRET", "")

# Per-call limits for the HTTP clients: (connect, read) seconds, and the retry budget for
# transient failures inside one call (the flows retry further with their own backoff).
HTTP_CONNECT_TIMEOUT = env_float("HTTP_CONNECT_TIMEOUT", 3.0)
HTTP_READ_TIMEOUT = env_float("HTTP_READ_TIMEOUT", 20.0)
HTTP_MAX_RETRIES = env_int("HTTP_MAX_RETRIES", 2)
HTTP_BACKOFF_SECONDS = env_float("HTTP_BACKOFF_SECONDS", 0.5)

# --- The order flow ---------------------------------------------------------------------
# Blue Cherry's location code for the Seko warehouse; only orders for mapped locations go.
# Issue 9: four rounds of ORDER_SEND_CONCURRENCY (16): a batch ends with its slowest order, so a
# size that is not a multiple of the concurrency ends with a part-empty round (50 took 4 rounds).
ORDER_BATCH_SIZE = env_int("ORDER_BATCH_SIZE", 64)
# Issue 9: how many orders of a batch a worker has in flight at once (each its Seko submit, then
# its pick ticket); each thread has its own keep-alive sessions. 1 = one at a time. At 150 ms a
# call, 16 per worker is ~50 orders/s per worker; the threads mostly wait.
ORDER_SEND_CONCURRENCY = env_int("ORDER_SEND_CONCURRENCY", 16)
# Overlap for the updated_at cursors: a row committed late with an older timestamp is still seen.
CURSOR_OVERLAP_SECONDS = env_int("CURSOR_OVERLAP_SECONDS", 120)
# A claimed order whose worker died is handed out again after this long.
ORDER_LEASE_SECONDS = env_int("ORDER_LEASE_SECONDS", 300)
# Backoff for transient failures: base * 2**attempt, capped, with jitter.
RETRY_BASE_SECONDS = env_float("RETRY_BASE_SECONDS", 30.0)
RETRY_MAX_SECONDS = env_float("RETRY_MAX_SECONDS", 1800.0)
# After this many transient failures in a row a person is told (the retries go on).
TRANSIENT_ALERT_AFTER = env_int("TRANSIENT_ALERT_AFTER", 3)
SEKO_CANCEL_REASON_CODE = env_str("SEKO_CANCEL_REASON_CODE", "001")
SYNC_INTERVAL_MINUTES = env_int("SYNC_INTERVAL_MINUTES", 1)

# --- Item master (flow 1, issue 4) ------------------------------------------------------
# Items claimed, sent to Seko and written back per batch (one bulk read and write per batch).
ITEM_BATCH_SIZE = env_int("ITEM_BATCH_SIZE", 200)
# Seko calls in flight at once (one ProductMaster per call; Blue Cherry's LIVE is one call per
# batch). A catalogue onboarded at once waits on Seko's latency, not on us: at 150 ms a call,
# 1,000 items went LIVE at 91/s with 16 in flight, 152/s with 32, 213/s with 64 (manage.py
# bench --only items, 2 cores also running both simulators). A system that answers 429 is
# waited for as it asks.
ITEM_SYNC_CONCURRENCY = env_int("ITEM_SYNC_CONCURRENCY", 32)
# Batches claimed and at Seko at once: the next batch's calls run while one batch's outcomes
# are written and its LIVE goes to Blue Cherry (in one call per batch), so the calls in flight
# never wait for that bookkeeping. Each claimed batch is held until its lease runs out if the
# worker dies, then sent again (a submit Seko already took falls back to update).
ITEM_BATCHES_IN_FLIGHT = env_int("ITEM_BATCHES_IN_FLIGHT", 2)
# How long the heartbeat spends on items before it moves on to orders (well under Q_TIMEOUT);
# what is left is taken on the next beat.
ITEM_SYNC_BUDGET_SECONDS = env_float("ITEM_SYNC_BUDGET_SECONDS", 60.0)
ITEM_AUDIT_INTERVAL_MINUTES = env_int("ITEM_AUDIT_INTERVAL_MINUTES", 60)
# The audit compares weights to the gram: Seko keeps GrossWeight as a number.
ITEM_AUDIT_WEIGHT_TOLERANCE_KG = env_float("ITEM_AUDIT_WEIGHT_TOLERANCE_KG", 0.0005)

# --- Dispatch confirmations and monitoring (issue 5) --------------------------------------
# Biggest push body the webhook takes (Seko batches up to 500 records; 5 MB is far above that).
SEKO_PUSH_MAX_BYTES = env_int("SEKO_PUSH_MAX_BYTES", 5 * 1024 * 1024)
# Standard Webhooks: a signature older (or newer) than this is refused, so a captured push
# cannot be replayed later.
SEKO_PUSH_TOLERANCE_SECONDS = env_int("SEKO_PUSH_TOLERANCE_SECONDS", 300)
DISPATCH_BATCH_SIZE = env_int("DISPATCH_BATCH_SIZE", 100)
# How many dispatches of a batch a worker posts to Blue Cherry at once (each thread its own
# keep-alive session, as ORDER_SEND_CONCURRENCY). 1 = one at a time: ~7 a second at 150 ms a call.
DISPATCH_POST_CONCURRENCY = env_int("DISPATCH_POST_CONCURRENCY", 16)
# The poll asks Seko for orders dispatched since the last poll, minus this overlap.
DISPATCH_POLL_MINUTES = env_int("DISPATCH_POLL_MINUTES", 15)
DISPATCH_POLL_OVERLAP_SECONDS = env_int("DISPATCH_POLL_OVERLAP_SECONDS", 600)
# A dispatch younger than this is left to its push (Seko delivers every ~15 minutes), so the
# poll recovers what was lost rather than racing what is on its way.
DISPATCH_POLL_GRACE_SECONDS = env_int("DISPATCH_POLL_GRACE_SECONDS", 900)
# A dispatch confirmation without its tracking number waits this long from its arrival for the
# TrackingDetails Seko may send in a later push (every ~15 minutes) before it is quarantined.
DISPATCH_TRACKING_WAIT_SECONDS = env_int("DISPATCH_TRACKING_WAIT_SECONDS", 1800)
# Dispatch SLA: hours from "sent for fulfilment" to dispatch. DISPATCH_SLA_BY_SERVICE overrides
# per carrier service, as "KEY=hours" pairs where KEY is a carrier mapping's service level
# (NEXTDAY) or Blue Cherry ship-via (RMNDAY); the ship-via wins.
DISPATCH_SLA_HOURS = env_float("DISPATCH_SLA_HOURS", 24.0)
_SLA_PAIRS = env_str("DISPATCH_SLA_BY_SERVICE", "NEXTDAY=12,EXPRESS=8,STANDARD=24").split(",")
DISPATCH_SLA_BY_SERVICE = {
    key.strip(): float(hours) for key, _, hours in (pair.partition("=") for pair in _SLA_PAIRS if "=" in pair)
}
# An open overdue alert is checked against Seko's status again after this long.
OVERDUE_RECHECK_MINUTES = env_int("OVERDUE_RECHECK_MINUTES", 30)
MONITOR_INTERVAL_MINUTES = env_int("MONITOR_INTERVAL_MINUTES", 5)
# /healthz/workers answers 503 once the workers' own heartbeat (a task scheduled every minute) is
# older than this: long enough for a beat queued behind busy workers, short enough to page someone.
WORKERS_HEALTHY_WITHIN_SECONDS = env_int("WORKERS_HEALTHY_WITHIN_SECONDS", 300)
# Each role gets at most one email digest of its new exceptions per this many minutes.
DIGEST_INTERVAL_MINUTES = env_int("DIGEST_INTERVAL_MINUTES", 60)
# --- Reconciliation (issue 7) -------------------------------------------------------------
# Each scheduled run re-reads the last RECON_LOOKBACK_DAYS days (today included), so a late
# correction in Blue Cherry closes its discrepancy on the next run. Values within
# RECON_VALUE_TOLERANCE (rounding) are equal.
RECON_INTERVAL_MINUTES = env_int("RECON_INTERVAL_MINUTES", 1440)
RECON_LOOKBACK_DAYS = env_int("RECON_LOOKBACK_DAYS", 3)
RECON_VALUE_TOLERANCE = env_str("RECON_VALUE_TOLERANCE", "0.01")
# The business's own time zone (an IANA name such as Europe/London): reconciliation days, the
# scheduled run's "today" and month-end follow it, so a month closes at the business's midnight
# rather than UTC's. An unknown name stops the start here rather than at month-end.
BUSINESS_TIME_ZONE = env_str("BUSINESS_TIME_ZONE", "UTC")
ZoneInfo(BUSINESS_TIME_ZONE)
# The digests go through Django's email backend. The default, the console backend, only prints
# them to the workers' output: nobody receives them until EMAIL_BACKEND is the SMTP backend
# (django.core.mail.backends.smtp.EmailBackend) with EMAIL_HOST and, where the relay asks,
# EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD and EMAIL_USE_TLS.
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "bridge@localhost")

# --- Stock (flow 4, issue 6) -----------------------------------------------------------
# Published available = max(0, Seko free - buffer), buffer = ceil(velocity x lag x safety)
# clamped to [MIN, MAX]; lag = our push interval + Blue Cherry's batch cycle. The defaults were
# chosen with the oversell experiment (docs/stock.md, `manage.py bench --only oversell`).
STOCK_VELOCITY_WINDOW_HOURS = env_float("STOCK_VELOCITY_WINDOW_HOURS", 3.0)
STOCK_SAFETY_FACTOR = env_float("STOCK_SAFETY_FACTOR", 1.5)
STOCK_BUFFER_MIN = env_int("STOCK_BUFFER_MIN", 0)
STOCK_BUFFER_MAX = env_int("STOCK_BUFFER_MAX", 25)
STOCK_PUSH_INTERVAL_MINUTES = env_float("STOCK_PUSH_INTERVAL_MINUTES", 5.0)
BLUECHERRY_BATCH_CYCLE_MINUTES = env_float("BLUECHERRY_BATCH_CYCLE_MINUTES", 10.0)
# A snapshot or audit finding further off than this (units) raises stock.drift.
STOCK_DRIFT_TOLERANCE = env_int("STOCK_DRIFT_TOLERANCE", 2)
# Seko advises a full stock query only a few times a day; movements are followed in between.
STOCK_SNAPSHOT_INTERVAL_MINUTES = env_int("STOCK_SNAPSHOT_INTERVAL_MINUTES", 360)
STOCK_AUDIT_INTERVAL_MINUTES = env_int("STOCK_AUDIT_INTERVAL_MINUTES", 60)
# Positions per POST inventory/ats-updates.
STOCK_PUSH_BATCH_SIZE = env_int("STOCK_PUSH_BATCH_SIZE", 1000)
# Seko location types whose units may be sold (comma-separated, compared without case or outer
# spaces); every other type is held: kept per type, shown, never published (docs/stock.md).
# "Available" is the spelling seen in a real stock answer of an older iHub version.
SEKO_SELLABLE_LOCATION_TYPES = env_str("SEKO_SELLABLE_LOCATION_TYPES", "Available Stock,Web Stock,Available")
# Seko's stock figures show an accepted order only about this long after it was accepted
# ("Retrieve Stock Quantity"): a snapshot treats orders this recent as maybe not counted yet.
SEKO_ORDER_STOCK_LAG_SECONDS = env_int("SEKO_ORDER_STOCK_LAG_SECONDS", 300)

# --- Retention: customer data kept only as long as needed (integration/shared/retention.py) -----------
# Messages and raw pushes are kept 90 days: a quarter covers month- and quarter-end questions from
# finance and a carrier's claim window, and the reconciliation reads only its last few days.
# Customer names, addresses, phones and emails in what is kept are masked after 30 days (orders:
# 30 days after they settled), when returns and delivery disputes are normally over.
RETENTION_MESSAGE_LOG_DAYS = env_int("RETENTION_MESSAGE_LOG_DAYS", 90)
RETENTION_INBOUND_PUSH_DAYS = env_int("RETENTION_INBOUND_PUSH_DAYS", 90)
RETENTION_REDACT_AFTER_DAYS = env_int("RETENTION_REDACT_AFTER_DAYS", 30)
# Rows per delete or redaction transaction: small, so a worker waiting on SQLite's write lock
# waits for one batch (milliseconds), never for the whole run.
RETENTION_BATCH_SIZE = env_int("RETENTION_BATCH_SIZE", 500)
RETENTION_INTERVAL_MINUTES = env_int("RETENTION_INTERVAL_MINUTES", 1440)

# --- django-q2 --------------------------------------------------------------------------
# Chosen on purpose (PITFALLS.md): a task is never redelivered while it may still run
# (retry > timeout), never redelivered forever (max_attempts), and missed schedule slots are
# not replayed after downtime (catch_up). Correctness never rests on the broker: state rows
# and the sweeper in integration.tasks re-enqueue whatever is due.
Q_BROKER_URL = env_str("Q_BROKER_URL", "")
Q_CLUSTER = {
    "name": env_str("Q_CLUSTER_NAME", "bridge"),
    # Issue 9: three on two cores, because a worker mostly waits on Seko and Blue Cherry (its
    # sends run ORDER_SEND_CONCURRENCY calls at once); measured at 150 ms a call, 500 orders
    # went at ~57/s with two workers and ~69/s with three.
    "workers": env_int("Q_WORKERS", 3),
    "recycle": 500,
    "timeout": env_int("Q_TIMEOUT", 300),
    "retry": env_int("Q_RETRY", 360),
    "max_attempts": 1,
    "catch_up": False,
    "ack_failures": True,
    "save_limit": 500,
    "queue_limit": 50,
    "poll": env_float("Q_POLL", 0.5),
    "label": "Tasks",
}
if Q_BROKER_URL.startswith("redis://"):
    Q_CLUSTER["redis"] = Q_BROKER_URL
else:
    Q_CLUSTER["orm"] = "default"

# --- Metrics and logs ---------------------------------------------------------------------
# Prometheus scrapes /metrics with "Authorization: Bearer <METRICS_TOKEN>"; empty turns the
# endpoint off (403), so the figures are never open to anyone. docs/metrics.md.
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
# Pushes, sends, posts and Seko/Blue Cherry calls are counted over this many recent minutes.
METRICS_WINDOW_MINUTES = env_int("METRICS_WINDOW_MINUTES", 15)
# "json": one JSON object per line, with the order number being worked on (log collectors parse
# it without a multi-line rule); anything else: the plain lines.
LOG_FORMAT = env_str("LOG_FORMAT", "plain").strip().lower()

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
                   "json": {"()": "integration.shared.log_format.JsonLineFormatter"}},
    # A 403 is one line (who, what, why), not a PermissionDenied traceback.
    "filters": {"forbidden_in_one_line": {"()": "integration.shared.log_filters.ForbiddenInOneLine"},
                # The order being worked on (messagelog.about_order), on every record for the JSON lines.
                "order_context": {"()": "integration.shared.log_format.OrderContext"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json" if LOG_FORMAT == "json" else "plain",
                             "filters": ["order_context"]}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # Apprise's own records, and urllib3's at DEBUG, can name an alert destination's secret URL:
    # exceptions.alerting logs what failed itself, without it.
    "loggers": {"django.server": {"level": "WARNING"}, "django.request": {"filters": ["forbidden_in_one_line"]},
                "apprise": {"level": "CRITICAL", "propagate": False}, "urllib3": {"level": "INFO"}},
}
