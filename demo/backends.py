"""Where a demo or chaos run keeps its state (issue 8).

By default a run gets a SQLite file in its own data directory and the ORM broker. When the
caller gives ``DATABASE_URL`` (PostgreSQL) or ``Q_BROKER_URL`` (Redis) explicitly, the run
honours them, but still starts from empty state: a fresh PostgreSQL database named after the
given one plus a run id (dropped at the end), and a django-q2 cluster name of its own, so
tasks left on Redis by an earlier run are never picked up (PITFALLS.md).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import dj_database_url


def run_environment(data_dir: Path, run_id: str, prefix: str) -> tuple[dict[str, str], Callable[[], None]]:
    """The settings environment for one run and a function that removes what it created."""
    given_db = os.environ.get("DATABASE_URL", "")
    given_broker = os.environ.get("Q_BROKER_URL", "")
    env = {"Q_CLUSTER_NAME": f"{prefix}{run_id}"}
    cleanup: Callable[[], None] = lambda: None  # noqa: E731
    if given_db.startswith(("postgres://", "postgresql://")):
        url, cleanup = fresh_postgres(given_db, f"{prefix}_{run_id}")
        env["DATABASE_URL"] = url
    else:
        env["DATABASE_URL"] = f"sqlite:///{data_dir / 'integration.sqlite3'}"
    env["Q_BROKER_URL"] = given_broker if given_broker.startswith("redis://") else ""
    return env, cleanup


def fresh_postgres(url: str, suffix: str) -> tuple[str, Callable[[], None]]:
    """Create ``<given name>_<suffix>`` (empty) on the given server; returns its URL and a drop."""
    import psycopg

    config = dj_database_url.parse(url)
    name = f"{config['NAME'] or 'bridge'}_{suffix}".lower()[:63]
    parts = urlsplit(url)
    admin_url = urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, ""))

    def execute(sql: str) -> None:
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute(sql)

    execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with suppress(Exception):  # best effort on the way out: the run's result stands
            execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, "")), drop
