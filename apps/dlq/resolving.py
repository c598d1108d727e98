"""Resolving DLQ entries: the one write that closes entries, whoever asks (a user, the API, or a
run whose failed rows finally went through).

Each resolve moves three things in one transaction, in the order every DLQ write takes (entries,
open marks, counters): the entries' resolution columns, their open marks, and the daily counters.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from django.db import connection, transaction

from apps.dlq.counters import CountDeltas, CountKey
from apps.dlq.models import DlqEntry
from apps.dlq.open_entries import unmark


def _day_sql(column: str) -> str:
    """SQL giving a datetime column's UTC day as 'YYYY-MM-DD' text (ORM datetimes are UTC)."""
    if connection.vendor == "postgresql":
        return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
    return f"substr({column}, 1, 10)"  # SQLite stores 'YYYY-MM-DD HH:MM:SS[.ffffff]' in UTC


@dataclass(frozen=True)
class ResolvedEntry:
    id: str
    sync_id: str
    keyed: bool  # it has a record key (so a replay can re-read its row)


def resolve_entries(
    *,
    where: str,
    params: list[object],
    resolved_at: dt.datetime,
    reason: str,
    note: str,
    by: str,
    replay_run_by_sync: dict[str, str] | None = None,
) -> list[ResolvedEntry]:
    """Mark the open entries matching ``where`` resolved, drop their open marks and move their
    counts; return them.

    One ``UPDATE … RETURNING`` tells exactly which entries changed (and their sync, code and
    day), so two concurrent resolves of the same entry cannot both count it. With
    ``replay_run_by_sync``, entries with a key of those syncs are pointed at their replay run in
    the same statement.
    """
    table = DlqEntry._meta.db_table
    replay_sql, replay_params = "", []
    if replay_run_by_sync:
        cases = " ".join(["WHEN %s THEN %s"] * len(replay_run_by_sync))
        replay_sql = (
            f", replay_run_id = CASE WHEN record_key IS NULL THEN NULL ELSE CASE sync_id {cases} END END"
        )
        replay_params = [value for pair in replay_run_by_sync.items() for value in pair]
    sql = (
        f"UPDATE {table} SET resolved = %s, resolved_at = %s, resolution_reason = %s, "
        f"resolution_note = %s, resolved_by = %s{replay_sql} WHERE resolved = %s AND ({where}) "
        f"RETURNING id, workspace_id, sync_id, error_code, {_day_sql('failed_at')}, "
        "record_key IS NOT NULL"
    )
    deltas = CountDeltas()
    stamp = connection.ops.adapt_datetimefield_value(resolved_at)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [True, stamp, reason, note, by, *replay_params, False, *params])
        changed = cursor.fetchall()
        unmark([row[0] for row in changed])
        grouped: dict[CountKey, int] = defaultdict(int)
        for _id, ws, sync_id, code, day, _keyed in changed:
            grouped[(ws, sync_id, code, dt.date.fromisoformat(day))] += 1
        for key, n in grouped.items():
            deltas.resolve(key, n)
        deltas.apply()
    return [ResolvedEntry(row[0], row[2], bool(row[5])) for row in changed]
