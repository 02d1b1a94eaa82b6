"""Rows per status of one table, counted by the database itself.

A ``GROUP BY status`` over a big table costs in proportion to the table: the overview's orders
by status took ~170 ms on SQLite and ~250 ms on PostgreSQL at a million orders, and the Items
screen's counts per sync status grew with the item master. Triggers on the counted table write
the change of every insert, status change and delete into a small delta table, and the reader
sums that table in one statement, whatever the number of rows.

Why deltas and not one row per status: on PostgreSQL, transactions that move rows between
statuses would update the same few counter rows in different orders (deadlocks), and a long
transaction would hold a status's row and block every worker that touches that status. An
insert-only table never takes a lock another writer waits for. ``compact()`` (scheduled every
minute, integration/schedules.py) folds the deltas into one row per status, so the reader sums a
handful of rows.

Why no Django model: Django's test flush would empty a model's table together with the counted
one, in an arbitrary order on SQLite (``DELETE FROM`` each table), leaving the delete triggers'
-1 rows behind when the counter is emptied first. Unmanaged, the counter is left alone by flush:
on SQLite the delete triggers bring it to zero, on PostgreSQL a TRUNCATE trigger empties it.

Every write path goes through SQL the triggers see: ``save()``, ``QuerySet.update()``,
``bulk_create``, Django's cascade deletes, raw INSERT/UPDATE/DELETE, and COPY on PostgreSQL.

For later migrations of a counted table: on SQLite, one that rebuilds the table drops these
triggers with it (``ensure()`` after every migrate puts them back and recounts); on PostgreSQL,
changing the type of the counted column is refused while the UPDATE trigger names it, so such a
migration must call ``uninstall()`` before and ``install()`` after.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper


@dataclass(frozen=True)
class StatusCounter:
    table: str  # the delta table: (id, status, n)
    counted: str  # the table whose rows are counted
    column: str  # its status column
    prefix: str  # of the triggers' (and on PostgreSQL their functions') names

    def sqlite_triggers(self) -> dict[str, str]:
        t, rows, col, p = self.table, self.counted, self.column, self.prefix
        return {
            f"{p}_ins": f"""CREATE TRIGGER {p}_ins AFTER INSERT ON {rows}
                BEGIN INSERT INTO {t} (status, n) VALUES (NEW.{col}, 1); END""",
            f"{p}_upd": f"""CREATE TRIGGER {p}_upd AFTER UPDATE OF {col} ON {rows} WHEN OLD.{col} IS NOT NEW.{col}
                BEGIN INSERT INTO {t} (status, n) VALUES (OLD.{col}, -1), (NEW.{col}, 1); END""",
            f"{p}_del": f"""CREATE TRIGGER {p}_del AFTER DELETE ON {rows}
                BEGIN INSERT INTO {t} (status, n) VALUES (OLD.{col}, -1); END""",
        }

    # PostgreSQL: inserts and deletes are counted per statement from the transition tables, so a
    # COPY of a million rows or a cascade delete writes one delta row per status, not per row. A
    # status change is counted per row: an UPDATE trigger with transition tables may not name
    # columns, so it would run (and join old to new) on every UPDATE, most of which do not touch
    # the status; the row trigger's WHEN skips those without calling anything.
    def pg_functions(self) -> list[str]:
        t, col, p = self.table, self.column, self.prefix
        return [
            f"""CREATE OR REPLACE FUNCTION {p}_ins() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    INSERT INTO {t} (status, n) SELECT {col}, COUNT(*) FROM new_rows GROUP BY {col};
                    RETURN NULL;
                END $$""",
            f"""CREATE OR REPLACE FUNCTION {p}_del() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    INSERT INTO {t} (status, n) SELECT {col}, -COUNT(*) FROM old_rows GROUP BY {col};
                    RETURN NULL;
                END $$""",
            f"""CREATE OR REPLACE FUNCTION {p}_upd() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    INSERT INTO {t} (status, n) VALUES (OLD.{col}, -1), (NEW.{col}, 1);
                    RETURN NULL;
                END $$""",
            f"""CREATE OR REPLACE FUNCTION {p}_trunc() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    DELETE FROM {t};
                    RETURN NULL;
                END $$""",
        ]

    def pg_triggers(self) -> dict[str, str]:
        rows, col, p = self.counted, self.column, self.prefix
        return {
            f"{p}_ins": f"""CREATE TRIGGER {p}_ins AFTER INSERT ON {rows}
                REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {p}_ins()""",
            f"{p}_del": f"""CREATE TRIGGER {p}_del AFTER DELETE ON {rows}
                REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION {p}_del()""",
            f"{p}_upd": f"""CREATE TRIGGER {p}_upd AFTER UPDATE OF {col} ON {rows}
                FOR EACH ROW WHEN (OLD.{col} IS DISTINCT FROM NEW.{col}) EXECUTE FUNCTION {p}_upd()""",
            f"{p}_trunc": f"""CREATE TRIGGER {p}_trunc AFTER TRUNCATE ON {rows}
                FOR EACH STATEMENT EXECUTE FUNCTION {p}_trunc()""",
        }

    def triggers(self, connection: BaseDatabaseWrapper) -> dict[str, str]:
        return self.pg_triggers() if connection.vendor == "postgresql" else self.sqlite_triggers()

    def _drop_trigger(self, connection: BaseDatabaseWrapper, name: str) -> str:
        return f"DROP TRIGGER IF EXISTS {name}" + (f" ON {self.counted}" if connection.vendor == "postgresql" else "")

    def install(self, connection: BaseDatabaseWrapper) -> None:
        """Create the table and the triggers (replacing any there) and count the existing rows,
        in one transaction so that no row changes between the count and the first trigger."""
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(f"CREATE TABLE IF NOT EXISTS {self.table} (id bigint GENERATED BY DEFAULT AS "
                               "IDENTITY PRIMARY KEY, status text NOT NULL, n bigint NOT NULL)")
                # Writers of the counted table wait here until the count below is committed.
                cursor.execute(f"LOCK TABLE {self.counted} IN SHARE ROW EXCLUSIVE MODE")
                for sql in self.pg_functions():
                    cursor.execute(sql)
            else:  # no AUTOINCREMENT: its sqlite_sequence update per row made bulk inserts slower
                cursor.execute(f"CREATE TABLE IF NOT EXISTS {self.table} (id integer PRIMARY KEY, "
                               "status text NOT NULL, n bigint NOT NULL)")
            for name, sql in self.triggers(connection).items():
                cursor.execute(self._drop_trigger(connection, name))
                cursor.execute(sql)
            cursor.execute(f"DELETE FROM {self.table}")
            cursor.execute(f"INSERT INTO {self.table} (status, n) SELECT {self.column}, COUNT(*) "
                           f"FROM {self.counted} GROUP BY {self.column}")

    def uninstall(self, connection: BaseDatabaseWrapper) -> None:
        with connection.cursor() as cursor:
            for name in self.triggers(connection):
                cursor.execute(self._drop_trigger(connection, name))
            if connection.vendor == "postgresql":
                for name in self.triggers(connection):
                    cursor.execute(f"DROP FUNCTION IF EXISTS {name}()")
            cursor.execute(f"DROP TABLE IF EXISTS {self.table}")

    def missing_triggers(self, connection: BaseDatabaseWrapper) -> set[str]:
        """The triggers absent from the database. None is missing before the migration that
        creates the table has run (or after it was reversed): there is nothing to keep then."""
        with connection.cursor() as cursor:
            if self.table not in connection.introspection.table_names(cursor):
                return set()
            if connection.vendor == "postgresql":
                cursor.execute("SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal",
                               [self.counted])
            else:
                cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s",
                               [self.counted])
            present = {row[0] for row in cursor.fetchall()}
        return set(self.triggers(connection)) - present

    def ensure(self, connection: BaseDatabaseWrapper) -> bool:
        """Reinstall the triggers and recount when any is missing; True when it had to.

        On SQLite a later migration that alters the counted table rebuilds it (new table, copy,
        drop, rename), and dropping the old table drops its triggers with it: without this the
        counter would silently stop following the rows. Run after every migrate and by every
        compaction.
        """
        if not self.missing_triggers(connection):
            return False
        self.install(connection)
        return True

    def counts(self, connection: BaseDatabaseWrapper) -> dict[str, int]:
        """Rows per status, as a ``GROUP BY`` over the counted table would give: one statement."""
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT status, SUM(n) FROM {self.table} GROUP BY status HAVING SUM(n) <> 0")
            return {status: int(n) for status, n in cursor.fetchall()}

    def compact(self, connection: BaseDatabaseWrapper) -> int:
        """Fold the deltas into one row per status; returns how many rows were folded.

        Safe beside writers and beside another compaction: on PostgreSQL one statement deletes
        the rows its snapshot sees and inserts their sums (rows committed meanwhile are neither
        deleted nor counted; a row another compaction deleted first is skipped by this one).
        SQLite has one writer: the transaction (BEGIN IMMEDIATE) holds the database for the three
        statements, and the folded rows it inserts get ids above the last one read (a new rowid
        is the largest + 1).
        """
        self.ensure(connection)
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(f"WITH gone AS (DELETE FROM {self.table} RETURNING status, n), "
                               f"folded AS (INSERT INTO {self.table} (status, n) SELECT status, SUM(n) FROM gone "
                               "GROUP BY status HAVING SUM(n) <> 0) SELECT COUNT(*) FROM gone")
                return int(cursor.fetchone()[0])
            cursor.execute(f"SELECT MAX(id), COUNT(*) FROM {self.table}")
            last, folded = cursor.fetchone()
            if last is None:
                return 0
            cursor.execute(f"INSERT INTO {self.table} (status, n) SELECT status, SUM(n) FROM {self.table} "
                           "WHERE id <= %s GROUP BY status HAVING SUM(n) <> 0", [last])
            cursor.execute(f"DELETE FROM {self.table} WHERE id <= %s", [last])
            return int(folded)
