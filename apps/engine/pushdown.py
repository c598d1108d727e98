"""Diff on row hashes first, then read in full only the rows that changed.

When the warehouse can hash a row itself (``Source.row_hash_sql``, over every mapped column, the
key included) and select rows by a list of values (``Source.column_in_sql``), a run with an
accepted state reads one 64-bit hash per row, compares them with the accepted hashes, and reads
in full only the rows whose hash is new (added, changed, NULL key) or repeated (duplicates).
With 1% of a million rows changed that moves 8 bytes per row plus 1% of the rows, and the work
table's heavy columns are built for 10,000 rows, not 1,000,000.

Duplicates hide among the rows counted as unchanged in two ways: an accepted row now present
twice (its hash repeats), and a key present twice — its accepted copy and a new one (only the new
one's hash is new). The workbench tests for both cheaply after building the work table and, when
they exist, reads those rows too (``read_more``: a third, tiny read).

With a saved row order that still describes the state (``row_order``), most hashes are settled
by position as they stream in, and only the others are joined with the state.

Rows that change between the reads are read as they are at the later one (their new hash goes
with them); a row that vanishes in between is simply not read, as if the query had been run a
moment later. When most rows changed, two reads cost more than one: the caller reads everything.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from apps.connectors.base import Source
from apps.engine.query import ROW_HASH_ALIAS, ExtractQuery, hashes_only
from apps.engine.row_order import SavedOrder
from apps.engine.spec import RunSpec
from apps.engine.workbench import Workbench

# Past this share of changed rows (or this many hashes to pass as a parameter), one full read is
# cheaper than the narrow read plus a second, hash-filtered one.
MAX_CHANGED_SHARE = 0.2
MAX_CHANGED_ROWS = 250_000


def applies(spec: RunSpec, source: Source, extract: ExtractQuery, *, state_rows: int, forced: bool) -> bool:
    """Whether this run can diff on hashes first: a hashed extract, a key, a state to compare
    with, a diff strategy, and nothing that makes every row go out anyway."""
    key = spec.key_field
    return (
        extract.hashed
        and key is not None
        and spec.strategy == "diff"
        and not forced
        and state_rows > 0
        and source.column_in_sql(ROW_HASH_ALIAS, []) is not None
    )


def extract_changed_rows(
    *,
    spec: RunSpec,
    source: Source,
    workbench: Workbench,
    extract: ExtractQuery,
    state_table: str,
    batch_rows: int,
    saved_order: SavedOrder | None = None,
) -> bool:
    """Attach only the rows to look at in full as the workbench's source (the others are
    counted as unchanged); False if the caller should read every row after all (too many
    changed). ``saved_order``, when it describes the state as it is, lets most rows be settled
    by position (``row_order``)."""
    assert spec.key_field is not None  # duplicates are still told apart by key in build_work
    narrow = hashes_only(extract)
    hashes = source.stream(narrow.sql, params=narrow.params, batch_size=batch_rows * 4)
    state = workbench.state_fingerprint(state_table)
    saved, log = None, None
    if saved_order is not None:
        saved, log = saved_order.hashes_for(state), saved_order.new_log()
    split = workbench.split_by_hash(hashes, state_table, state, saved=saved, log=log)
    if len(split.look) > MAX_CHANGED_ROWS or len(split.look) > split.total * MAX_CHANGED_SHARE:
        return False
    columns = [f.column for f in spec.fields] + [ROW_HASH_ALIAS]
    if len(split.look):
        workbench.attach_source(_rows_by_hash(source, extract, split.look, batch_rows), columns)
        workbench.stage_source()
    else:  # nothing new: the work table is the unchanged rows alone (unless duplicates hide there)
        workbench.attach_source(iter(()), columns)
    workbench.read_more = lambda hashes: _rows_by_hash(source, extract, hashes, batch_rows)
    workbench.count_unchanged(split.unchanged)
    return True


def _rows_by_hash(
    source: Source, extract: ExtractQuery, hashes: pa.Array, batch_rows: int
) -> Iterator[pa.RecordBatch]:
    return source.stream_where_in(
        extract.sql, ROW_HASH_ALIAS, hashes, params=extract.params, batch_size=batch_rows
    )
