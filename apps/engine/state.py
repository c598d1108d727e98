"""Change-detection state: {key -> row hash} of the rows the destination ACCEPTED.

Two stores behind one interface:
- ``FileStateStore`` (embedded default): a DuckDB file per sync under var/state/, attached to the
  run's workbench so the diff is one join and a batch commit is one transaction.
- ``DatabaseStateStore`` (when workers don't share a disk): rows in the app database
  (``SyncStateRow``), loaded into the workbench for the diff and upserted per batch.

Both advance only for acknowledged records, one batch at a time, so a crash, a failed row or a
killed worker leaves exactly the unacknowledged rows to be sent by the next run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import duckdb
import pyarrow as pa
from django.conf import settings
from django.db import connection, transaction

from apps.syncs.models import SyncBatchIntent, SyncStateRow

STATE_TABLE = "state_rows"


@dataclass(frozen=True)
class InDoubtBatch:
    """A batch whose worker died between sending it and committing its outcome."""

    batch_key: str
    mode: str
    keys: list[str]
    hashes: list[str]


_STATE_SCHEMA = pa.schema([("key", pa.string()), ("row_hash", pa.string())])


class StateStore(Protocol):
    backend: str
    location: str

    def attach(self, con: duckdb.DuckDBPyConnection) -> str:
        """Make the state readable in the workbench; return the table name to query."""

    def commit(self, con: duckdb.DuckDBPyConnection, upserts: pa.Table, deletes: list[str]) -> None:
        """Durably record accepted rows (key, row_hash) and removed keys."""

    def finish(self, con: duckdb.DuckDBPyConnection) -> None:
        """End of run: make the committed batches part of the state proper."""

    def intend(self, batch_key: str, mode: str, keys: list[str], hashes: list[str]) -> None:
        """Record a batch before it is sent."""

    def settle(self, batch_key: str) -> None:
        """Forget a batch whose outcome is committed."""

    def in_doubt(self) -> list[InDoubtBatch]:
        """Batches sent by a run that died before committing their outcome."""

    def reset(self) -> None: ...

    def count(self, con: duckdb.DuckDBPyConnection) -> int:
        """Rows in the state, read through the run's workbench connection."""


class FileStateStore:
    """State in ``var/state/<sync>.duckdb`` plus an append-only journal per sync.

    A batch commit appends its accepted keys to the journal (one ``write`` of an Arrow IPC
    message: microseconds, and in the OS's hands once written, so a SIGKILL cannot lose it).
    The journal is folded into the state table at the end of the run — or, after a crash, at the
    start of the next one — in one DuckDB transaction; folding twice gives the same state.
    """

    backend = "file"

    def __init__(self, sync_id: str) -> None:
        directory = Path(settings.SYNCLINE_VAR_DIR) / "state"
        self.path = directory / f"{sync_id}.duckdb"
        self.journal_path = directory / f"{sync_id}.journal"
        self.inflight_dir = directory / f"{sync_id}.inflight"
        self.location = str(self.path)
        self._journal: pa.ipc.RecordBatchStreamWriter | None = None
        self._journal_file = None
        self._seq = 0

    def attach(self, con: duckdb.DuckDBPyConnection) -> str:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con.execute(f"ATTACH '{self.path}' AS sync_state")
        con.execute("CREATE TABLE IF NOT EXISTS sync_state.rows (key VARCHAR, row_hash VARCHAR NOT NULL)")
        self.fold(con)  # a journal left by a killed run holds acknowledged rows: apply them first
        return "sync_state.rows"

    def commit(self, con: duckdb.DuckDBPyConnection, upserts: pa.Table, deletes: list[str]) -> None:
        if self._journal is None:
            self._journal_file = open(self.journal_path, "ab", buffering=0)  # noqa: SIM115 - lives for the run
            self._journal = pa.ipc.new_stream(self._journal_file, _JOURNAL_SCHEMA)
        n_up, n_del = upserts.num_rows, len(deletes)
        if not n_up + n_del:
            return
        self._seq += 1
        batch = pa.record_batch(
            [
                pa.concat_arrays([upserts.column("key").combine_chunks(), pa.array(deletes, pa.string())]),
                pa.concat_arrays([upserts.column("row_hash").combine_chunks(), pa.nulls(n_del, pa.string())]),
            ],
            schema=_JOURNAL_SCHEMA,
        )
        # One message per batch, written unbuffered: once write() returns, the batch is durable
        # against a process kill. Deletes carry a NULL hash.
        self._journal.write_batch(batch)

    def fold(self, con: duckdb.DuckDBPyConnection) -> int:
        """Apply the journal to the state table; return how many journal rows were applied."""
        self._close_journal()
        if not self.journal_path.exists():
            return 0
        entries = _read_journal(self.journal_path)
        if entries.num_rows:
            con.register("_journal", entries)
            con.execute("BEGIN TRANSACTION")
            try:
                con.execute("""
                    CREATE OR REPLACE TEMP TABLE _latest AS
                    SELECT key, row_hash FROM (
                        SELECT key, row_hash, row_number() OVER (PARTITION BY key ORDER BY seq DESC) AS rn
                        FROM (SELECT *, row_number() OVER () AS seq FROM _journal)
                    ) WHERE rn = 1
                """)
                con.execute("DELETE FROM sync_state.rows WHERE key IN (SELECT key FROM _latest)")
                con.execute(
                    "INSERT INTO sync_state.rows SELECT key, row_hash FROM _latest WHERE row_hash IS NOT NULL"
                )
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            finally:
                con.unregister("_journal")
        self.journal_path.unlink()
        return entries.num_rows

    def finish(self, con: duckdb.DuckDBPyConnection) -> None:
        self.fold(con)

    # One small file per batch in flight: written (atomically) before the request, removed after
    # the commit. Microseconds each, and a kill leaves exactly the in-doubt batches behind.
    def intend(self, batch_key: str, mode: str, keys: list[str], hashes: list[str]) -> None:
        self.inflight_dir.mkdir(parents=True, exist_ok=True)
        table = pa.table({"key": pa.array(keys, pa.string()), "row_hash": pa.array(hashes, pa.string())})
        table = table.replace_schema_metadata({"mode": mode})
        tmp = self.inflight_dir / f"{batch_key}.tmp"
        with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        os.replace(tmp, self.inflight_dir / f"{batch_key}.arrow")

    def settle(self, batch_key: str) -> None:
        (self.inflight_dir / f"{batch_key}.arrow").unlink(missing_ok=True)

    def in_doubt(self) -> list[InDoubtBatch]:
        batches = []
        for path in sorted(self.inflight_dir.glob("*.arrow")) if self.inflight_dir.exists() else []:
            try:
                table = pa.ipc.open_file(str(path)).read_all()
            except (pa.ArrowInvalid, OSError):
                path.unlink(missing_ok=True)  # never completely written: never sent
                continue
            batches.append(
                InDoubtBatch(
                    path.stem,
                    table.schema.metadata[b"mode"].decode(),
                    table.column("key").to_pylist(),
                    table.column("row_hash").to_pylist(),
                )
            )
        return batches

    def _close_journal(self) -> None:
        if self._journal is not None:
            self._journal.close()
            self._journal_file.close()
            self._journal = self._journal_file = None

    def reset(self) -> None:
        self._close_journal()
        for path in (self.path, Path(str(self.path) + ".wal"), self.journal_path):
            path.unlink(missing_ok=True)
        for path in self.inflight_dir.glob("*") if self.inflight_dir.exists() else []:
            path.unlink(missing_ok=True)

    def count(self, con: duckdb.DuckDBPyConnection) -> int:
        return con.execute("SELECT count(*) FROM sync_state.rows").fetchall()[0][0]


_JOURNAL_SCHEMA = pa.schema([("key", pa.string()), ("row_hash", pa.string())])


def _read_journal(path: Path) -> pa.Table:
    """Every complete message of the journal; a message cut short by a kill is ignored (its
    batch was never acknowledged as committed, so it is sent again)."""
    batches: list[pa.RecordBatch] = []
    try:
        with pa.OSFile(str(path), "rb") as source:
            reader = pa.ipc.open_stream(source)
            while True:
                try:
                    batches.append(reader.read_next_batch())
                except StopIteration:
                    break
    except (pa.ArrowInvalid, OSError, EOFError):
        pass
    return pa.Table.from_batches(batches, schema=_JOURNAL_SCHEMA)


class DatabaseStateStore:
    backend = "database"
    location = "app database (syncs_syncstaterow)"
    _FETCH = 50_000

    def __init__(self, sync_id: str) -> None:
        self.sync_id = sync_id

    def attach(self, con: duckdb.DuckDBPyConnection) -> str:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {STATE_TABLE} (key VARCHAR PRIMARY KEY, row_hash VARCHAR)")
        table = SyncStateRow._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT key, row_hash FROM {table} WHERE sync_id = %s", [self.sync_id])
            while rows := cursor.fetchmany(self._FETCH):
                keys, hashes = zip(*rows, strict=True)
                con.register("_loaded", pa.table([pa.array(keys), pa.array(hashes)], schema=_STATE_SCHEMA))
                con.execute(f"INSERT INTO {STATE_TABLE} SELECT * FROM _loaded")
                con.unregister("_loaded")
        return STATE_TABLE

    def commit(self, con: duckdb.DuckDBPyConnection, upserts: pa.Table, deletes: list[str]) -> None:
        rows = [
            SyncStateRow(sync_id=self.sync_id, key=k, row_hash=h)
            for k, h in zip(
                upserts.column("key").to_pylist(), upserts.column("row_hash").to_pylist(), strict=True
            )
        ]
        with transaction.atomic():
            if rows:
                SyncStateRow.objects.bulk_create(
                    rows,
                    update_conflicts=True,
                    unique_fields=["sync", "key"],
                    update_fields=["row_hash"],
                    batch_size=2000,
                )
            for start in range(0, len(deletes), 2000):
                SyncStateRow.objects.filter(
                    sync_id=self.sync_id, key__in=deletes[start : start + 2000]
                ).delete()

    def finish(self, con: duckdb.DuckDBPyConnection) -> None:
        return None  # every batch was upserted in place

    def intend(self, batch_key: str, mode: str, keys: list[str], hashes: list[str]) -> None:
        SyncBatchIntent.objects.create(
            sync_id=self.sync_id, batch_key=batch_key, mode=mode, keys=keys, hashes=hashes
        )

    def settle(self, batch_key: str) -> None:
        SyncBatchIntent.objects.filter(sync_id=self.sync_id, batch_key=batch_key).delete()

    def in_doubt(self) -> list[InDoubtBatch]:
        return [
            InDoubtBatch(i.batch_key, i.mode, list(i.keys), list(i.hashes))
            for i in SyncBatchIntent.objects.filter(sync_id=self.sync_id).order_by("id")
        ]

    def reset(self) -> None:
        SyncBatchIntent.objects.filter(sync_id=self.sync_id).delete()
        SyncStateRow.objects.filter(sync_id=self.sync_id).delete()

    def count(self, con: duckdb.DuckDBPyConnection) -> int:
        return SyncStateRow.objects.filter(sync_id=self.sync_id).count()


def state_store_for(sync_id: str) -> StateStore:
    backend = settings.SYNCLINE_STATE_STORE
    if backend == "file":
        return FileStateStore(sync_id)
    if backend == "database":
        return DatabaseStateStore(sync_id)
    raise ValueError(f"SYNCLINE_STATE_STORE must be 'file' or 'database', not {backend!r}")
