"""Items per sync status kept by the database: the delta table, its triggers on the items table
and the count of the items already there (integration/items/sync_status_counts.py).

Unlike 0007 this migration runs the live counter's SQL rather than a frozen copy: the counter's
``ensure()`` runs after every migrate and reinstalls whatever the live definition says is
missing, so a frozen copy here could not keep a different definition in place anyway.
"""

from django.db import migrations

from integration.items.sync_status_counts import ITEMS_BY_SYNC_STATUS


def forwards(apps, schema_editor) -> None:
    ITEMS_BY_SYNC_STATUS.install(schema_editor.connection)


def backwards(apps, schema_editor) -> None:
    ITEMS_BY_SYNC_STATUS.uninstall(schema_editor.connection)


class Migration(migrations.Migration):

    dependencies = [
        ("integration", "0013_dispatch_set_aside"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards, elidable=False),
    ]
