"""``manage.py backup``: a consistent copy while workers write, restored to an identical database."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from integration.models import InboundPush, MessageLog

sqlite_only = pytest.mark.skipif(connection.vendor != "sqlite", reason="the backup command copies SQLite")


def row_counts(path: Path) -> dict[str, int]:
    """Rows per table, read straight from the file (what a restored database would hold)."""
    with sqlite3.connect(path) as db:
        tables = [name for (name,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        return {table: db.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0] for table in tables}


def live_database() -> Path:
    return Path(connection.settings_dict["NAME"])


class Writer(threading.Thread):
    """A worker's writes: a message and a push, together in one transaction, as fast as it can."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.written = 0

    def run(self) -> None:
        from django.db import connection as own_connection

        try:
            while not self.stop.is_set():
                with transaction.atomic():
                    MessageLog.objects.create(system="seko", operation="submit_order", method="POST",
                                              url="https://seko/x", request_body="x" * 2000)
                    InboundPush.objects.create(body="y" * 2000)
                self.written += 1
        finally:
            own_connection.close()


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_a_backup_taken_while_a_worker_writes_restores_to_an_identical_database(tmp_path: Path):
    for _ in range(200):  # enough pages that the copy takes a while
        MessageLog.objects.create(system="seko", operation="seed", method="GET", url="u", request_body="z" * 4000)
    writer = Writer()
    writer.start()
    try:
        while writer.written < 20:
            time.sleep(0.01)
        during = writer.written
        call_command("backup", str(tmp_path / "during.sqlite3"))
    finally:
        writer.stop.set()
        writer.join(timeout=30)
    copy = row_counts(tmp_path / "during.sqlite3")
    # One instant of the database: every transaction either wholly in the copy or wholly not.
    assert copy["integration_messagelog"] - 200 == copy["integration_inboundpush"]
    assert during <= copy["integration_inboundpush"] <= writer.written

    # Restore as the manual says (stop, copy the file back, start): nothing differs, table by table.
    call_command("backup", str(tmp_path / "after.sqlite3"))
    restored = tmp_path / "restored" / live_database().name
    restored.parent.mkdir()
    shutil.copyfile(tmp_path / "after.sqlite3", restored)
    assert row_counts(restored) == row_counts(live_database())
    with sqlite3.connect(restored) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_a_backup_into_a_folder_gets_a_dated_name_and_never_overwrites(tmp_path: Path, capsys):
    call_command("backup", str(tmp_path))
    written = list(tmp_path.glob("*.sqlite3"))
    assert len(written) == 1 and not list(tmp_path.glob("*.partial"))
    with pytest.raises(CommandError, match="already exists"):
        call_command("backup", str(written[0]))


@pytest.mark.django_db
def test_on_postgresql_the_backup_refuses_and_names_pg_dump(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(connection, "vendor", "postgresql")
    with pytest.raises(CommandError, match="pg_dump"):
        call_command("backup", str(tmp_path / "x.sqlite3"))
    assert not list(tmp_path.iterdir())
