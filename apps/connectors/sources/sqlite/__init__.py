"""SQLite source: one database file, opened read-only.

Three barriers keep it read-only: the SQL guard, the ``mode=ro`` URI (SQLite refuses every write),
and an authorizer that lets statements only read tables and call functions.

SQLite types values, not columns, and Python's ``sqlite3`` does not expose declared column types,
so the Arrow schema is inferred from the values: each column takes the type of the values seen in
the first batch, reading a few batches ahead when a column is still all NULL there. The schema is
then fixed for the whole stream, so every batch has the same one.
Docs followed: https://docs.python.org/3/library/sqlite3.html, https://www.sqlite.org/uri.html
"""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
from pydantic import Field, field_validator

from apps.connectors.base import CheckResult, ConnectorConfig, Source, SourceColumn
from apps.connectors.data_paths import check_data_path
from apps.connectors.registry import register_source
from apps.connectors.sql_guard import QueryTimeoutError, ensure_read_only, statement_body

# How many batches may be read ahead, before the first is yielded, to type all-NULL columns.
_LOOKAHEAD_BATCHES = 4
# Rows columns() samples to report a type (SQLite has no other source of one).
_COLUMNS_SAMPLE_ROWS = 100
# SQLite VM instructions between two deadline checks: frequent enough for sub-second timeouts,
# rare enough that the Python callback costs nothing measurable.
_PROGRESS_STEPS = 10_000
# What a read-only query needs from the authorizer; everything else (writes, PRAGMA, ATTACH,
# transactions…) is denied at prepare time.
_ALLOWED_ACTIONS = frozenset(
    {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}
)
_STORAGE_CLASS = {pa.int64(): "INTEGER", pa.float64(): "REAL", pa.string(): "TEXT", pa.binary(): "BLOB"}
_PY_TO_SQLITE = {int: "INTEGER", float: "REAL", str: "TEXT", bytes: "BLOB"}
# Python value types each non-text Arrow type takes as is (a string column takes anything but bytes).
_ACCEPTED_KINDS: dict[pa.DataType, set[type]] = {
    pa.int64(): {int},
    pa.float64(): {int, float},
    pa.binary(): {bytes},
}


class SQLiteConfig(ConnectorConfig):
    path: str = Field(description="Path of the SQLite database file.")
    timeout_seconds: float = Field(
        default=300, gt=0, le=86_400, description="Longest time SQLite may work on one batch."
    )

    @field_validator("path")
    @classmethod
    def _path_in_a_data_directory(cls, value: str) -> str:
        if not value:
            raise ValueError("path must name a SQLite database file")
        return check_data_path(value)


@register_source
class SQLiteSource(Source):
    type = "sqlite"
    label = "SQLite"
    dialect = "sqlite"
    Config = SQLiteConfig
    config: SQLiteConfig

    def _connect(self) -> tuple[sqlite3.Connection, _Deadline]:
        path = Path(self.config.path)
        if not path.is_file():
            raise FileNotFoundError(f"SQLite database file not found: {path}")
        # isolation_level=None: the sqlite3 module must not issue BEGIN on its own.
        # check_same_thread=False: the caller may resume the stream from another thread; a
        # generator is only ever run by one thread at a time.
        con = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
        )
        con.set_authorizer(_authorize)
        deadline = _Deadline(self.config.timeout_seconds)
        con.set_progress_handler(deadline.expired, _PROGRESS_STEPS)
        return con, deadline

    def check(self) -> CheckResult:
        try:
            con, _ = self._connect()
            with closing(con):
                tables = con.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
        except (sqlite3.Error, FileNotFoundError) as exc:
            return CheckResult(False, f"Could not open SQLite database: {exc}")
        return CheckResult(True, f"Opened read-only; {tables} table(s) visible.")

    def columns(self, sql: str) -> list[SourceColumn]:
        """Names, and the storage class of a small sample of values (TEXT when all are NULL)."""
        ensure_read_only(sql, self.dialect)
        body = statement_body(sql, self.dialect)
        con, deadline = self._connect()
        with closing(con), deadline.step():
            cur = con.execute(f"SELECT * FROM (\n{body}\n) LIMIT {_COLUMNS_SAMPLE_ROWS}")
            rows = cur.fetchall()
            names = [d[0] for d in cur.description]
        types = _infer_types([rows], len(names))
        return [SourceColumn(n, _STORAGE_CLASS[t]) for n, t in zip(names, types, strict=True)]

    def stream(
        self, sql: str, *, params: Sequence[Any] = (), batch_size: int = 50_000
    ) -> Iterator[pa.RecordBatch]:
        ensure_read_only(sql, self.dialect)
        body = statement_body(sql, self.dialect)
        con, deadline = self._connect()
        with closing(con):
            with deadline.step():
                cur = con.execute(body, tuple(params))
                names = [d[0] for d in cur.description]
                pending = [cur.fetchmany(batch_size)]
            # Read ahead while a column has shown nothing but NULLs, so it gets a real type.
            while (
                len(pending) < _LOOKAHEAD_BATCHES
                and len(pending[-1]) == batch_size
                and _has_untyped_column(pending, len(names))
            ):
                with deadline.step():
                    pending.append(cur.fetchmany(batch_size))
            types = _infer_types(pending, len(names))
            schema = pa.schema([pa.field(n, t) for n, t in zip(names, types, strict=True)])
            while pending:
                rows = pending.pop(0)
                if rows:
                    yield _to_batch(rows, schema)
            while True:
                # Only SQLite's own work is timed, not the caller's between two batches.
                with deadline.step():
                    rows = cur.fetchmany(batch_size)
                if not rows:
                    return
                yield _to_batch(rows, schema)


class _Deadline:
    """Progress-handler clock: aborts the running SQLite call once its step outlasts the timeout."""

    def __init__(self, timeout_seconds: float) -> None:
        self.timeout_seconds = timeout_seconds
        self._until = math.inf
        self._hit = False

    def expired(self) -> bool:
        # sqlite3 aborts the statement (OperationalError "interrupted") when this returns true.
        if time.monotonic() > self._until:
            self._hit = True
            return True
        return False

    @contextmanager
    def step(self) -> Iterator[None]:
        self._until = time.monotonic() + self.timeout_seconds
        self._hit = False
        try:
            yield
        except sqlite3.OperationalError:
            if self._hit:
                raise QueryTimeoutError(self.timeout_seconds, "SQLite") from None
            raise
        finally:
            self._until = math.inf


def _authorize(action: int, arg1: str | None, arg2: str | None, db: str | None, source: str | None) -> int:
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() == "load_extension":
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK if action in _ALLOWED_ACTIONS else sqlite3.SQLITE_DENY


def _value_kinds(batches: list[list[tuple]], ncols: int) -> list[set[type]]:
    kinds: list[set[type]] = [set() for _ in range(ncols)]
    for rows in batches:
        for i, column in enumerate(zip(*rows, strict=True)):
            kinds[i].update(map(type, column))
    for k in kinds:
        k.discard(type(None))
    return kinds


def _has_untyped_column(batches: list[list[tuple]], ncols: int) -> bool:
    return any(not k for k in _value_kinds(batches, ncols))


def _infer_types(batches: list[list[tuple]], ncols: int) -> list[pa.DataType]:
    return [_arrow_type(k) for k in _value_kinds(batches, ncols)]


def _arrow_type(kinds: set[type]) -> pa.DataType:
    if kinds == {int}:
        return pa.int64()
    if kinds == {bytes}:
        return pa.binary()
    if kinds and kinds <= {int, float}:
        return pa.float64()
    # Text, a text/number mix (numbers are rendered as text), or nothing but NULLs seen so far:
    # string is the one type every later value can still take.
    return pa.string()


def _to_batch(rows: list[tuple], schema: pa.Schema) -> pa.RecordBatch:
    columns = zip(*rows, strict=True)
    arrays = [_to_array(list(values), field) for values, field in zip(columns, schema, strict=True)]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _to_array(values: list[Any], field: pa.Field) -> pa.Array:
    kinds = {type(v) for v in values} - {type(None)}
    if field.type == pa.string():
        if bytes in kinds:
            raise _type_change(field, kinds)
        if kinds - {str}:
            values = [v if v is None or isinstance(v, str) else str(v) for v in values]
    elif not kinds <= _ACCEPTED_KINDS[field.type]:
        raise _type_change(field, kinds)
    return pa.array(values, type=field.type, from_pandas=False)


def _type_change(field: pa.Field, kinds: set[type]) -> ValueError:
    found = ", ".join(sorted(_PY_TO_SQLITE[k] for k in kinds))
    return ValueError(
        f"SQLite column {field.name!r} changed type mid-result: it was typed {_STORAGE_CLASS[field.type]} "
        f"from its first values but later holds {found}. CAST it in the query to one type."
    )
