"""The run's workbench: a local DuckDB where rows are staged, coerced, validated and diffed.

One SQL statement reads the source's Arrow stream and builds ``work`` with, per row, the source
columns, its key, the hash of its coerced values, the first validation failure and the action
(invalid / added / changed / unchanged) against the accepted state. The loader streams
the rows to send out of ``work`` in batches. DuckDB spills to disk past its memory limit, so
memory stays flat however many rows a query returns.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from django.conf import settings

from apps.connectors import json_rows
from apps.connectors.base import ErrorCode
from apps.engine.coercion import REASON_SEPARATOR, coerce_field, quote_ident, quote_literal, reason_sql
from apps.engine.query import ROW_HASH_ALIAS, WATERMARK_ALIAS
from apps.engine.row_order import HashLog, PositionMatch, StateFingerprint
from apps.engine.spec import MappedField

SEND_ACTIONS = ("added", "changed")
FETCH_ROWS = 16_384
FLUSH_ROWS = 131_072  # moved rows gathered before one INSERT
_U64 = 2**64
_MOVED_SCHEMA = pa.schema([("pos", pa.uint64()), ("h", pa.uint64())])


@dataclass(frozen=True)
class HashSplit:
    """What a hash pass found (``Workbench.split_by_hash``)."""

    look: pa.Array  # row hashes, in the source's own type, whose rows must be read in full
    total: int  # rows seen
    unchanged: int  # rows whose hash is an accepted one: to be only counted
    unchanged_hash_sum: int  # the sum of their hashes, modulo 2**64
    state_rows: int  # accepted rows, and the sum of their hashes (``_unread_duplicates``)
    state_hash_sum: int


@dataclass
class DiffCounts:
    read: int = 0
    invalid: int = 0
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0


_spare: tuple[int, duckdb.DuckDBPyConnection] | None = None  # (pid, database), ``make_spare``
_spare_lock = threading.Lock()
_inherited: list[duckdb.DuckDBPyConnection] = []  # a parent's spare: never used, never closed


def _new_database() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    return con


def make_spare() -> None:
    """Create the next workbench's database now, off the path of the run that will use it.

    A new DuckDB instance costs 20-40 ms (its catalog, its built-in extensions): a tenth of a
    small run. A finished run's closing thread (``closing``) makes one for the next run of this
    process; a run takes it or, the first time, makes its own. Its settings are set by each run
    (``Workbench``): one database, one run. Kept with the process id: a forked child never uses
    a database whose threads stayed in the parent.
    """
    global _spare
    with _spare_lock:
        if _spare is not None and _spare[0] == os.getpid():
            return
    made: duckdb.DuckDBPyConnection | None = _new_database()
    with _spare_lock:
        if _spare is None or _spare[0] != os.getpid():
            _forget_inherited(_spare)
            _spare, made = (os.getpid(), made), None
    if made is not None:  # another thread made one meanwhile
        made.close()


def _take_database() -> duckdb.DuckDBPyConnection:
    global _spare
    with _spare_lock:
        spare, _spare = _spare, None
    if spare is not None and spare[0] == os.getpid():
        return spare[1]
    _forget_inherited(spare)
    return _new_database()


def _forget_inherited(spare: tuple[int, duckdb.DuckDBPyConnection] | None) -> None:
    """Closing (or collecting) a database made before a fork would wait on threads that exist
    only in the parent: keep it referenced instead."""
    if spare is not None:
        _inherited.append(spare[1])


class Workbench:
    def __init__(self, directory: Path, *, memory_limit: str | None = None, threads: int = 2) -> None:
        memory_limit = memory_limit or settings.SYNCLINE_ENGINE_MEMORY_LIMIT
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        # In memory, spilling to ``directory`` past the memory limit: as fast as memory while it
        # fits, flat in memory when it does not.
        self.con = _take_database()
        self.con.execute(f"SET memory_limit = '{memory_limit}'")
        self.con.execute(f"SET threads = {int(threads)}")
        self.con.execute(f"SET temp_directory = '{directory / 'spill'}'")
        self.con.execute("SET preserve_insertion_order = false")
        self.has_excluded = False
        # Set by the hash pass: reads rows by their hashes, for duplicates found in build_work.
        self.read_more: Callable[[pa.Array], Iterable[pa.RecordBatch]] | None = None
        # Set when the state table holds only the keys asked for (``StateStore.load_keys``):
        # build_work asks for the keys of the rows it is about to diff.
        self.load_state_keys: Callable[[pa.Array], None] | None = None
        self._split: HashSplit | None = None
        self._positional_misses: int | None = None  # distinct hashes the saved order did not settle
        self.hash_log: HashLog | None = None  # every hash of the hash pass, in order
        self._signed_hashes = False
        self._moved_table = False  # ``_moved`` is a DuckDB table (many rows), not Arrow batches
        self._staged = False
        self._work_built = False
        # Set by count_unchanged: rows counted as unchanged without entering ``work``.
        self.unchanged_count = 0
        self.payload_sql = "NULL"
        self._types: dict[str, str] = {}

    def close(self) -> None:
        if self.hash_log is not None:
            self.hash_log.close()
        self.con.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    # --- extract ---------------------------------------------------------------------------
    def attach_source(
        self, batches: Iterable[pa.RecordBatch], columns: list[str], *, name: str = "_src"
    ) -> None:
        """Expose the source stream as ``name`` (``_src``), to be read once by ``build_work``.

        Nothing is copied: DuckDB pulls the batches while it builds the work table. Time spent
        waiting on the warehouse is measured separately (``extract_seconds``).
        """
        iterator = iter(batches)
        first = self._timed_next(iterator)
        if first is None:  # an empty result still needs its columns
            schema = pa.schema([(c, pa.string()) for c in columns])
            self.con.register(name, pa.Table.from_batches([], schema))
        else:
            reader = pa.RecordBatchReader.from_batches(first.schema, self._timed(first, iterator))
            self.con.register(name, reader)
            schema = first.schema
        self.con.register("_peek", pa.Table.from_batches([], schema))
        self._types = {name: str(t) for name, t, *_ in self.con.execute("DESCRIBE _peek").fetchall()}
        self.con.unregister("_peek")

    extract_seconds = 0.0

    def _timed_next(self, iterator: Iterator[pa.RecordBatch]) -> pa.RecordBatch | None:
        started = time.perf_counter()
        try:
            return next(iterator, None)
        finally:
            self.extract_seconds += time.perf_counter() - started

    def _timed(self, first: pa.RecordBatch, iterator: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        yield first
        while (batch := self._timed_next(iterator)) is not None:
            yield batch

    def column_types(self) -> dict[str, str]:
        return dict(self._types)

    # --- diff ----------------------------------------------------------------------------------
    def build_work(
        self,
        *,
        fields: list[MappedField],
        mode: str,
        state_table: str | None,
        force_send: bool,
        replay_keys: list[str] | None = None,
    ) -> None:
        """Read the source once into ``work``: key, row hash, first validation failure, action.

        The hash is the warehouse's (``__h``) when the source computes one, else it covers the
        coerced values (what would be sent), computed with DuckDB's vectorised ``hash``;
        payloads are rendered as JSON only for the rows that go out. After ``split_by_hash``
        the source holds only the rows that pass found worth a look; the others are counted as
        unchanged without entering ``work``.
        """
        types = self.column_types()
        coerced = [(f, coerce_field(f, types.get(f.column, "VARCHAR"), mode)) for f in fields]
        self.payload_sql = (
            "CAST(to_json(struct_pack("
            + ", ".join(f"{quote_ident(f.spec.name)} := {c.output}" for f, c in coerced)
            + ")) AS VARCHAR)"
        )
        if ROW_HASH_ALIAS in types:
            hash_sql = _unsigned_hash(types)
        else:
            hash_sql = "hash(" + ", ".join(c.value for _, c in coerced) + ")"
        key_field = next((f for f in fields if f.mapping.key), None)
        if key_field is not None:
            key_value = next(c.value for f, c in coerced if f.column == key_field.column)
            key_sql = f"CAST({key_value} AS VARCHAR)"
        else:  # keyless insert streams (events): a row is identified by its content
            key_sql = f"CAST({hash_sql} AS VARCHAR)"
        key_name = key_field.spec.name if key_field else "(row)"
        prefix = quote_literal(REASON_SEPARATOR.join((ErrorCode.VALIDATION_FAILED, key_name, "")))
        state_join = f"LEFT JOIN {state_table} st ON st.key = {key_sql}" if state_table else ""
        state_hash = "st.row_hash" if state_table else "CAST(NULL AS UBIGINT)"
        state_rowid = "st.rowid" if state_table else "CAST(NULL AS BIGINT)"
        in_state = "st.key IS NOT NULL" if state_table else "false"
        force = str(force_send).lower()
        replay_filter = ""
        if replay_keys is not None:
            self.con.register("_replay_keys", pa.table({"key": pa.array(replay_keys, pa.string())}))
            replay_filter = "WHERE key IN (SELECT key FROM _replay_keys)"
        source_columns = [c for c in types if c not in (WATERMARK_ALIAS, ROW_HASH_ALIAS)]
        source_row = (
            "struct_pack(" + ", ".join(f"{quote_ident(c)} := {quote_ident(c)}" for c in source_columns) + ")"
        )
        watermark = f", {quote_ident(WATERMARK_ALIAS)}" if WATERMARK_ALIAS in types else ""
        # One pass over the source stream: key and hash, joined to the accepted state. A row whose
        # hash equals the accepted one is unchanged: it is not validated again (DuckDB evaluates
        # the CASE branch only for the rows that reach it) and its source columns are not kept.
        work_sql = f"""
            CREATE OR REPLACE TABLE work AS
            WITH joined AS (
                SELECT s.*, {key_sql} AS key, {hash_sql} AS row_hash,
                       {state_hash} AS accepted_hash, {state_rowid} AS state_rowid, {in_state} AS in_state
                FROM _src s {state_join}
            ), checked AS (
                SELECT *,
                       CASE WHEN key IS NULL THEN {prefix} || 'the key field is empty'
                            WHEN NOT {force} AND in_state AND accepted_hash = row_hash THEN NULL
                            ELSE {reason_sql(coerced)} END AS reason
                FROM joined
            )
            SELECT key, row_hash, accepted_hash, state_rowid, reason,
                   CASE
                       WHEN reason IS NOT NULL THEN 'invalid'
                       WHEN NOT in_state THEN 'added'
                       WHEN {force} OR accepted_hash <> row_hash THEN 'changed'
                       ELSE 'unchanged'
                   END AS action,
                   CASE WHEN reason IS NOT NULL OR NOT in_state OR {force} OR accepted_hash <> row_hash
                        THEN {source_row} END AS source_row
                   {watermark}
            FROM checked
            {replay_filter}
        """
        self._load_state_keys(key_sql)
        self.con.execute(work_sql)
        self._work_built = True
        if self.read_more is not None and (more := self._unread_duplicates())[1]:
            # Rare: duplicates among the rows counted as unchanged (see ``_unread_duplicates``).
            hashes, rows = more
            self.attach_source(self.read_more(hashes), list(types), name="_more")
            self.stage_source(name="_more")
            self.unchanged_count -= rows
            self._load_state_keys(key_sql)
            self.con.execute(work_sql)
        # Keys that appear more than once: none of their rows is sent (which one would be right?).
        # (A duplicate whose copy was unchanged has no source columns left: its DLQ entry says
        # why, with an empty payload.)
        self.con.execute(f"""
            UPDATE work SET action = 'invalid',
                   reason = {prefix} || 'duplicate key ' || work.key || ' appears ' || d.n
                            || ' times in the query result; none of its rows was sent'
            FROM (
                SELECT key, count(*) AS n FROM work WHERE key IS NOT NULL GROUP BY key HAVING count(*) > 1
            ) d
            WHERE work.key = d.key
        """)
        # Rows with their source columns back as columns, for payloads, previews and the DLQ.
        self.con.execute(
            "CREATE OR REPLACE VIEW work_rows AS SELECT * EXCLUDE (source_row), unnest(source_row) FROM work"
        )
        self.con.unregister("_src")
        self.con.execute("DROP VIEW IF EXISTS _src")  # when it was ``staged``

    def _load_state_keys(self, key_sql: str) -> None:
        """The state rows of the source's keys, when the state holds only keys asked for. The
        source is staged then (the hash pass): reading it here does not use it up."""
        if self.load_state_keys is not None:
            keys = self.con.sql(f"SELECT DISTINCT {key_sql} AS key FROM _src").to_arrow_table().column("key")
            self.load_state_keys(keys.combine_chunks())

    def state_fingerprint(self, state_table: str) -> StateFingerprint:
        rows, hash_sum = self.con.execute(
            f"SELECT count(*), coalesce(sum(row_hash), 0) FROM {state_table}"
        ).fetchall()[0]
        return StateFingerprint(rows, int(hash_sum))

    def state_rowids(self) -> str | None:
        """A view of (key, rid): the state table's rowid of each work key already in the state
        (``StateStore.finish``); None before there is a work table."""
        if not self._work_built:
            return None
        self.con.execute(
            "CREATE OR REPLACE TEMP VIEW state_rowids AS "
            "SELECT DISTINCT key, state_rowid AS rid FROM work WHERE state_rowid IS NOT NULL"
        )
        return "state_rowids"

    def split_by_hash(
        self,
        hashes: Iterable[pa.RecordBatch],
        state_table: str,
        state: StateFingerprint,
        *,
        saved: pa.Array | None = None,
        log: HashLog | None = None,
    ) -> HashSplit:
        """Diff a stream of row hashes (one ``__h`` column) against the accepted state.

        The warehouse's hash covers every mapped column, the key included, so a row whose hash is
        an accepted one is that very row, unchanged: it is settled without a key string crossing
        over. Rows whose hash is not accepted (new, changed, or with a NULL key) must be read in
        full; the rest are only counted once the caller settles (``count_unchanged``), unless
        ``build_work`` finds duplicates among them (``_unread_duplicates``).

        With ``saved`` (the accepted hashes in last run's order, ``row_order``), a row whose hash
        is the one saved at its position is settled by that alone, in Arrow as the stream goes
        by; only the others (``_moved``: position, hash) are joined with the state, a join that
        builds on them. Without it every row goes through that join. Every hash is logged in
        order (``hash_log``: ``log``, else a file of the workbench), to become the next run's
        saved order.
        """
        self.hash_log = log or HashLog(self.directory / "hashes.order")
        match = PositionMatch(saved) if saved is not None else None
        settled_rows, settled_sum = self._log_and_settle(hashes, match)
        if match is not None:
            (self._positional_misses,) = self.con.execute("SELECT count(DISTINCT h) FROM _moved").fetchone()
        accepted_rows, accepted_sum = self._flag_moved(state_table, few=match is not None)
        self._split = HashSplit(
            look=self._as_source_hashes("SELECT h FROM _look"),
            total=self.hash_log.rows,
            unchanged=settled_rows + accepted_rows,
            unchanged_hash_sum=(settled_sum + int(accepted_sum)) % _U64,
            state_rows=state.rows,
            state_hash_sum=state.hash_sum,
        )
        return self._split

    def _log_and_settle(
        self, hashes: Iterable[pa.RecordBatch], match: PositionMatch | None
    ) -> tuple[int, int]:
        """Log every hash; count the rows ``match`` settles and sum their hashes (modulo 2**64, as
        Arrow sums uint64); put the others in ``_moved`` (position, hash): a DuckDB table filled
        ~128k rows at a time when there are many, the Arrow batches themselves when few."""
        assert self.hash_log is not None
        pending: list[pa.RecordBatch] = []
        pending_rows = settled_rows = settled_sum = 0
        self._moved_table = False
        iterator = iter(hashes)
        while (batch := self._timed_next(iterator)) is not None:
            raw = batch.column(0)
            if raw.type != pa.uint64():
                # A signed warehouse hash (PostgreSQL's int8) is kept as its 64 bits.
                self._signed_hashes = True
                raw = pc.cast(raw, pa.uint64(), safe=False)
            start = self.hash_log.rows
            self.hash_log.append(raw)
            if match is None:
                moved, rows = pc.is_valid(raw), raw  # every row
            else:
                moved = pc.invert(match.settled(raw))
                rows = raw.filter(moved)
                # The settled rows are all the others: no second filter to count and sum them.
                settled_rows += len(raw) - len(rows)
                settled_sum += (pc.sum(raw).as_py() or 0) - (pc.sum(rows).as_py() or 0)
            if len(rows):
                positions = pc.add(pc.indices_nonzero(moved), pa.scalar(start, pa.uint64()))
                pending.append(pa.record_batch([positions, rows], names=["pos", "h"]))
                pending_rows += len(rows)
                if pending_rows >= FLUSH_ROWS:
                    self._insert_moved(pending)
                    pending, pending_rows = [], 0
        if self._moved_table:
            self._insert_moved(pending)
        else:
            self.con.register("_moved", pa.Table.from_batches(pending, _MOVED_SCHEMA))
        return settled_rows, settled_sum % _U64

    def _insert_moved(self, batches: list[pa.RecordBatch]) -> None:
        if not self._moved_table:
            self.con.execute("CREATE OR REPLACE TEMP TABLE _moved (pos UBIGINT, h UBIGINT)")
            self._moved_table = True
        if batches:
            self.con.register("_pending_moved", pa.Table.from_batches(batches))
            self.con.execute("INSERT INTO _moved SELECT pos, h FROM _pending_moved")
            self.con.unregister("_pending_moved")

    def _flag_moved(self, state_table: str, *, few: bool) -> tuple[int, int]:
        """Mark each row of ``_moved`` accepted or not (``_moved_flags``), the hashes of those
        that are not in ``_look``; return how many are accepted and the sum of their hashes."""
        if few:
            # The rows a saved order did not settle: an inner join, which DuckDB builds on the
            # smaller side (them), finds their accepted hashes.
            flags = f"""
                SELECT m.pos, m.h, a.h IS NOT NULL AS accepted FROM _moved m LEFT JOIN (
                    SELECT DISTINCT d.h FROM (SELECT DISTINCT h FROM _moved) d
                    JOIN {state_table} st ON st.row_hash = d.h
                ) a ON a.h = m.h
            """
        else:  # every row: one mark join, building on the state's hashes
            flags = f"SELECT pos, h, h IN (SELECT row_hash FROM {state_table}) AS accepted FROM _moved"
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE _moved_flags AS {flags}")
        self.con.execute(
            "CREATE OR REPLACE TEMP TABLE _look AS SELECT DISTINCT h FROM _moved_flags WHERE NOT accepted"
        )
        rows, hash_sum = self.con.execute(
            "SELECT count(*) FILTER (WHERE accepted), coalesce(sum(h) FILTER (WHERE accepted), 0) "
            "FROM _moved_flags"
        ).fetchall()[0]
        return rows, int(hash_sum)

    def order_to_save(self, *, state_changed: bool) -> HashLog | None:
        """The hash pass's log, with the rows whose hash was not accepted cleared, to become
        the next run's saved order (``row_order``); None when there is nothing new to save: no
        hash pass, or every row matched the saved order and the state did not change."""
        log = self.hash_log
        if log is None or self._split is None or (self._positional_misses == 0 and not state_changed):
            return None
        positions = self.con.sql("SELECT pos FROM _moved_flags WHERE NOT accepted").to_arrow_table().column(0)
        log.clear(positions.to_pylist())
        return log

    def stage_source(self, *, name: str = "_src") -> None:
        """Copy an attached stream into ``staged`` (adding to what is there) and make ``staged``
        the source ``build_work`` reads: staged rows can be read more than once."""
        if self._staged:
            self.con.execute(f"INSERT INTO staged SELECT * FROM {name}")
        else:
            self.con.execute(f"CREATE TABLE staged AS SELECT * FROM {name}")
            self._staged = True
        self.con.unregister(name)
        self.con.unregister("_src")  # when the source was an attached stream (a no-op otherwise)
        self.con.execute("CREATE OR REPLACE VIEW _src AS SELECT * FROM staged")

    def _unread_duplicates(self) -> tuple[pa.Array, int]:
        """Hashes of rows counted as unchanged that are duplicates after all, and how many rows
        they are: those rows must be read too, so ``build_work`` catches them.

        Two kinds: an accepted row now present twice (its hash repeats), and a key present twice
        — its accepted copy and a new one in ``work``. Finding them exactly costs two passes over
        every hash, so a cheap test comes first. Each accepted key's hash is either seen again
        (A), or its key is in ``work`` (C), or it is gone (R); so with no duplicates and no
        removal, the rows counted as unchanged are exactly the state's rows minus those of C —
        in number and in the sum of their hashes. Duplicates would have to be matched exactly by
        removals, in count and in 64-bit hash sum, to slip past: a 2^-64 coincidence, the same
        kind of risk every hash comparison here takes.
        """
        split = self._split
        assert split is not None
        changed, changed_sum = self.con.execute("""
            SELECT count(*), coalesce(sum(accepted_hash), 0) FROM (
                SELECT DISTINCT key, accepted_hash FROM work WHERE accepted_hash IS NOT NULL
            )
        """).fetchall()[0]
        if (
            split.unchanged == split.state_rows - changed
            and (split.unchanged_hash_sum - (split.state_hash_sum - int(changed_sum))) % _U64 == 0
        ):
            return pa.array([], pa.uint64()), 0
        # Every row of a repeated hash, and the unchanged copy of a key also present in work.
        self._register_hash_log()
        self.con.execute("""
            CREATE OR REPLACE TEMP TABLE _dup_hashes AS
            WITH settled AS (SELECT h FROM _hash_log WHERE h NOT IN (SELECT h FROM _look))
            SELECT h, count(*) AS n FROM settled GROUP BY h HAVING count(*) > 1
            UNION
            SELECT h, 1 FROM settled
            WHERE h IN (SELECT accepted_hash FROM work WHERE accepted_hash IS NOT NULL)
        """)
        rows = self.con.execute(
            "SELECT coalesce(sum(n), 0) FROM (SELECT h, max(n) AS n FROM _dup_hashes GROUP BY h)"
        ).fetchall()[0][0]
        return self._as_source_hashes("SELECT DISTINCT h FROM _dup_hashes"), int(rows)

    def _as_source_hashes(self, query: str) -> pa.Array:
        """The hashes (column ``h``) ``query`` selects, back in the source's own type (signed for
        PostgreSQL's int8), to be passed to it."""
        h = "h"
        if self._signed_hashes:
            h = "CAST(CASE WHEN h >= 9223372036854775808 THEN h - 18446744073709551616 ELSE h END AS BIGINT)"
        return self.con.sql(f"SELECT {h} AS h FROM ({query})").to_arrow_table().column("h").combine_chunks()

    def _register_hash_log(self) -> None:
        assert self.hash_log is not None
        self.con.register("_hash_log", pa.table({"h": self.hash_log.array()}))

    def count_unchanged(self, rows: int) -> None:
        """Take this many rows as read and unchanged: counted, never entering ``work``."""
        self.unchanged_count = rows

    def build_removed(self, state_table: str) -> None:
        """Keys of the state no row of the query has any more. Rows only counted as unchanged
        (``count_unchanged``) are recognised by their hash."""
        counted = ""
        if self.unchanged_count:
            # A state row whose hash the query still returns has its key in the query (the hash
            # covers the key): not removed.
            self._register_hash_log()
            counted = "AND st.row_hash NOT IN (SELECT h FROM _hash_log)"
        self.con.execute(f"""
            CREATE OR REPLACE TABLE removed AS
            SELECT st.key FROM {state_table} st
            WHERE NOT EXISTS (SELECT 1 FROM work w WHERE w.key = st.key) {counted}
        """)

    def counts(self, *, with_removed: bool) -> DiffCounts:
        counts = DiffCounts()
        for action, n in self.con.execute("SELECT action, count(*) FROM work GROUP BY action").fetchall():
            setattr(counts, action, n)
        counts.unchanged += self.unchanged_count
        counts.read = counts.invalid + counts.added + counts.changed + counts.unchanged
        if with_removed:
            counts.removed = self.con.execute("SELECT count(*) FROM removed").fetchall()[0][0]
        return counts

    # --- recovery of a killed run's in-flight batches ------------------------------------------
    def recoverable(self, doubts: list, *, removes: bool) -> set[str]:
        """Keys of in-doubt batches whose every row is still to be sent with the same content."""
        table = pa.table(
            {
                "batch_key": pa.array([d.batch_key for d in doubts for _ in d.keys], pa.string()),
                "mode": pa.array([d.mode for d in doubts for _ in d.keys], pa.string()),
                "key": pa.array([k for d in doubts for k in d.keys], pa.string()),
                "row_hash": pa.array([h for d in doubts for h in d.hashes], pa.uint64()),
            }
        )
        self.con.register("_doubt", table)
        actions = ", ".join(quote_literal(a) for a in SEND_ACTIONS)
        removed = "d.key IN (SELECT key FROM removed)" if removes else "false"
        rows = self.con.execute(f"""
            SELECT d.batch_key FROM _doubt d LEFT JOIN work w ON w.key = d.key
            GROUP BY d.batch_key
            HAVING bool_and(CASE WHEN d.mode = 'delete' THEN {removed}
                                 ELSE w.action IN ({actions}) AND w.row_hash = d.row_hash END)
        """).fetchall()
        self.con.unregister("_doubt")
        return {r[0] for r in rows}

    def exclude_keys(self, keys: list[str]) -> None:
        """Keep these keys out of the normal send (they go out in their recovered batches)."""
        self.con.register("_excl", pa.table({"key": pa.array(keys, pa.string())}))
        self.con.execute("CREATE OR REPLACE TABLE excluded AS SELECT key FROM _excl")
        self.con.unregister("_excl")
        self.has_excluded = True

    def payloads(self, keys: list[str]) -> list[str]:
        """Payloads of ``keys``, in that order."""
        self.con.register(
            "_want", pa.table({"key": pa.array(keys, pa.string()), "pos": pa.array(range(len(keys)))})
        )
        rows = self.con.execute(
            f"SELECT {self.payload_sql} FROM _want JOIN work_rows USING (key) ORDER BY _want.pos"
        ).fetchall()
        self.con.unregister("_want")
        return [r[0] for r in rows]

    # --- reads for the loader and the DLQ ------------------------------------------------------
    def _not_excluded(self) -> str:
        return " AND key NOT IN (SELECT key FROM excluded)" if self.has_excluded else ""

    def rows_to_send(self, batch_size: int) -> Iterator[pa.RecordBatch]:
        """Rows to write, as Arrow batches of (key, row_json, row_hash), ``row_json`` as
        ``json_rows.JsonRows`` takes it. Uses its own cursor."""
        cursor = self.con.cursor()
        try:
            actions = ", ".join(quote_literal(a) for a in SEND_ACTIONS)
            reader = cursor.sql(
                f"SELECT key, {json_rows.render_sql(self.payload_sql)} AS row_json, row_hash FROM work_rows "
                f"WHERE action IN ({actions}){self._not_excluded()}"
            ).to_arrow_reader(batch_size * max(1, FETCH_ROWS // batch_size))
            # DuckDB renders payloads in large chunks (fewer round trips), each a whole number of
            # batches; batches are zero-copy slices of them.
            for chunk in reader:
                for start in range(0, chunk.num_rows, batch_size):
                    yield chunk.slice(start, batch_size)
        finally:
            cursor.close()

    def removed_keys(self, batch_size: int) -> Iterator[list[str]]:
        cursor = self.con.cursor()
        try:
            sql = "SELECT key FROM removed WHERE true" + self._not_excluded()
            for batch in cursor.sql(sql).to_arrow_reader(batch_size):
                yield batch.column(0).to_pylist()
        finally:
            cursor.close()

    def invalid_rows(self, fields: list[MappedField], batch_size: int = 5000) -> Iterator[list[dict]]:
        """Rows that failed validation: key, payload, reason and the source values (preview)."""
        cursor = self.con.cursor()
        try:
            reader = cursor.sql(
                f"SELECT key, {self.payload_sql} AS row_json, reason, {self._preview_sql(fields)} AS preview "
                "FROM work_rows WHERE action = 'invalid'"
            ).to_arrow_reader(batch_size)
            for batch in reader:
                yield batch.to_pylist()
        finally:
            cursor.close()

    @staticmethod
    def _preview_sql(fields: list[MappedField]) -> str:
        seen: dict[str, str] = {}
        for f in fields:
            seen.setdefault(f.mapping.source, f.column)
        preview = ", ".join(f"{quote_ident(src)} := {quote_ident(col)}" for src, col in seen.items())
        return f"CAST(to_json(struct_pack({preview})) AS VARCHAR)"

    def previews(self, fields: list[MappedField], keys: list[str]) -> dict[str, str]:
        """The source values (by mapping source) of the given keys, as JSON text, for the DLQ."""
        if not keys:
            return {}
        cursor = self.con.cursor()
        try:
            cursor.register("_keys", pa.table({"key": pa.array(keys, pa.string())}))
            rows = cursor.execute(
                f"SELECT key, {self._preview_sql(fields)} FROM work_rows WHERE key IN (SELECT key FROM _keys)"
            ).fetchall()
        finally:
            cursor.close()
        return dict(rows)

    def record_accepted(self, keys: pa.Array) -> None:
        """Remember keys the destination accepted in this run (for the watermark)."""
        if not getattr(self, "_accepted_created", False):
            self.con.execute("CREATE TABLE accepted (key VARCHAR)")
            self._accepted_created = True
        self.con.register("_acc", pa.table({"key": keys}))
        self.con.execute("INSERT INTO accepted SELECT key FROM _acc")
        self.con.unregister("_acc")

    def next_watermark(self) -> object | None:
        """The watermark the next run starts from: the highest value read, held back to the
        lowest value of any row that was not accepted (invalid or failed), so that row is read
        again. None when the query returned no rows."""
        if WATERMARK_ALIAS not in self.column_types():
            return None
        if not getattr(self, "_accepted_created", False):
            self.con.execute("CREATE TABLE accepted (key VARCHAR)")
            self._accepted_created = True
        wm = quote_ident(WATERMARK_ALIAS)
        highest, lowest_pending = self.con.execute(f"""
            SELECT max({wm}),
                   min({wm}) FILTER (WHERE action <> 'unchanged' AND key NOT IN (SELECT key FROM accepted)
                                     OR (action = 'invalid'))
            FROM work_rows
        """).fetchall()[0]
        return lowest_pending if lowest_pending is not None else highest

    def sample_payloads(self, limit: int) -> list[str]:
        actions = ", ".join(quote_literal(a) for a in SEND_ACTIONS)
        return [
            r[0]
            for r in self.con.execute(
                f"SELECT {self.payload_sql} FROM work_rows WHERE action IN ({actions}) LIMIT {int(limit)}"
            ).fetchall()
        ]


def _unsigned_hash(types: dict[str, str]) -> str:
    """The warehouse's row hash as the state's UBIGINT. A signed 64-bit hash (PostgreSQL's
    hashtextextended) is read as its two's-complement bits, so it keeps all 64 of them."""
    column = quote_ident(ROW_HASH_ALIAS)
    if types.get(ROW_HASH_ALIAS, "UBIGINT") == "UBIGINT":
        return f"CAST({column} AS UBIGINT)"
    wide = f"CAST({column} AS HUGEINT)"
    return f"CAST(CASE WHEN {wide} < 0 THEN {wide} + 18446744073709551616 ELSE {wide} END AS UBIGINT)"
