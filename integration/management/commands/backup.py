"""``manage.py backup <path>``: a consistent copy of the embedded SQLite database, taken while the
web server and the workers keep running (docs/operations.md, "Backup and restore").

SQLite's online backup API copies the pages inside one read transaction: in WAL mode the writers
go on meanwhile, and the copy is the database as it was at one instant (no half-written order,
no push without its parts). Copying the file with ``cp`` is not: the last writes live in the
``-wal`` file, and a copy taken mid-write can be corrupt.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections


class Command(BaseCommand):
    help = ("Copy the embedded SQLite database to PATH (a file, or a folder to put a dated file in) while the "
            "workers run. On PostgreSQL use pg_dump instead.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="The backup file to write, or an existing folder to write it in")
        parser.add_argument("--database", default="default", help="The database alias (default: default)")

    def handle(self, *args: object, **options: object) -> None:
        connection = connections[str(options["database"])]
        if connection.vendor != "sqlite":
            raise CommandError(
                f"This database is {connection.vendor}, not the embedded SQLite: back it up with the database's own "
                "tools (PostgreSQL: pg_dump --format=custom, restored with pg_restore). See docs/operations.md, "
                "\"Backup and restore\".")
        source = Path(connection.settings_dict["NAME"])
        if not source.is_file():
            raise CommandError(f"The database file {source} does not exist: nothing to back up.")
        target = Path(str(options["path"]))
        if target.is_dir():
            target = target / f"{source.stem}-{datetime.now(UTC):%Y%m%d-%H%M%S}.sqlite3"
        if target.exists():
            raise CommandError(f"{target} already exists: give a new file name (a backup never overwrites one).")
        if not target.parent.is_dir():
            raise CommandError(f"The folder {target.parent} does not exist.")
        if target.resolve() == source.resolve():
            raise CommandError("The backup file must not be the database itself.")

        partial = target.with_name(target.name + ".partial")
        try:
            copy_database(source, partial)
        except (sqlite3.Error, OSError) as error:
            partial.unlink(missing_ok=True)
            raise CommandError(f"The backup failed and was removed: {error}") from error
        partial.rename(target)  # only a complete, checked copy ever carries the name asked for
        self.stdout.write(f"Backed up {source} to {target} ({target.stat().st_size:,} bytes).")


def copy_database(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` in one step of the backup API, then check the copy.

    One step (all pages at once) reads inside a single read transaction, so writers committing
    meanwhile neither restart nor corrupt it; stepping page by page would restart on every write
    from another connection and might never finish while the workers are busy."""
    reader = sqlite3.connect(source, timeout=30)
    writer = sqlite3.connect(target)
    try:
        reader.backup(writer)
        # One self-contained file: a restore is a plain copy, with no -wal file to carry along.
        writer.execute("PRAGMA journal_mode=DELETE")
        check = writer.execute("PRAGMA integrity_check").fetchone()[0]
        if check != "ok":
            raise sqlite3.DatabaseError(f"the copy failed its integrity check: {check}")
    finally:
        writer.close()
        reader.close()
