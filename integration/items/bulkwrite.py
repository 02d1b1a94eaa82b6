"""Write many rows' changed fields in one round trip, without Django's ``bulk_update``.

``bulk_update`` turns every field of every row into a ``CASE WHEN pk = ... THEN ...``
expression that Django builds and resolves in Python: measured on the item flow, 200 rows of
10 fields cost about 0.3 s of CPU per batch, most of the integration's own time at 150 items/s.
One parameterised ``UPDATE ... WHERE pk = %s`` sent with ``executemany`` writes the same rows
at a fraction of that, on SQLite and PostgreSQL alike. Like ``bulk_update``: no ``save()``,
no signals, no ``auto_now``.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connections, models, router


def update_sql(model: type[models.Model], fields: Sequence[str], using: str) -> str:
    """The one-row UPDATE of ``fields`` that ``update_rows`` repeats (pure)."""
    quote = connections[using].ops.quote_name
    meta = model._meta
    assignments = ", ".join(f"{quote(meta.get_field(name).column)} = %s" for name in fields)
    return f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s"


def update_rows(model: type[models.Model], rows: Sequence[models.Model], fields: Sequence[str]) -> int:
    """Save ``fields`` of every row in ``rows`` (each already has a primary key); returns how
    many rows were given. One ``executemany``: a single statement prepared once."""
    if not rows:
        return 0
    using = router.db_for_write(model)
    connection = connections[using]
    concrete = [model._meta.get_field(name) for name in fields]
    params = [[field.get_db_prep_save(getattr(row, field.attname), connection) for field in concrete] + [row.pk]
              for row in rows]
    with connection.cursor() as cursor:
        cursor.executemany(update_sql(model, fields, using), params)
    return len(rows)
