"""Settings for one simulator process (Blue Cherry or Seko), never for the integration.

Each simulator runs in its own process with its own SQLite file, so the integration can reach
it only over HTTP, as it would reach the real system. SIM_NAME picks the simulator.
"""

from __future__ import annotations

import os

SIM_NAME = os.environ["SIM_NAME"]  # "bluecherry" or "seko"
SIM_DB_PATH = os.environ["SIM_DB_PATH"]
SIM_API_KEY = os.environ.get("SIM_API_KEY", "bc-dev-key" if SIM_NAME == "bluecherry" else "seko-dev-key")

DEBUG = False
SECRET_KEY = "simulator-only"
ALLOWED_HOSTS = ["*"]
USE_TZ = True
TIME_ZONE = "UTC"
INSTALLED_APPS = ["django.contrib.contenttypes", f"simulators.{SIM_NAME}"]
MIDDLEWARE = ["simulators.middleware.ContentLength"]
ROOT_URLCONF = f"simulators.{SIM_NAME}.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": SIM_DB_PATH,
        # One connection per waitress thread for the life of the process: opening SQLite and
        # running the PRAGMAs on every request was a large share of the simulators' CPU, which
        # shares this machine with the integration in the benchmarks (issue 9).
        "CONN_MAX_AGE": None,
        "OPTIONS": {
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    }
}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("SIM_LOG_LEVEL", "WARNING")},
}
