"""``manage.py move_database --to postgres://…``: move the embedded SQLite database to PostgreSQL,
for a brand that has outgrown one machine (docs/operations.md, "Moving to PostgreSQL").

Stop the web server and the workers first (nothing may write while the rows are read), take a
``manage.py backup``, then run this. It builds the schema on the new database with the same
migrations, empties what those create (content types, permissions), and copies every table of
every installed app row by row with the values exactly as they were (primary keys, timestamps,
JSON), in one transaction: either everything is there or nothing is. Then the sequences are set
past the highest keys, and every table is counted on both sides: the command fails, naming the
tables, if any count differs. Point ``DATABASE_URL`` at the new database once it says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import dj_database_url
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.management.color import no_style
from django.db import connections, models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from integration.orders.status_counts import ORDERS_BY_STATUS
from integration.status_counters import COUNTERS

TARGET = "move_target"
CHUNK = 2000


@dataclass(frozen=True)
class TableCount:
    table: str
    source: int
    target: int

    @property
    def same(self) -> bool:
        return self.source == self.target


class Command(BaseCommand):
    help = "Copy every row of this database into a new, empty PostgreSQL database and compare the counts."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--to", required=True, help="The new database's URL, e.g. postgres://user@host/bridge")
        parser.add_argument("--compare-only", action="store_true",
                            help="Copy nothing: count every table on both sides again (before switching over)")

    def handle(self, *args: object, **options: object) -> None:
        target = open_target(str(options["to"]))
        try:
            if not options["compare_only"]:
                self.move(target)
            counts = compare_counts(connections["default"], target)
        finally:
            close_target()
        self.report(counts)

    def move(self, target: BaseDatabaseWrapper) -> None:
        self.stdout.write(f"Building the schema on {target.settings_dict['NAME']} ...")
        call_command("migrate", database=TARGET, interactive=False, verbosity=0)
        refuse_unless_empty(target)
        call_command("flush", database=TARGET, interactive=False, inhibit_post_migrate=True, verbosity=0)
        copied = copy_all(connections["default"], target)
        self.stdout.write(f"Copied {copied:,} rows. Counting both sides ...")

    def report(self, counts: list[TableCount]) -> None:
        self.stdout.write(f"{'table':<48} {'source':>10} {'target':>10}")
        for count in counts:
            self.stdout.write(f"{count.table:<48} {count.source:>10,} {count.target:>10,}"
                              + ("" if count.same else "   DIFFERENT"))
        different = [count.table for count in counts if not count.same]
        if different:
            raise CommandError(f"The counts differ in {', '.join(different)}: do not switch to the new database.")
        self.stdout.write(self.style.SUCCESS(
            f"Every table has the same rows on both sides ({len(counts)} tables). Set DATABASE_URL to the new "
            "database and start the web server and the workers."))


def open_target(url: str) -> BaseDatabaseWrapper:
    settings = dj_database_url.parse(url)
    if not settings.get("ENGINE", "").endswith("postgresql"):
        raise CommandError(f"--to must be a PostgreSQL URL (postgres://…), not {url.partition('://')[0]}://.")
    defaults = connections["default"].settings_dict
    for key in ("TIME_ZONE", "CONN_HEALTH_CHECKS", "AUTOCOMMIT", "ATOMIC_REQUESTS"):
        settings.setdefault(key, defaults.get(key))
    settings.update({"OPTIONS": {}, "TEST": {}, "CONN_MAX_AGE": 0})
    connections.databases[TARGET] = settings
    return connections[TARGET]


def close_target() -> None:
    if TARGET in connections.databases:
        connections[TARGET].close()
        del connections[TARGET]
        del connections.databases[TARGET]


def copied_models() -> list[type[models.Model]]:
    """Every table Django manages, many-to-many tables included, in a fixed order."""
    found = [model for model in apps.get_models(include_auto_created=True)
             if model._meta.managed and not model._meta.proxy]
    return sorted(found, key=lambda model: model._meta.db_table)


def refuse_unless_empty(target: BaseDatabaseWrapper) -> None:
    """Only what migrate itself writes may be there: the move never merges into data."""
    created_by_migrate = {"django_content_type", "auth_permission", "django_migrations"}
    holding = [model._meta.db_table for model in copied_models()
               if model._meta.db_table not in created_by_migrate and model.objects.using(TARGET).exists()]
    if holding:
        raise CommandError(f"The new database already holds rows ({', '.join(holding[:5])}): move into an empty "
                           "database only. Nothing was copied.")


def copy_all(source: BaseDatabaseWrapper, target: BaseDatabaseWrapper) -> int:
    """Every row of every table, in one transaction (PostgreSQL checks foreign keys at commit, so
    the order of the tables does not matter), then the sequences past the highest keys."""
    copied = 0
    with transaction.atomic(using=TARGET), target.cursor() as cursor:
        for model in copied_models():
            fields = model._meta.concrete_fields
            columns = ", ".join(target.ops.quote_name(field.column) for field in fields)
            marks = ", ".join(["%s"] * len(fields))
            insert = f"INSERT INTO {target.ops.quote_name(model._meta.db_table)} ({columns}) VALUES ({marks})"
            for rows in source_rows(model, fields):
                cursor.executemany(insert, [[field.get_db_prep_save(value, connection=target)
                                             for field, value in zip(fields, row, strict=True)] for row in rows])
                copied += len(rows)
        for sql in target.ops.sequence_reset_sql(no_style(), copied_models()):
            cursor.execute(sql)
    for counter in COUNTERS:  # recounted from the copied rows
        counter.install(target)
    return copied


def source_rows(model: type[models.Model], fields: list[models.Field]) -> Iterator[list[tuple]]:
    """The rows in chunks by primary key (no long-held cursor, no table in memory)."""
    names = [field.attname for field in fields]
    pk = model._meta.pk.attname
    rows = model.objects.using("default").order_by(pk).values_list(*names)
    last = None
    while True:
        chunk = list((rows if last is None else rows.filter(**{f"{pk}__gt": last}))[:CHUNK])
        if not chunk:
            return
        yield chunk
        last = chunk[-1][names.index(pk)]


def compare_counts(source: BaseDatabaseWrapper, target: BaseDatabaseWrapper) -> list[TableCount]:
    counts = [TableCount(model._meta.db_table, model.objects.using("default").count(),
                         model.objects.using(TARGET).count()) for model in copied_models()]
    by_status = ORDERS_BY_STATUS.counts(source), ORDERS_BY_STATUS.counts(target)
    counts += [TableCount(f"orders {status} (status counter)", by_status[0].get(status, 0), by_status[1].get(status, 0))
               for status in sorted(set(by_status[0]) | set(by_status[1]))]
    return counts
