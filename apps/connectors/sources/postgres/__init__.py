"""PostgreSQL source, through psycopg 3.

Every query runs in a transaction started ``READ ONLY`` (so a write the SQL guard missed still
fails in the server), with ``statement_timeout`` set for that transaction only. Rows stream from a
server-side (named) cursor, ``batch_size`` rows per ``FETCH``, so memory stays flat however large
the result. ``statement_timeout`` applies to each ``FETCH`` round trip: the time the caller spends
between two batches is not counted.
Docs followed: https://www.psycopg.org/psycopg3/docs/advanced/cursors.html,
https://www.postgresql.org/docs/current/runtime-config-client.html
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from itertools import pairwise
from typing import Any, Self

import psycopg
import pyarrow as pa
from psycopg import sql as pgsql
from pydantic import ConfigDict, Field, SecretStr, field_validator, model_validator
from sqlglot import tokenize
from sqlglot.tokens import TokenType

from apps.connectors.base import CheckResult, ConnectorConfig, Source, SourceColumn
from apps.connectors.registry import register_source
from apps.connectors.sources.postgres.arrow import register_text_loaders, row_layout, to_record_batch
from apps.connectors.sql_guard import QueryTimeoutError, ensure_read_only, statement_body

_HOST_FIELDS = ("host", "database", "user", "password")
_DEFAULT_PORT = 5432


class PostgresConfig(ConnectorConfig):
    """Either ``url`` or host/port/database/user/password: exactly one of the two forms."""

    # "schema" is the contract's name, but it shadows a BaseModel attribute: the field is
    # ``schema_`` in Python and "schema" everywhere else (input, stored config, JSON schema).
    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True, serialize_by_alias=True)

    url: SecretStr | None = Field(default=None, description="postgresql://user:password@host:5432/db")
    host: str | None = None
    port: int = Field(default=_DEFAULT_PORT, ge=1, le=65535)
    database: str | None = None
    user: str | None = None
    password: SecretStr | None = None
    schema_: str | None = Field(default=None, alias="schema", description="Sets search_path.")
    timeout_seconds: float = Field(
        default=300, gt=0, le=86_400, description="statement_timeout of each query round trip."
    )

    @field_validator("url")
    @classmethod
    def _url_is_postgres(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.match(r"postgres(ql)?://", value.get_secret_value()):
            raise ValueError("url must start with postgresql:// (or postgres://)")
        return value

    @model_validator(mode="after")
    def _exactly_one_form(self) -> Self:
        # Judged on values, not on the keys given: a stored url config round-trips with port 5432.
        host_form = [name for name in _HOST_FIELDS if getattr(self, name) is not None]
        if self.port != _DEFAULT_PORT:
            host_form.append("port")
        if self.url is not None and host_form:
            raise ValueError(
                "Give either url or host/port/database/user/password, not both "
                f"(also got: {', '.join(host_form)})."
            )
        if self.url is None:
            missing = [name for name in ("host", "database", "user") if not getattr(self, name)]
            if missing:
                raise ValueError(
                    f"Give either url, or host, database and user (missing: {', '.join(missing)})."
                )
        return self


@register_source
class PostgresSource(Source):
    type = "postgres"
    label = "PostgreSQL"
    dialect = "postgres"
    Config = PostgresConfig
    config: PostgresConfig

    def _connect(self) -> psycopg.Connection[Any]:
        cfg = self.config
        # Connecting is bounded too; libpq takes whole seconds, and treats below 2 as 2.
        options: dict[str, Any] = {
            "connect_timeout": max(2, min(int(cfg.timeout_seconds), 30)),
            "application_name": "syncline",
        }
        if cfg.url is not None:
            conn = psycopg.connect(cfg.url.get_secret_value(), **options)
        else:
            conn = psycopg.connect(
                host=cfg.host,
                port=cfg.port,
                dbname=cfg.database,
                user=cfg.user,
                password=cfg.password.get_secret_value() if cfg.password else None,
                **options,
            )
        conn.read_only = True  # psycopg opens every transaction with BEGIN READ ONLY
        register_text_loaders(conn)
        return conn

    def _begin(self, conn: psycopg.Connection[Any]) -> None:
        """Settings for this transaction only (``is_local``), so nothing outlives the query."""
        timeout_ms = max(1, round(self.config.timeout_seconds * 1000))
        # Text forms pinned to PostgreSQL's defaults: rows are hashed from their text form
        # (row_hash_sql), so a server configured otherwise must not change every hash.
        settings = [
            ("statement_timeout", str(timeout_ms)),
            ("TimeZone", "UTC"),
            ("DateStyle", "ISO, MDY"),
            ("IntervalStyle", "postgres"),
            ("extra_float_digits", "1"),
        ]
        if self.config.schema_:
            settings.append(("search_path", pgsql.Identifier(self.config.schema_).as_string(conn)))
        for name, value in settings:
            conn.execute("SELECT set_config(%s, %s, true)", (name, value))

    def row_hash_sql(self, columns: Sequence[str]) -> str | None:
        # A signed 64-bit hash of the row's text form; the engine reads it as unsigned.
        # hashtextextended is what hash partitioning uses, so it is stable across servers.
        row = ", ".join(pgsql.Identifier(c).as_string() for c in columns)
        return f"hashtextextended(ROW({row})::text, 0)"

    def column_in_sql(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]] | None:
        return f"{pgsql.Identifier(column).as_string()} = ANY(%s)", [list(values)]

    def check(self) -> CheckResult:
        try:
            with self._connect() as conn:
                self._begin(conn)
                database, version = conn.execute(
                    "SELECT current_database(), current_setting('server_version')"
                ).fetchone()
        except psycopg.Error as exc:
            return CheckResult(False, f"Could not connect to PostgreSQL: {_one_line(exc)}")
        return CheckResult(True, f"Connected read-only to database {database} (PostgreSQL {version}).")

    def columns(self, sql: str) -> list[SourceColumn]:
        """Names and PostgreSQL type names (``format_type``: ``numeric(10,2)``, ``text``…)."""
        ensure_read_only(sql, self.dialect)
        body = statement_body(sql, self.dialect)
        with self._connect() as conn, _timeouts(self.config.timeout_seconds):
            self._begin(conn)
            cur = conn.execute(f"SELECT * FROM (\n{body}\n) AS q LIMIT 0")
            result = cur.pgresult
            assert result is not None and cur.description is not None
            oids = [result.ftype(i) for i in range(result.nfields)]
            mods = [result.fmod(i) for i in range(result.nfields)]
            names = [c.name for c in cur.description]
            types = conn.execute(
                "SELECT format_type(t.oid, t.mod) FROM unnest(%s::oid[], %s::int[]) WITH ORDINALITY"
                " AS t(oid, mod, n) ORDER BY t.n",
                (oids, mods),
            ).fetchall()
        return [SourceColumn(n, t) for n, (t,) in zip(names, types, strict=True)]

    def stream(
        self, sql: str, *, params: Sequence[Any] = (), batch_size: int = 50_000
    ) -> Iterator[pa.RecordBatch]:
        ensure_read_only(sql, self.dialect)
        body = statement_body(sql, self.dialect)
        query = escape_percent(body) if params else body
        with self._connect() as conn, _timeouts(self.config.timeout_seconds):
            self._begin(conn)
            with conn.cursor(name=f"syncline_{uuid.uuid4().hex}") as cur:
                cur.execute(query, list(params) or None)
                assert cur.description is not None
                layout = row_layout(cur.description)
                while rows := cur.fetchmany(batch_size):
                    yield to_record_batch(rows, layout)


def escape_percent(sql: str) -> str:
    """Double every ``%`` of ``sql`` except those of ``%s`` placeholders.

    With parameters, psycopg reads every ``%`` as the start of a placeholder, so a literal one
    (``LIKE 'a%'``, the modulo operator, a comment) must be written ``%%``. sqlglot's tokens tell
    the placeholders (a ``%`` directly followed by the word ``s``) from the rest, strings included.
    """
    tokens = tokenize(sql, read="postgres")
    placeholders = {
        tok.start
        for tok, nxt in pairwise(tokens)
        if tok.token_type == TokenType.MOD and nxt.start == tok.end + 1 and nxt.text == "s"
    }
    return "".join("%%" if char == "%" and i not in placeholders else char for i, char in enumerate(sql))


@contextmanager
def _timeouts(timeout_seconds: float) -> Iterator[None]:
    """Turn PostgreSQL's statement-timeout cancellation into ``QueryTimeoutError``."""
    try:
        yield
    except psycopg.errors.QueryCanceled as exc:
        raise QueryTimeoutError(timeout_seconds, "PostgreSQL") from exc


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
