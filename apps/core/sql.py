"""Small SQL helpers shared by raw queries."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection, migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor


def in_condition(column: str, values: Sequence[object]) -> tuple[str, list[object]]:
    """``column IN (…)`` for the current database: one array parameter on PostgreSQL (one plan,
    any length), a parameter per value elsewhere (SQLite allows 32,766)."""
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s)", [list(values)]
    return f"{column} IN ({', '.join(['%s'] * len(values))})", list(values)


def drop_like_indexes(schema_editor: BaseDatabaseSchemaEditor, table: str) -> None:
    """PostgreSQL: drop the ``varchar_pattern_ops`` (``*_like``) copies Django adds beside the
    indexes of varchar keys. They serve ``LIKE 'prefix%'`` only, which nothing here does, and
    every index is one more write per row changed."""
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = %s AND indexname LIKE %s", [table, "%\\_like"]
        )
        names = [row[0] for row in cursor.fetchall()]
    for name in names:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


def fillfactor(table: str, percent: int) -> migrations.RunPython:
    """A reversible migration operation, PostgreSQL only: fill ``table``'s pages to ``percent``,
    so an update of unindexed columns finds room on its page (a HOT update, no index entry)."""

    def set_fillfactor(apps: object, schema_editor: BaseDatabaseSchemaEditor) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"ALTER TABLE {table} SET (fillfactor = {int(percent)})")

    def reset_fillfactor(apps: object, schema_editor: BaseDatabaseSchemaEditor) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"ALTER TABLE {table} RESET (fillfactor)")

    return migrations.RunPython(set_fillfactor, reset_fillfactor)
