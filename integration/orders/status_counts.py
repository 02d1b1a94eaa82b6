"""Orders per status, counted by the database itself (issue 9).

The overview's "orders by status" was a ``GROUP BY status`` over every order: ~170 ms on SQLite
and ~250 ms on PostgreSQL at a million orders. Triggers on ``integration_order`` now write the
change of every insert, status change and delete into a small delta table, and the overview
sums that table in one statement, whatever the number of orders.

Why deltas and not one row per status: on PostgreSQL, transactions that move orders between
statuses would update the same few counter rows in different orders (deadlocks), and a long
transaction would hold a status's row and block every worker that touches that status. An
insert-only table never takes a lock another writer waits for. ``compact()`` (scheduled every
minute, integration/schedules.py) folds the deltas into one row per status, so the reader sums a
handful of rows.

Why no Django model: Django's test flush would empty a model's table together with the orders,
in an arbitrary order on SQLite (``DELETE FROM`` each table), leaving the delete triggers' -1
rows behind when the counter is emptied first. Unmanaged, the counter is left alone by flush: on
SQLite the delete triggers bring it to zero, on PostgreSQL a TRUNCATE trigger empties it.

Every write path goes through SQL the triggers see: ``save()``, ``QuerySet.update()``,
``bulk_create``, Django's cascade deletes, raw INSERT/UPDATE/DELETE, and COPY on PostgreSQL.

For later migrations of the orders table: on SQLite, one that rebuilds the table drops these
triggers with it (``ensure()`` after every migrate puts them back and recounts); on PostgreSQL,
changing the type of ``status`` is refused while the UPDATE trigger names the column, so such a
migration must call ``uninstall()`` before and ``install()`` after.
"""

from __future__ import annotations

from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper

TABLE = "integration_orderstatuscount"
ORDERS = "integration_order"
PREFIX = "integration_order_status_count"

SQLITE_TRIGGERS = {
    f"{PREFIX}_ins": f"""
        CREATE TRIGGER {PREFIX}_ins AFTER INSERT ON {ORDERS}
        BEGIN INSERT INTO {TABLE} (status, n) VALUES (NEW.status, 1); END""",
    f"{PREFIX}_upd": f"""
        CREATE TRIGGER {PREFIX}_upd AFTER UPDATE OF status ON {ORDERS} WHEN OLD.status IS NOT NEW.status
        BEGIN INSERT INTO {TABLE} (status, n) VALUES (OLD.status, -1), (NEW.status, 1); END""",
    f"{PREFIX}_del": f"""
        CREATE TRIGGER {PREFIX}_del AFTER DELETE ON {ORDERS}
        BEGIN INSERT INTO {TABLE} (status, n) VALUES (OLD.status, -1); END""",
}

# PostgreSQL: inserts and deletes are counted per statement from the transition tables, so a
# COPY of a million orders or a cascade delete writes one delta row per status, not per order.
# A status change is counted per row: an UPDATE trigger with transition tables may not name
# columns, so it would run (and join old to new) on every UPDATE of an order, most of which do
# not touch the status; the row trigger's WHEN skips those without calling anything.
PG_FUNCTIONS = [
    f"""CREATE OR REPLACE FUNCTION {PREFIX}_ins() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO {TABLE} (status, n) SELECT status, COUNT(*) FROM new_rows GROUP BY status;
            RETURN NULL;
        END $$""",
    f"""CREATE OR REPLACE FUNCTION {PREFIX}_del() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO {TABLE} (status, n) SELECT status, -COUNT(*) FROM old_rows GROUP BY status;
            RETURN NULL;
        END $$""",
    f"""CREATE OR REPLACE FUNCTION {PREFIX}_upd() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO {TABLE} (status, n) VALUES (OLD.status, -1), (NEW.status, 1);
            RETURN NULL;
        END $$""",
    f"""CREATE OR REPLACE FUNCTION {PREFIX}_trunc() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            DELETE FROM {TABLE};
            RETURN NULL;
        END $$""",
]
PG_TRIGGERS = {
    f"{PREFIX}_ins": f"""CREATE TRIGGER {PREFIX}_ins AFTER INSERT ON {ORDERS}
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {PREFIX}_ins()""",
    f"{PREFIX}_del": f"""CREATE TRIGGER {PREFIX}_del AFTER DELETE ON {ORDERS}
        REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION {PREFIX}_del()""",
    f"{PREFIX}_upd": f"""CREATE TRIGGER {PREFIX}_upd AFTER UPDATE OF status ON {ORDERS}
        FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION {PREFIX}_upd()""",
    f"{PREFIX}_trunc": f"""CREATE TRIGGER {PREFIX}_trunc AFTER TRUNCATE ON {ORDERS}
        FOR EACH STATEMENT EXECUTE FUNCTION {PREFIX}_trunc()""",
}


def _triggers(connection: BaseDatabaseWrapper) -> dict[str, str]:
    return PG_TRIGGERS if connection.vendor == "postgresql" else SQLITE_TRIGGERS


def install(connection: BaseDatabaseWrapper) -> None:
    """Create the table and the triggers (replacing any there) and count the existing orders,
    in one transaction so that no order changes between the count and the first trigger."""
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (id bigint GENERATED BY DEFAULT AS IDENTITY "
                           "PRIMARY KEY, status text NOT NULL, n bigint NOT NULL)")
            # Writers of orders wait here until the count below is committed with the triggers.
            cursor.execute(f"LOCK TABLE {ORDERS} IN SHARE ROW EXCLUSIVE MODE")
            for sql in PG_FUNCTIONS:
                cursor.execute(sql)
        else:  # no AUTOINCREMENT: its sqlite_sequence update per row made a bulk insert of orders slower
            cursor.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (id integer PRIMARY KEY, "
                           "status text NOT NULL, n bigint NOT NULL)")
        for name, sql in _triggers(connection).items():
            cursor.execute(f"DROP TRIGGER IF EXISTS {name}" + (f" ON {ORDERS}" if connection.vendor == "postgresql"
                                                                 else ""))
            cursor.execute(sql)
        cursor.execute(f"DELETE FROM {TABLE}")
        cursor.execute(f"INSERT INTO {TABLE} (status, n) SELECT status, COUNT(*) FROM {ORDERS} GROUP BY status")


def uninstall(connection: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        for name in _triggers(connection):
            cursor.execute(f"DROP TRIGGER IF EXISTS {name}" + (f" ON {ORDERS}" if connection.vendor == "postgresql"
                                                                 else ""))
        if connection.vendor == "postgresql":
            for name in _triggers(connection):
                cursor.execute(f"DROP FUNCTION IF EXISTS {name}()")
        cursor.execute(f"DROP TABLE IF EXISTS {TABLE}")


def missing_triggers(connection: BaseDatabaseWrapper) -> set[str]:
    """The counter's triggers absent from the database. None is missing before the migration
    that creates the table has run (or after it was reversed): there is nothing to keep then."""
    with connection.cursor() as cursor:
        if TABLE not in connection.introspection.table_names(cursor):
            return set()
        if connection.vendor == "postgresql":
            cursor.execute("SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal",
                           [ORDERS])
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s", [ORDERS])
        present = {row[0] for row in cursor.fetchall()}
    return set(_triggers(connection)) - present


def ensure(connection: BaseDatabaseWrapper) -> bool:
    """Reinstall the triggers and recount when any is missing; True when it had to.

    On SQLite a later migration that alters the orders table rebuilds it (new table, copy, drop,
    rename), and dropping the old table drops its triggers with it: without this the counter
    would silently stop following the orders. Run after every migrate and by every compaction.
    """
    if not missing_triggers(connection):
        return False
    install(connection)
    return True


def counts(connection: BaseDatabaseWrapper) -> dict[str, int]:
    """Orders per status, as a ``GROUP BY status`` over the orders would give: one statement."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT status, SUM(n) FROM {TABLE} GROUP BY status HAVING SUM(n) <> 0")
        return {status: int(n) for status, n in cursor.fetchall()}


def compact(connection: BaseDatabaseWrapper) -> int:
    """Fold the deltas into one row per status; returns how many rows were folded.

    Safe beside writers and beside another compaction: on PostgreSQL one statement deletes the
    rows its snapshot sees and inserts their sums (rows committed meanwhile are neither deleted
    nor counted; a row another compaction deleted first is skipped by this one). SQLite has one
    writer: the transaction (BEGIN IMMEDIATE) holds the database for the three statements, and
    the folded rows it inserts get ids above the last one read (a new rowid is the largest + 1).
    """
    ensure(connection)
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"WITH gone AS (DELETE FROM {TABLE} RETURNING status, n), "
                           f"folded AS (INSERT INTO {TABLE} (status, n) SELECT status, SUM(n) FROM gone "
                           "GROUP BY status HAVING SUM(n) <> 0) SELECT COUNT(*) FROM gone")
            return int(cursor.fetchone()[0])
        cursor.execute(f"SELECT MAX(id), COUNT(*) FROM {TABLE}")
        last, folded = cursor.fetchone()
        if last is None:
            return 0
        cursor.execute(f"INSERT INTO {TABLE} (status, n) SELECT status, SUM(n) FROM {TABLE} WHERE id <= %s "
                       "GROUP BY status HAVING SUM(n) <> 0", [last])
        cursor.execute(f"DELETE FROM {TABLE} WHERE id <= %s", [last])
        return int(folded)
