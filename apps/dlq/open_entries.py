"""Which DLQ entries are open: one ``DlqOpenEntry`` row each, kept in step with the entries.

Every DLQ write goes through here in the same transaction as the entries, after them and before
the counters (one lock order for runs and resolves): a new entry is marked open, a refreshed one
moves to its new error code and failure time, a resolved one is unmarked. ``open_entries_rebuild``
recomputes the marks from ``DlqEntry.resolved`` (migrations, bulk loads, repair).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection, transaction

from apps.core.sql import in_condition
from apps.dlq.models import DlqEntry, DlqOpenEntry

_BATCH = 2000  # rows per bulk statement


def _mark(entry: DlqEntry) -> DlqOpenEntry:
    return DlqOpenEntry(
        entry_id=entry.pk,
        workspace_id=entry.workspace_id,
        sync_id=entry.sync_id,
        error_code=entry.error_code,
        failed_at=entry.failed_at,
    )


def mark_open(entries: Iterable[DlqEntry]) -> None:
    """New open entries."""
    DlqOpenEntry.objects.bulk_create([_mark(e) for e in entries], batch_size=_BATCH)


def refresh_open(entries: Iterable[DlqEntry]) -> None:
    """Open entries that failed again: their error code and failure time changed."""
    DlqOpenEntry.objects.bulk_update(
        [_mark(e) for e in entries], ["error_code", "failed_at"], batch_size=_BATCH
    )


def unmark(entry_ids: list[str]) -> None:
    """Entries just resolved. In PostgreSQL a delete only stamps the row: no index is written."""
    if not entry_ids:
        return
    where, params = in_condition("entry_id", entry_ids)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {DlqOpenEntry._meta.db_table} WHERE {where}", params)


def open_entries_rebuild(
    *,
    workspace_id: str | None = None,
    entry_model: type[DlqEntry] = DlqEntry,
    open_model: type[DlqOpenEntry] = DlqOpenEntry,
) -> int:
    """Recompute the marks from the entries (of one workspace, or all); return how many are open.

    Migrations pass their historical models as ``entry_model`` and ``open_model``.
    """
    entries, marks = entry_model._meta.db_table, open_model._meta.db_table
    scope, params = ("AND workspace_id = %s", [workspace_id]) if workspace_id is not None else ("", [])
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {marks} WHERE true {scope}", params)
        cursor.execute(
            f"INSERT INTO {marks} (entry_id, workspace_id, sync_id, error_code, failed_at) "
            f"SELECT id, workspace_id, sync_id, error_code, failed_at FROM {entries} "
            f"WHERE resolved = %s {scope}",
            [False, *params],
        )
        return cursor.rowcount
