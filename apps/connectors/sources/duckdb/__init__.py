"""DuckDB source: a database file, and Parquet/CSV files read through DuckDB (the lakehouse case).

Connections are opened read-only, so no query can change the warehouse.
Docs followed: https://duckdb.org/docs/stable/clients/python/overview
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from pydantic import Field, field_validator

from apps.connectors.base import CheckResult, ConnectorConfig, Source, SourceColumn
from apps.connectors.registry import register_source


class DuckDBConfig(ConnectorConfig):
    path: str = Field(description="DuckDB database file; ':memory:' for files-only (Parquet/CSV) queries.")
    threads: int | None = Field(default=None, ge=1, le=64)

    @field_validator("path")
    @classmethod
    def _path_not_empty(cls, value: str) -> str:
        if not value:
            raise ValueError("path must name a DuckDB database file or ':memory:'")
        return value


@register_source
class DuckDBSource(Source):
    type = "duckdb"
    label = "DuckDB / Parquet / CSV"
    dialect = "duckdb"
    Config = DuckDBConfig
    config: DuckDBConfig

    def _connect(self) -> duckdb.DuckDBPyConnection:
        path = self.config.path
        if path != ":memory:" and not Path(path).exists():
            raise FileNotFoundError(f"DuckDB database file not found: {path}")
        con = duckdb.connect(path, read_only=path != ":memory:")
        if self.config.threads:
            con.execute(f"SET threads = {int(self.config.threads)}")
        return con

    def check(self) -> CheckResult:
        try:
            with self._connect() as con:
                tables = con.execute("SELECT count(*) FROM duckdb_tables()").fetchone()[0]
        except (duckdb.Error, FileNotFoundError) as exc:
            return CheckResult(False, f"Could not open DuckDB database: {exc}")
        return CheckResult(True, f"Connected read-only; {tables} table(s) visible.")

    def columns(self, sql: str) -> list[SourceColumn]:
        with self._connect() as con:
            rel = con.sql(f"SELECT * FROM ({sql}) AS q LIMIT 0")
            return [SourceColumn(n, str(t)) for n, t in zip(rel.columns, rel.types, strict=True)]

    def stream(
        self, sql: str, *, params: Sequence[Any] = (), batch_size: int = 50_000
    ) -> Iterator[pa.RecordBatch]:
        con = self._connect()
        try:
            reader = con.sql(sql, params=list(params) or None).to_arrow_reader(batch_size)
            yield from reader
        finally:
            con.close()
