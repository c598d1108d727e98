"""DuckDB source: a database file, and Parquet/CSV files read through DuckDB (the lakehouse case).

Database files are opened read-only. ``:memory:`` (files-only queries) has no database to protect,
but DuckDB could still write files there (``COPY … TO``): the SQL guard, and DuckDB's own parser as
a second opinion, are what keep those queries read-only.
Docs followed: https://duckdb.org/docs/stable/clients/python/overview
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from pydantic import Field, field_validator

from apps.connectors.base import CheckResult, ConnectorConfig, Source, SourceColumn
from apps.connectors.data_paths import check_data_path
from apps.connectors.registry import register_source
from apps.connectors.sql_guard import QueryTimeoutError, UnsafeQueryError, ensure_read_only, statement_body


class DuckDBConfig(ConnectorConfig):
    path: str = Field(description="DuckDB database file; ':memory:' for files-only (Parquet/CSV) queries.")
    threads: int | None = Field(default=None, ge=1, le=64)
    memory_limit: str = Field(
        default="128MB",
        pattern=r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$",
        description="DuckDB's buffer limit for this source's queries (its default would be 80% of RAM, "
        "in the worker's process). Larger queries spill to a temporary directory.",
    )
    timeout_seconds: float = Field(
        default=300, gt=0, le=86_400, description="Longest time DuckDB may work on one batch."
    )
    allowed_directories: list[str] = Field(
        default_factory=list,
        description="Directories whose files (Parquet, CSV, JSON) queries may read — the lakehouse "
        "case. Empty: queries read the database file only, never other files of the server.",
    )

    @field_validator("allowed_directories")
    @classmethod
    def _absolute_directories(cls, value: list[str]) -> list[str]:
        for directory in value:
            check_data_path(directory, what="allowed directory")  # absolute, in a data directory
        # A trailing slash, so /data does not also allow /data-private.
        return [d if d.endswith("/") else d + "/" for d in value]

    @field_validator("path")
    @classmethod
    def _path_in_a_data_directory(cls, value: str) -> str:
        if not value:
            raise ValueError("path must name a DuckDB database file or ':memory:'")
        return value if value == ":memory:" else check_data_path(value)


STREAMING_BUFFER = "16MB"


def _spill_directory() -> str:
    path = Path(tempfile.gettempdir()) / "syncline-duckdb-spill"
    path.mkdir(mode=0o700, exist_ok=True)
    return str(path)


@register_source
class DuckDBSource(Source):
    type = "duckdb"
    label = "DuckDB / Parquet / CSV"
    dialect = "duckdb"
    Config = DuckDBConfig
    config: DuckDBConfig

    def __init__(self, config: ConnectorConfig) -> None:
        super().__init__(config)
        self._database: duckdb.DuckDBPyConnection | None = None
        self._opening: Future[duckdb.DuckDBPyConnection] | None = None

    def prepare(self) -> None:
        # Opening builds DuckDB's catalog (~12 ms of C++ that releases the GIL): on a thread of
        # its own it overlaps the run's other set-up (its workbench is another DuckDB to open).
        if self._database is None and self._opening is None:
            self._opening = Future()
            threading.Thread(target=self._open_into, args=(self._opening,), name="duckdb-open").start()

    def _open_into(self, future: Future[duckdb.DuckDBPyConnection]) -> None:
        try:
            future.set_result(self._connect())
        except BaseException as exc:  # handed to whoever reads first
            future.set_exception(exc)

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor on this source's one read-only connection: opening the database file is the
        costly part, and a run streams from it twice (hashes, then rows)."""
        if self._database is None:
            opening, self._opening = self._opening, None
            self._database = opening.result() if opening is not None else self._connect()
        return self._database.cursor()

    def close(self) -> None:
        if self._opening is not None:  # prepared, never read
            with suppress(Exception):
                self._database = self._opening.result()
            self._opening = None
        if self._database is not None:
            self._database.close()
            self._database = None

    def _connect(self) -> duckdb.DuckDBPyConnection:
        path = self.config.path
        if path != ":memory:" and not Path(path).exists():
            raise FileNotFoundError(f"DuckDB database file not found: {path}")
        con = duckdb.connect(
            path,
            read_only=path != ":memory:",
            # A spill directory of its own: DuckDB may always access its temp directory, so it
            # must not be a parent of files queries should not read.
            config={"memory_limit": self.config.memory_limit, "temp_directory": _spill_directory()},
        )
        if self.config.threads:
            con.execute(f"SET threads = {int(self.config.threads)}")
        # Results stream: DuckDB's threads may run this far ahead of the reader (its default,
        # ~1 MB, stalls them while the engine handles a batch of 80,000 hashes).
        con.execute(f"SET streaming_buffer_size = '{STREAMING_BUFFER}'")
        # No file of the server is readable from a query (read_csv('/etc/passwd')…) except below
        # the directories this source allows. Once disabled, a query cannot turn it back on.
        if self.config.allowed_directories:
            con.execute("SET allowed_directories = ?", [self.config.allowed_directories])
        con.execute("SET enable_external_access = false")
        return con

    def check(self) -> CheckResult:
        try:
            with self._connect() as con:
                tables = con.execute("SELECT count(*) FROM duckdb_tables()").fetchone()[0]
        except (duckdb.Error, FileNotFoundError) as exc:
            return CheckResult(False, f"Could not open DuckDB database: {exc}")
        return CheckResult(True, f"Connected read-only; {tables} table(s) visible.")

    def columns(self, sql: str) -> list[SourceColumn]:
        ensure_read_only(sql, self.dialect)
        body = statement_body(sql, self.dialect)
        with self._connect() as con:
            _ensure_duckdb_sees_one_select(con, body)
            # A relation is bound (names and types known) without running the query.
            with _watchdog(con, self.config.timeout_seconds):
                rel = con.sql(body)
                return [SourceColumn(n, str(t)) for n, t in zip(rel.columns, rel.types, strict=True)]

    def stream(
        self, sql: str, *, params: Sequence[Any] = (), batch_size: int = 50_000
    ) -> Iterator[pa.RecordBatch]:
        return self._stream(sql, params=params, batch_size=batch_size)

    def stream_where_in(
        self,
        sql: str,
        column: str,
        values: pa.Array,
        *,
        params: Sequence[Any] = (),
        batch_size: int = 50_000,
    ) -> Iterator[pa.RecordBatch]:
        # The values as an Arrow table registered on the query's own cursor, not as a list
        # parameter: binding a 10,000-element list costs DuckDB ~60 ms more (measured at 1M rows).
        wanted = f"SELECT * FROM ({sql}) AS r WHERE {_quoted(column)} IN (SELECT v FROM {_WANTED})"
        return self._stream(
            wanted, params=params, batch_size=batch_size, tables={_WANTED: pa.table({"v": values})}
        )

    def _stream(
        self,
        sql: str,
        *,
        params: Sequence[Any],
        batch_size: int,
        tables: dict[str, pa.Table] | None = None,
    ) -> Iterator[pa.RecordBatch]:
        ensure_read_only(sql, self.dialect)
        body = statement_body(sql, self.dialect)
        con = self._cursor()
        watchdog = _Watchdog(con, self.config.timeout_seconds)
        try:
            for name, table in (tables or {}).items():
                con.register(name, table)  # visible to this cursor only
            _ensure_duckdb_sees_one_select(con, body)
            with watchdog.armed():
                reader = con.sql(body, params=list(params) or None).to_arrow_reader(batch_size)
            while True:
                # Only DuckDB's own work is timed: the caller may take as long as it likes
                # between batches (writing them to a destination), so the yield is outside.
                with watchdog.armed():
                    try:
                        batch = reader.read_next_batch()
                    except StopIteration:
                        return
                yield batch
        finally:
            watchdog.close()
            con.close()

    def row_hash_sql(self, columns: Sequence[str]) -> str | None:
        return "hash(" + ", ".join(_quoted(c) for c in columns) + ")"

    def column_in_sql(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]] | None:
        # A semi-join on an unnested list parameter: a hash lookup per row, not a list scan.
        return f"{_quoted(column)} IN (SELECT unnest(?))", [list(values)]


_WANTED = "_syncline_wanted_values"


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _ensure_duckdb_sees_one_select(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Second opinion from DuckDB's own parser, in case sqlglot read the text differently."""
    statements = con.extract_statements(sql)
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        kinds = ", ".join(s.type.name for s in statements) or "none"
        raise UnsafeQueryError(f"DuckDB reads this query as {kinds}; only a single SELECT is allowed.")


class _Watchdog:
    """Interrupts ``con`` when an armed DuckDB call outlasts the timeout.

    DuckDB has no statement timeout, so a thread calls ``interrupt()``. One thread serves every
    call of a stream: a thread started per fetched batch cost ~1 ms each, ~20 ms a run. If it
    fired, the call is reported as timed out even when it returned just in time, because DuckDB
    keeps the interrupt pending and the next fetch would fail anyway.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, timeout_seconds: float) -> None:
        self._con = con
        self.timeout_seconds = timeout_seconds
        self._changed = threading.Condition()
        self._deadline: float | None = None
        self._closed = False
        self._fired = False
        self._thread: threading.Thread | None = None

    @contextmanager
    def armed(self) -> Iterator[None]:
        with self._changed:
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, name="duckdb-watchdog", daemon=True)
                self._thread.start()
            self._deadline = time.monotonic() + self.timeout_seconds
            self._changed.notify()
        try:
            yield
        except duckdb.InterruptException:
            if self._fired:
                raise QueryTimeoutError(self.timeout_seconds, "DuckDB") from None
            raise
        finally:
            with self._changed:
                self._deadline = None
        if self._fired:
            raise QueryTimeoutError(self.timeout_seconds, "DuckDB")

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify()

    def _watch(self) -> None:
        with self._changed:
            while not self._closed:
                if self._deadline is None:
                    self._changed.wait()
                    continue
                remaining = self._deadline - time.monotonic()
                if remaining > 0:
                    self._changed.wait(remaining)
                    continue
                self._fired = True
                self._deadline = None
                self._con.interrupt()


@contextmanager
def _watchdog(con: duckdb.DuckDBPyConnection, timeout_seconds: float) -> Iterator[None]:
    """One call of ``con``, interrupted if it outlasts the timeout (see ``_Watchdog``)."""
    watchdog = _Watchdog(con, timeout_seconds)
    try:
        with watchdog.armed():
            yield
    finally:
        watchdog.close()
