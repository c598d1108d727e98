"""Change-detection state: {key -> row hash} of the rows the destination ACCEPTED.

Two stores behind one interface:
- ``FileStateStore`` (embedded default): a DuckDB file per sync under var/state/, attached to the
  run's workbench so the diff is one join and a batch commit is one transaction.
- ``DatabaseStateStore`` (when workers don't share a disk, ``database_state``): rows in the app
  database (``SyncStateRow``), loaded into the workbench for the diff and upserted per batch.

Both advance only for acknowledged records, one batch at a time, so a crash, a failed row or a
killed worker leaves exactly the unacknowledged rows to be sent by the next run.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import duckdb
import pyarrow as pa
from django.conf import settings

from apps.engine import closing
from apps.engine.row_order import SavedOrder

STATE_TABLE = "state_rows"
FOLD_COMPRESSION = "fsst"  # see ``FileStateStore.fold``
KEPT_ROWS = 131_072  # outcome rows kept in memory at most (``_keep``); a DuckDB row group
_ROWS = "sync_state.rows"  # the file store's state table, as attached to a run's workbench


@dataclass(frozen=True)
class InDoubtBatch:
    """A batch whose worker died between sending it and committing its outcome."""

    batch_key: str
    mode: str
    keys: list[str]
    hashes: list[int]


# Row hashes are DuckDB's 64-bit hash() of the coerced values (see workbench.build_work).
STATE_SCHEMA = pa.schema([("key", pa.string()), ("row_hash", pa.uint64())])


@dataclass(frozen=True)
class AttachedHashes:
    """What ``StateStore.attach_hashes`` made readable in the workbench."""

    hashes: str  # a table with every accepted ``row_hash``, for the hash pass
    rows: str  # the (key, row_hash) state table
    keys_on_demand: bool  # ``rows`` holds only the keys given to ``load_keys`` so far


class StateStore(Protocol):
    backend: str
    location: str

    def attach(self, con: duckdb.DuckDBPyConnection) -> str:
        """Make the state readable in the workbench; return the table name to query."""

    def attach_hashes(self, con: duckdb.DuckDBPyConnection) -> AttachedHashes:
        """For a run that diffs on hashes first: every accepted hash, and a state table that may
        hold only the keys later asked for (``load_keys``), when loading keys costs."""

    def load_keys(self, con: duckdb.DuckDBPyConnection, keys: pa.Array) -> None:
        """After ``attach_hashes`` with ``keys_on_demand``: add these keys' state rows."""

    def commit(
        self, con: duckdb.DuckDBPyConnection, upserts: pa.Table, deletes: list[str], batch_key: str
    ) -> None:
        """Durably record a batch's accepted rows (key, row_hash) and removed keys, and settle it."""

    def finish(self, con: duckdb.DuckDBPyConnection, *, located: str | None = None) -> None:
        """End of run: make the committed batches part of the state proper. ``located``, if
        given, names a table of (key, rid): where each key already in the state is, by the
        state table's rowid, so the fold need not search for them."""

    def intend(self, batch_key: str, mode: str, keys: pa.Array, hashes: pa.Array) -> None:
        """Record a batch before it is sent."""

    def settle(self, batch_key: str) -> None:
        """Forget a batch whose outcome is committed."""

    def in_doubt(self) -> list[InDoubtBatch]:
        """Batches sent by a run that died before committing their outcome."""

    def reset(self) -> None: ...

    def count(self, con: duckdb.DuckDBPyConnection) -> int:
        """Rows in the state, read through the run's workbench connection."""

    def saved_order(self) -> SavedOrder | None:
        """Where the accepted hashes' last row order is kept (``row_order``), if anywhere."""


class FileStateStore:
    """State in ``var/state/<sync>.duckdb`` plus one append-only journal per sync.

    The journal is an Arrow IPC stream, each message handed to the OS in one ``write``: once it
    returns, the message survives a SIGKILL. Per batch it gets two messages: the intent before
    the request (batch key, keys, hashes) and, after the response, the outcome — the accepted
    rows and deleted keys, or just ``accepted: all`` when the outcome is the intent itself (the
    usual case: half the journal's bytes) — which also settles the batch. The journal is folded
    into the state table at the end of the run — or, after a crash, at the start of the next one,
    which first takes the intents never settled as in-doubt batches. Folding is one DuckDB
    transaction and folding twice is harmless.
    """

    backend = "file"

    def __init__(self, sync_id: str) -> None:
        directory = Path(settings.SYNCLINE_VAR_DIR) / "state"
        self.path = directory / f"{sync_id}.duckdb"
        self.journal_path = directory / f"{sync_id}.journal"
        self.order = SavedOrder(directory / f"{sync_id}.order")
        self.location = str(self.path)
        self._writer: pa.ipc.RecordBatchStreamWriter | None = None
        self._buffer: io.BytesIO | None = None
        self._fd: int | None = None
        self._intended: dict[str, int] = {}  # rows of each batch intended and not yet settled
        self._doubts: list[InDoubtBatch] = []
        # This run's outcome rows not yet in the state table, also kept in memory (``_keep``)
        # while they are few or folded as the run goes; None once dropped: the journal has them.
        self._kept: list[pa.RecordBatch] | None = []
        self._kept_rows = 0
        self._fold_as_we_go = False  # the state was empty at attach (``_fold_early``)
        self._folded_early = False

    def attach(self, con: duckdb.DuckDBPyConnection) -> str:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        closing.wait_for(self.location)  # the last run's workbench may still be closing
        closing.attach_with_retry(con, f"ATTACH '{self.path}' AS sync_state")
        con.execute(f"CREATE TABLE IF NOT EXISTS {_ROWS} (key VARCHAR, row_hash UBIGINT NOT NULL)")
        self._doubts = _unsettled_intents(self.journal_path)
        self.fold(con)  # a journal left by a killed run holds acknowledged rows: apply them first
        self._kept, self._kept_rows = [], 0
        self._fold_as_we_go = _is_empty(con)
        return _ROWS

    def attach_hashes(self, con: duckdb.DuckDBPyConnection) -> AttachedHashes:
        table = self.attach(con)  # attaching a file reads nothing yet: keys cost nothing
        return AttachedHashes(hashes=table, rows=table, keys_on_demand=False)

    def load_keys(self, con: duckdb.DuckDBPyConnection, keys: pa.Array) -> None:
        return None  # every key is there

    def _append(self, rows: pa.RecordBatch, **metadata: str) -> None:
        """Append one message (rows + what they are, as message metadata) in one ``write``.

        The IPC writer emits a message in several small pieces; gathered in memory first, they
        cost one system call (and one release of the GIL, which the sending threads contend for)
        instead of a handful.
        """
        if self._writer is None:
            self.journal_path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.journal_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            self._buffer = io.BytesIO()
            self._writer = pa.ipc.new_stream(self._buffer, STATE_SCHEMA)  # the schema goes with
        assert self._buffer is not None and self._fd is not None  # the first message
        self._writer.write_batch(rows, custom_metadata=metadata)
        message = self._buffer.getbuffer()
        written = 0
        while written < len(message):
            written += os.write(self._fd, message[written:])
        del message  # a BytesIO cannot be resized while a view of it is alive
        self._buffer.seek(0)
        self._buffer.truncate()

    def intend(self, batch_key: str, mode: str, keys: pa.Array, hashes: pa.Array) -> None:
        self._append(
            pa.record_batch([keys, hashes], schema=STATE_SCHEMA), kind="intent", batch=batch_key, mode=mode
        )
        self._intended[batch_key] = len(keys)

    def commit(
        self, con: duckdb.DuckDBPyConnection, upserts: pa.Table, deletes: list[str], batch_key: str
    ) -> None:
        self._journal_outcome(upserts, deletes, batch_key)
        if self._kept is not None:
            self._keep(con, upserts, deletes)

    def _journal_outcome(self, upserts: pa.Table, deletes: list[str], batch_key: str) -> None:
        # One message: the batch's outcome (accepted rows; deleted keys with a NULL hash) and its
        # settlement are durable together or not at all. Accepted rows are a subset of the
        # intent's, so as many of them as were intended are the intent's rows themselves (with
        # their hashes, NULL for deletes): the message then only says so.
        intended = self._intended.pop(batch_key, None)
        if (
            intended is not None
            and intended == upserts.num_rows + len(deletes)
            and (not deletes or not upserts.num_rows)
        ):
            self._append(_EMPTY, kind="outcome", batch=batch_key, accepted="all")
            return
        self._append(_outcome_rows(upserts, deletes), kind="outcome", batch=batch_key)

    def _keep(self, con: duckdb.DuckDBPyConnection, upserts: pa.Table, deletes: list[str]) -> None:
        """Keep a batch's outcome rows in memory too: the fold at the end then reads them from
        there, not back from the journal (a small run), or they go into an empty state as the
        run goes (``_fold_early``). Past ``KEPT_ROWS`` rows otherwise, they are dropped and the
        fold reads the journal, in bounded memory."""
        assert self._kept is not None
        if deletes and self._folded_early:  # cannot happen on an empty state; if it did, the
            self._kept, self._fold_as_we_go = None, False  # fold at the end goes by key
            return
        if deletes:
            self._fold_as_we_go = False  # deletes are not inserts
        rows = _outcome_rows(upserts, deletes)
        self._kept.append(rows)
        self._kept_rows += rows.num_rows
        if self._kept_rows >= KEPT_ROWS:
            if self._fold_as_we_go:
                self._fold_early(con)
            else:
                self._kept = None

    def _fold_early(self, con: duckdb.DuckDBPyConnection) -> None:
        """Insert the accepted rows kept so far into the state table: a run that started on an
        empty state (a first run, or after a reset) has only new keys, each once, so its rows
        go in as they are, a few times during the run instead of all at its end, when the
        destination is waiting for nothing any more (1M rows: ~0.25 s off the end of a run).

        The journal keeps them too: after a crash, the next run's fold matches them by key,
        and folding a row twice is harmless. ``finish`` inserts the rest."""
        if not self._kept:
            return
        con.register("_early", pa.Table.from_batches(self._kept, schema=STATE_SCHEMA))
        try:
            with _fold_transaction(con):
                con.execute(f"INSERT INTO {_ROWS} SELECT key, row_hash FROM _early")
        finally:
            con.unregister("_early")
        self._kept, self._kept_rows = [], 0
        self._folded_early = True

    def settle(self, batch_key: str) -> None:
        self._intended.pop(batch_key, None)
        self._append(_EMPTY, kind="settle", batch=batch_key)

    def in_doubt(self) -> list[InDoubtBatch]:
        return list(self._doubts)

    def fold(
        self,
        con: duckdb.DuckDBPyConnection,
        *,
        located: str | None = None,
        outcomes: list[pa.RecordBatch] | None = None,
    ) -> int:
        """Apply the journal's accepted and deleted rows to the state table; then drop it.

        The journal is streamed message by message, so folding millions of rows takes little
        memory: straight into an empty state (a first run), else into a spillable DuckDB table
        the fold then applies (``_apply_journal``). ``located``: see ``finish``. ``outcomes``:
        the journal's rows already in memory (``_keep``), read instead of the file.
        """
        self._close_journal()
        if not self.journal_path.exists():
            return 0
        rows = iter(outcomes) if outcomes is not None else self._outcomes()
        with _fold_transaction(con):
            if _is_empty(con):
                applied = self._insert_into_empty_state(con, rows)
            else:
                applied = self._load_journal(con, rows)
                if applied:
                    _apply_journal(con, located)
                con.execute("DROP TABLE _journal")
        self.journal_path.unlink()
        return applied

    def _outcomes(self) -> Iterator[pa.RecordBatch]:
        """The journal's outcome rows, message by message. An intent is held only until its
        outcome: an ``accepted: all`` outcome takes the intent's rows."""
        intents: dict[str, pa.RecordBatch] = {}
        for meta, rows in _journal_messages(self.journal_path):
            kind, batch = meta.get("kind"), meta.get("batch", "")
            if kind == "intent":
                intents[batch] = rows
                continue
            intent = intents.pop(batch, None)
            if kind != "outcome":
                continue
            if meta.get("accepted") == "all":
                if intent is None:  # cannot happen: the intent precedes its outcome
                    raise RuntimeError(f"journal {self.journal_path}: outcome of unknown batch {batch}")
                rows = intent
            if rows.num_rows:
                yield rows

    def _insert_into_empty_state(self, con: duckdb.DuckDBPyConnection, rows: Iterator[pa.RecordBatch]) -> int:
        con.register("_outcomes", pa.RecordBatchReader.from_batches(STATE_SCHEMA, rows))
        try:
            inserted = con.execute(
                f"INSERT INTO {_ROWS} SELECT key, row_hash FROM _outcomes WHERE row_hash IS NOT NULL"
            ).fetchall()[0][0]
        finally:
            con.unregister("_outcomes")
        return inserted

    def _load_journal(self, con: duckdb.DuckDBPyConnection, outcomes: Iterator[pa.RecordBatch]) -> int:
        """The outcomes into ``_journal``, gathered into ~100k-row chunks (one INSERT each)."""
        con.execute("CREATE OR REPLACE TEMP TABLE _journal (key VARCHAR, row_hash UBIGINT)")
        pending: list[pa.RecordBatch] = []
        pending_rows = 0

        def flush() -> None:
            nonlocal pending, pending_rows
            if pending:
                con.register("_messages", pa.Table.from_batches(pending, schema=STATE_SCHEMA))
                con.execute("INSERT INTO _journal SELECT key, row_hash FROM _messages")
                con.unregister("_messages")
            pending, pending_rows = [], 0

        for rows in outcomes:
            pending.append(rows)
            pending_rows += rows.num_rows
            if pending_rows >= 100_000:
                flush()
        flush()
        return con.execute("SELECT count(*) FROM _journal").fetchall()[0][0]

    def finish(self, con: duckdb.DuckDBPyConnection, *, located: str | None = None) -> None:
        kept = self._kept
        if not self._folded_early:
            self.fold(con, located=located, outcomes=kept)  # from memory when kept
        elif kept is not None:  # every accepted row is in the state or kept: the rest goes in
            self._fold_early(con)
            self._close_journal()
            self.journal_path.unlink(missing_ok=True)
        else:  # part of the journal is in the state already: match it all by key (no ``located``)
            self.fold(con)
        self._kept, self._kept_rows = [], 0
        self._fold_as_we_go = self._folded_early = False

    def _close_journal(self) -> None:
        if self._writer is not None:
            # No end-of-stream marker is needed: the reader stops at the end of the file, as it
            # does after a kill.
            self._writer = None
            self._buffer = None
            os.close(self._fd)
            self._fd = None
        self._intended.clear()

    def reset(self) -> None:
        closing.wait_for(self.location)
        self._close_journal()
        self._doubts = []
        for path in (self.path, Path(str(self.path) + ".wal"), self.journal_path):
            path.unlink(missing_ok=True)
        self.order.remove()

    def count(self, con: duckdb.DuckDBPyConnection) -> int:
        return con.execute(f"SELECT count(*) FROM {_ROWS}").fetchall()[0][0]

    def saved_order(self) -> SavedOrder | None:
        closing.wait_for(self.location)  # the last run saves its order as it closes
        return self.order


@contextmanager
def _fold_transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """One transaction that writes many state rows at once.

    They are compressed as they are written, at commit. DuckDB's own choice tries every format
    on every column; FSST for the keys (hashes, which no format shrinks, stay plain) writes 1M
    rows in ~40% of that time, and later runs read the keys back ~30% faster than from zstd
    (the key join of a small run: ~28 ms against ~42 ms at 1M keys), for a file ~1.6x larger
    (24 MB at 1M rows). ``force_compression`` only picks among DuckDB's formats; were it
    ignored, a fold would be slower, not wrong.
    """
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"SET force_compression = '{FOLD_COMPRESSION}'")
        yield
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.execute("RESET force_compression")


def _outcome_rows(upserts: pa.Table, deletes: list[str]) -> pa.RecordBatch:
    """A batch's outcome as state rows: the accepted (key, hash), then deleted keys, hash NULL."""
    keys = pa.concat_arrays([upserts.column("key").combine_chunks(), pa.array(deletes, pa.string())])
    hashes = pa.concat_arrays(
        [upserts.column("row_hash").combine_chunks(), pa.nulls(len(deletes), pa.uint64())]
    )
    return pa.record_batch([keys, hashes], schema=STATE_SCHEMA)


def _is_empty(con: duckdb.DuckDBPyConnection) -> bool:
    return con.execute(f"SELECT NOT EXISTS (SELECT 1 FROM {_ROWS})").fetchall()[0][0]


def _apply_journal(con: duckdb.DuckDBPyConnection, located: str | None) -> None:
    """Fold ``_journal`` (accepted rows; deleted keys with a NULL hash) into the state table.

    A key appears at most once in a journal (once per run, and a journal holds at most one run's
    unfolded rows after the crash fold), so no ordering between entries is needed. Keys already
    in the state get their new hash in place, not a delete and an insert: a DuckDB checkpoint
    then rewrites the hash column only, not the compressed keys of every row group that lost a
    row. Where the run already knows each key's rowid (``located``), the update finds its rows
    by rowid instead of by matching a million key strings. Measured at 1M rows with 1% changed,
    commit and checkpoint included, eight runs in a row on one state: 70-75 ms by rowid,
    90-120 ms by key, and 50-240 ms, growing with the deletes, for a delete and an insert.
    """
    if located is not None:
        # Every accepted key was in the run's work table, where ``located`` comes from: a key
        # it does not place is new to the state.
        (updated,) = con.execute(f"""
            UPDATE {_ROWS} AS st SET row_hash = u.row_hash
            FROM (SELECT l.rid, j.row_hash FROM _journal j JOIN {located} l USING (key)
                  WHERE j.row_hash IS NOT NULL) u
            WHERE st.rowid = u.rid
        """).fetchone()
        (accepted,) = con.execute("SELECT count(*) FROM _journal WHERE row_hash IS NOT NULL").fetchone()
        if updated < accepted:  # some keys are new (a small run often has none: no search)
            _insert_keys_other_than(con, f"SELECT key FROM {located}")
    else:
        updated = con.sql(f"""
            UPDATE {_ROWS} AS st SET row_hash = j.row_hash FROM _journal j
            WHERE st.key = j.key AND j.row_hash IS NOT NULL
            RETURNING st.key
        """).to_arrow_table()
        con.register("_updated", updated)
        try:
            _insert_keys_other_than(con, "SELECT key FROM _updated")
        finally:
            con.unregister("_updated")
    if con.execute("SELECT count(*) FROM _journal WHERE row_hash IS NULL").fetchall()[0][0]:
        con.execute(f"DELETE FROM {_ROWS} WHERE key IN (SELECT key FROM _journal WHERE row_hash IS NULL)")


def _insert_keys_other_than(con: duckdb.DuckDBPyConnection, known_keys: str) -> None:
    """Append the journal's accepted rows whose key ``known_keys`` (a query) does not list."""
    con.execute(f"""
        INSERT INTO {_ROWS} SELECT key, row_hash FROM _journal
        WHERE row_hash IS NOT NULL AND key IN (SELECT key FROM _journal EXCEPT {known_keys})
    """)


_EMPTY = pa.record_batch([pa.array([], pa.string()), pa.array([], pa.uint64())], schema=STATE_SCHEMA)


def _journal_messages(path: Path) -> Iterator[tuple[dict[str, str], pa.RecordBatch]]:
    """(metadata, rows) of every complete message, in order. A message cut short by a
    kill is ignored: its batch's outcome was never durably recorded, so the batch is in doubt."""
    if not path.exists():
        return
    try:
        with pa.OSFile(str(path), "rb") as source:
            reader = pa.ipc.open_stream(source)
            while True:
                try:
                    message = reader.read_next_batch_with_custom_metadata()
                except StopIteration:
                    return
                meta = {k.decode(): v.decode() for k, v in (message.custom_metadata or {}).items()}
                yield meta, message.batch
    except (pa.ArrowInvalid, OSError, EOFError):
        return


def _unsettled_intents(path: Path) -> list[InDoubtBatch]:
    """Intents never settled. Streamed: only the batches in flight at a time are held."""
    open_intents: dict[str, InDoubtBatch] = {}
    for meta, rows in _journal_messages(path):
        if meta.get("kind") == "intent":
            open_intents[meta["batch"]] = InDoubtBatch(
                meta["batch"], meta["mode"], rows.column(0).to_pylist(), rows.column(1).to_pylist()
            )
        else:  # an outcome settles its batch, and so does a lone settle
            open_intents.pop(meta.get("batch", ""), None)
    return list(open_intents.values())


def state_store_for(sync_id: str) -> StateStore:
    backend = settings.SYNCLINE_STATE_STORE
    if backend == "file":
        return FileStateStore(sync_id)
    if backend == "database":
        from apps.engine.database_state import DatabaseStateStore  # it builds on this module

        return DatabaseStateStore(sync_id)
    raise ValueError(f"SYNCLINE_STATE_STORE must be 'file' or 'database', not {backend!r}")
