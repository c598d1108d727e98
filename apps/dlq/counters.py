"""Daily DLQ counters: how many entries failed on each UTC day, per sync and error code, and how
many of those are still open.

Workspace-wide stats over a million entries cannot be counted from the entries within the API's
latency budget, so every DLQ write also moves these counters, in the same transaction: a new
entry adds one open, a refreshed entry moves from its old (code, day) to its new one, a resolved
entry moves from open to resolved. ``dlq_stats`` then sums a few thousand counter rows and counts
entries only for the partial first day of a ``since`` window.

Deltas are applied as ``n = n + delta`` — an ``UPDATE … FROM unnest(…)`` for the counters that
exist (PostgreSQL), then ``INSERT … ON CONFLICT DO UPDATE`` for the rest — so concurrent writers
add up instead of overwriting each other (SQLite takes the upsert for all). ``counts_rebuild``
recomputes them from the entries (migrations, bulk loads, repair).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper
from django.db.models import Count, Q
from django.db.models.functions import TruncDate

from apps.dlq.models import DlqDailyCount, DlqEntry

CountKey = tuple[str, str, str, dt.date]  # workspace, sync, error code, UTC day
_ROWS_PER_STATEMENT = 1000  # 6,000 parameters: within SQLite's limit of 32,766


def utc_day(moment: dt.datetime) -> dt.date:
    return moment.astimezone(dt.UTC).date()


@dataclass
class CountDeltas:
    """Signed changes to the counters, collected during one write and applied at its end."""

    opened: dict[CountKey, int] = field(default_factory=lambda: defaultdict(int))
    resolved: dict[CountKey, int] = field(default_factory=lambda: defaultdict(int))

    def open(self, key: CountKey, n: int = 1) -> None:
        self.opened[key] += n

    def resolve(self, key: CountKey, n: int = 1) -> None:
        """``n`` open entries of ``key`` became resolved."""
        self.opened[key] -= n
        self.resolved[key] += n

    def apply(self) -> None:
        rows = [
            (*key, self.opened.get(key, 0), self.resolved.get(key, 0))
            for key in set(self.opened) | set(self.resolved)
        ]
        rows = sorted(r for r in rows if r[4] or r[5])
        if not rows:
            return
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                rows = _update_existing(cursor, rows)
            _upsert(cursor, rows)


_TABLE = DlqDailyCount._meta.db_table


def _update_existing(cursor: CursorWrapper, rows: list[tuple]) -> list[tuple]:
    """Move the counters that exist (nearly all, when entries are resolved) with one
    ``UPDATE … FROM unnest(…)``; return the rows still to insert.

    A third of the time of the upsert, which probes and locks row by row. Hash and merge joins
    are switched off for this statement so the join is a nested loop driven by the sorted
    arrays: counters are locked in key order, as the upsert does, and two writers of the same
    sync's counters cannot deadlock.
    """
    cursor.execute("SELECT current_setting('enable_hashjoin'), current_setting('enable_mergejoin')")
    hashjoin, mergejoin = cursor.fetchone()
    cursor.execute(
        "SELECT set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true)"
    )
    columns = [list(column) for column in zip(*rows, strict=True)]
    cursor.execute(
        f"UPDATE {_TABLE} c SET open_count = c.open_count + v.o, resolved_count = c.resolved_count + v.r "
        "FROM unnest(%s::text[], %s::text[], %s::text[], %s::date[], %s::int[], %s::int[]) "
        "AS v(w, s, e, d, o, r) "
        "WHERE c.workspace_id = v.w AND c.sync_id = v.s AND c.error_code = v.e AND c.day = v.d "
        "RETURNING c.workspace_id, c.sync_id, c.error_code, c.day",
        columns,
    )
    updated = set(cursor.fetchall())
    cursor.execute(
        "SELECT set_config('enable_hashjoin', %s, true), set_config('enable_mergejoin', %s, true)",
        [hashjoin, mergejoin],
    )
    return [row for row in rows if tuple(row[:4]) not in updated]


def _upsert(cursor: CursorWrapper, rows: list[tuple]) -> None:
    """Add to the counters, creating the missing ones; concurrent writers add up."""
    adapt = connection.ops.adapt_datefield_value
    # Multi-row statements, not executemany: a 10,000-entry resolve moves thousands of
    # counters, and a round trip per counter cost more than the rest of the upsert.
    for start in range(0, len(rows), _ROWS_PER_STATEMENT):
        chunk = rows[start : start + _ROWS_PER_STATEMENT]
        values = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(chunk))
        cursor.execute(
            f"INSERT INTO {_TABLE} (workspace_id, sync_id, error_code, day, open_count, "
            f"resolved_count) VALUES {values} "
            "ON CONFLICT (workspace_id, sync_id, error_code, day) DO UPDATE SET "
            f"open_count = {_TABLE}.open_count + excluded.open_count, "
            f"resolved_count = {_TABLE}.resolved_count + excluded.resolved_count",
            [value for w, s, c, d, o, r in chunk for value in (w, s, c, adapt(d), o, r)],
        )


def counts_rebuild(
    *,
    workspace_id: str | None = None,
    entry_model: type[DlqEntry] = DlqEntry,
    count_model: type[DlqDailyCount] = DlqDailyCount,
) -> int:
    """Recompute the counters from the entries (of one workspace, or all); return rows written.

    Migrations pass their historical models as ``entry_model`` and ``count_model``.
    """
    entries = entry_model.objects.all()
    counters = count_model.objects.all()
    if workspace_id is not None:
        entries = entries.filter(workspace_id=workspace_id)
        counters = counters.filter(workspace_id=workspace_id)
    grouped = (
        entries.annotate(day=TruncDate("failed_at", tzinfo=dt.UTC))
        .values("workspace_id", "sync_id", "error_code", "day")
        .annotate(
            open_count=Count("id", filter=Q(resolved=False)),
            resolved_count=Count("id", filter=Q(resolved=True)),
        )
        .order_by()
    )
    with transaction.atomic():
        counters.delete()
        rows = [count_model(**g) for g in grouped.iterator(chunk_size=5000)]
        count_model.objects.bulk_create(rows, batch_size=2000)
    return len(rows)
