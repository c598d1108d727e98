"""The state store for workers that share no disk: accepted rows in the app database.

A run loads its sync's accepted rows (``SyncStateRow``) into its workbench for the diff, and each
acknowledged batch is upserted there in one transaction with the deletion of its intent
(``SyncBatchIntent``, written before the request), so a killed worker leaves exactly the batches
in doubt. This is the store of every deployment on PostgreSQL, so rows move in bulk, never as one
model instance per row: PostgreSQL's ``COPY`` streams the state out as CSV that Arrow parses in
C++, and a batch is one upsert whose keys and hashes travel as two array parameters. Other
databases (SQLite, in tests) take the portable path: fetched in chunks, one ``executemany``.
Hashes are stored as decimal text: a 64-bit unsigned hash fits no database's bigint.
"""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper
from psycopg import sql

from apps.core.sql import in_condition
from apps.engine.row_order import SavedOrder
from apps.engine.state import STATE_SCHEMA, STATE_TABLE, AttachedHashes, InDoubtBatch
from apps.syncs.models import SyncBatchIntent, SyncStateRow

_ROWS = SyncStateRow._meta.db_table
_INTENTS = SyncBatchIntent._meta.db_table
_CSV_CHUNK = 4 << 20  # bytes of CSV parsed at once
_FETCH = 50_000
_INSERT_ROWS = 100_000
_HASHES_PER_STRING = 262_144
_KEYS_PER_QUERY = 10_000  # within SQLite's 32,766 parameters
HASH_TABLE = "state_hashes"


class DatabaseStateStore:
    backend = "database"
    location = f"app database ({_ROWS})"

    def __init__(self, sync_id: str) -> None:
        self.sync_id = sync_id
        # The state's row count as this run knows it (loaded, then kept up to date by each
        # commit): counting a million rows again at the end costs PostgreSQL ~0.2 s.
        self._rows: int | None = None

    def attach(self, con: duckdb.DuckDBPyConnection) -> str:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {STATE_TABLE} (key VARCHAR, row_hash UBIGINT)")
        # Read on this thread (Django's connection is per thread), inserted ~100k rows at a time.
        pending: list[pa.RecordBatch] = []
        pending_rows = 0
        for batch in self._copied() if connection.vendor == "postgresql" else self._fetched():
            pending.append(batch)
            pending_rows += batch.num_rows
            if pending_rows >= _INSERT_ROWS:
                _insert(con, STATE_TABLE, pa.Table.from_batches(pending, schema=STATE_SCHEMA))
                pending, pending_rows = [], 0
        _insert(con, STATE_TABLE, pa.Table.from_batches(pending, schema=STATE_SCHEMA))
        self._rows = con.execute(f"SELECT count(*) FROM {STATE_TABLE}").fetchall()[0][0]
        return STATE_TABLE

    def attach_hashes(self, con: duckdb.DuckDBPyConnection) -> AttachedHashes:
        """Every accepted hash, and an empty state table to be filled by ``load_keys``: a run
        that changed 1% of a million rows needs the keys of 10,000, and hashes move as a few
        server-built strings instead of a million messages."""
        con.execute(f"CREATE OR REPLACE TEMP TABLE {STATE_TABLE} (key VARCHAR, row_hash UBIGINT)")
        con.execute(f"CREATE OR REPLACE TEMP TABLE {HASH_TABLE} (row_hash UBIGINT)")
        for hashes in self._hash_chunks():
            _insert(con, HASH_TABLE, pa.table({"row_hash": hashes}))
        self._rows = con.execute(f"SELECT count(*) FROM {HASH_TABLE}").fetchall()[0][0]
        return AttachedHashes(hashes=HASH_TABLE, rows=STATE_TABLE, keys_on_demand=True)

    def _hash_chunks(self) -> Iterator[pa.Array]:
        if connection.vendor != "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT row_hash FROM {_ROWS} WHERE sync_id = %s", [self.sync_id])
                while rows := cursor.fetchmany(_FETCH):
                    yield pc.cast(pa.array([h for (h,) in rows], pa.string()), pa.uint64())
            return
        # One comma-separated string per ~262k rows (grouped by id range), one group at a time
        # in client memory (a server-side cursor).
        with connection.chunked_cursor() as cursor:
            cursor.execute(
                f"SELECT string_agg(row_hash, ',') FROM {_ROWS} WHERE sync_id = %s GROUP BY id / %s",
                [self.sync_id, _HASHES_PER_STRING],
            )
            while (row := cursor.fetchone()) is not None:
                yield pc.cast(pc.split_pattern(pa.array([row[0]]), ",").flatten(), pa.uint64())

    def load_keys(self, con: duckdb.DuckDBPyConnection, keys: pa.Array) -> None:
        con.register("_wanted_keys", pa.table({"key": keys.cast(pa.string())}))
        try:
            missing = con.execute(
                f"SELECT DISTINCT key FROM _wanted_keys WHERE key IS NOT NULL "
                f"AND key NOT IN (SELECT key FROM {STATE_TABLE})"
            ).fetchall()
        finally:
            con.unregister("_wanted_keys")
        wanted = [k for (k,) in missing]
        batches = []
        with connection.cursor() as cursor:
            for start in range(0, len(wanted), _KEYS_PER_QUERY):
                condition, params = in_condition("key", wanted[start : start + _KEYS_PER_QUERY])
                cursor.execute(
                    f"SELECT key, row_hash FROM {_ROWS} WHERE sync_id = %s AND {condition}",
                    [self.sync_id, *params],
                )
                if rows := cursor.fetchall():
                    batches.append(_state_batch(rows))
        _insert(con, STATE_TABLE, pa.Table.from_batches(batches, schema=STATE_SCHEMA))

    def _copied(self) -> Iterator[pa.RecordBatch]:
        """The sync's rows through ``COPY ... TO STDOUT`` as CSV, parsed by Arrow a few MB at a
        time (keys with commas, quotes or newlines are quoted by PostgreSQL)."""
        statement = sql.SQL("COPY (SELECT key, row_hash FROM {} WHERE sync_id = {}) TO STDOUT (FORMAT csv)")
        statement = statement.format(sql.Identifier(_ROWS), sql.Literal(self.sync_id))
        with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
            # COPY sends one message per row, so a chunk of whole messages is a CSV of its own.
            chunk: list[bytes] = []
            size = 0
            for row in copy:
                chunk.append(bytes(row))
                size += len(row)
                if size >= _CSV_CHUNK:
                    yield from _parsed(chunk)
                    chunk, size = [], 0
            yield from _parsed(chunk)

    def _fetched(self) -> Iterator[pa.RecordBatch]:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT key, row_hash FROM {_ROWS} WHERE sync_id = %s", [self.sync_id])
            while rows := cursor.fetchmany(_FETCH):
                yield _state_batch(rows)

    def commit(
        self, con: duckdb.DuckDBPyConnection, upserts: pa.Table, deletes: list[str], batch_key: str
    ) -> None:
        keys = upserts.column("key").to_pylist()
        hashes = pc.cast(upserts.column("row_hash"), pa.string()).to_pylist()
        inserted: int | None = 0
        removed = 0
        # Settled in the same transaction as its outcome: both or neither.
        with transaction.atomic(), connection.cursor() as cursor:
            if keys:
                inserted = self._upsert(cursor, keys, hashes)
            if deletes:
                removed = self._delete(cursor, deletes)
            cursor.execute(
                f"DELETE FROM {_INTENTS} WHERE sync_id = %s AND batch_key = %s", [self.sync_id, batch_key]
            )
        if self._rows is not None and inserted is not None:
            self._rows += inserted - removed
        else:  # not told apart: counted when asked
            self._rows = None

    def _upsert(self, cursor: CursorWrapper, keys: list[str], hashes: list[str]) -> int | None:
        """Insert or update the rows; how many keys are new, where the database says."""
        conflict = "ON CONFLICT (sync_id, key) DO UPDATE SET row_hash = excluded.row_hash"
        if connection.vendor == "postgresql":
            # ``xmax = 0``: the row is new (inserted), not an update of an existing key.
            cursor.execute(
                f"INSERT INTO {_ROWS} (sync_id, key, row_hash) "
                f"SELECT %s, k, h FROM unnest(%s::text[], %s::text[]) AS t(k, h) {conflict} "
                "RETURNING (xmax = 0)",
                [self.sync_id, keys, hashes],
            )
            return sum(1 for (inserted,) in cursor.fetchall() if inserted)
        cursor.executemany(
            f"INSERT INTO {_ROWS} (sync_id, key, row_hash) VALUES (%s, %s, %s) {conflict}",
            [(self.sync_id, k, h) for k, h in zip(keys, hashes, strict=True)],
        )
        return None

    def _delete(self, cursor: CursorWrapper, keys: list[str]) -> int:
        # A batch's keys: at most a destination's batch size, well within SQLite's parameter limit.
        condition, params = in_condition("key", keys)
        cursor.execute(f"DELETE FROM {_ROWS} WHERE sync_id = %s AND {condition}", [self.sync_id, *params])
        return cursor.rowcount

    def finish(self, con: duckdb.DuckDBPyConnection, *, located: str | None = None) -> None:
        return None  # every batch was upserted in place

    def intend(self, batch_key: str, mode: str, keys: pa.Array, hashes: pa.Array) -> None:
        # One statement (an upsert), not a read and a write: a resent in-doubt batch keeps its key.
        intent = SyncBatchIntent(
            sync_id=self.sync_id,
            batch_key=batch_key,
            mode=mode,
            keys=keys.to_pylist(),
            # Hashes as decimal text: JSON numbers past 2**53 lose digits in many parsers.
            hashes=pc.cast(hashes, pa.string()).to_pylist(),
        )
        SyncBatchIntent.objects.bulk_create(
            [intent],
            update_conflicts=True,
            unique_fields=["sync", "batch_key"],
            update_fields=["mode", "keys", "hashes"],
        )

    def settle(self, batch_key: str) -> None:
        SyncBatchIntent.objects.filter(sync_id=self.sync_id, batch_key=batch_key).delete()

    def in_doubt(self) -> list[InDoubtBatch]:
        return [
            InDoubtBatch(
                i.batch_key,
                i.mode,
                list(i.keys),
                [None if h is None else int(h) for h in i.hashes],
            )
            for i in SyncBatchIntent.objects.filter(sync_id=self.sync_id).order_by("id")
        ]

    def reset(self) -> None:
        SyncBatchIntent.objects.filter(sync_id=self.sync_id).delete()
        SyncStateRow.objects.filter(sync_id=self.sync_id).delete()
        self._rows = 0

    def count(self, con: duckdb.DuckDBPyConnection) -> int:
        if self._rows is None:
            self._rows = SyncStateRow.objects.filter(sync_id=self.sync_id).count()
        return self._rows

    def saved_order(self) -> SavedOrder | None:
        return None  # the state is loaded into each run's workbench; no row order is kept


def _parsed(chunk: list[bytes]) -> Iterator[pa.RecordBatch]:
    if not chunk:
        return
    table = pa_csv.read_csv(
        pa.py_buffer(b"".join(chunk)),
        read_options=pa_csv.ReadOptions(column_names=["key", "row_hash"]),
        parse_options=pa_csv.ParseOptions(newlines_in_values=True),
        # An empty key is the empty string: a state key is never NULL.
        convert_options=pa_csv.ConvertOptions(
            column_types={"key": pa.string(), "row_hash": pa.uint64()}, strings_can_be_null=False
        ),
    )
    yield from table.to_batches()


def _state_batch(rows: list[tuple[str, str]]) -> pa.RecordBatch:
    """(key, hash as decimal text) rows as a batch of the state's schema."""
    keys, hashes = zip(*rows, strict=True)
    return pa.record_batch(
        [pa.array(keys, pa.string()), pc.cast(pa.array(hashes, pa.string()), pa.uint64())],
        schema=STATE_SCHEMA,
    )


def _insert(con: duckdb.DuckDBPyConnection, table: str, rows: pa.Table) -> None:
    if rows.num_rows:
        con.register("_loaded", rows)
        try:
            con.execute(f"INSERT INTO {table} SELECT * FROM _loaded")
        finally:
            con.unregister("_loaded")
