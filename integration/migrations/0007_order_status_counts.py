"""Orders per status kept by the database (issue 9): the delta table, its triggers on the orders
table for SQLite and PostgreSQL, and the count of the orders already there.

The table is not a Django model (see integration/status_counts.py for why), so this migration
has no model state: it runs the vendor's SQL, and the reverse drops the triggers and the table.
"""

from django.db import migrations


def forwards(apps, schema_editor) -> None:
    from integration import status_counts

    status_counts.install(schema_editor.connection)


def backwards(apps, schema_editor) -> None:
    from integration import status_counts

    status_counts.uninstall(schema_editor.connection)


class Migration(migrations.Migration):

    dependencies = [
        ("integration", "0006_stock_positions"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards, elidable=False),
    ]
