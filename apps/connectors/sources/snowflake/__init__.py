"""Snowflake source, through snowflake-connector-python.

Snowflake has no read-only transaction, so the SQL guard is the main barrier here, and connections
allow one statement per call (the connector's default); give the user a role with read grants
only. The session's ``STATEMENT_TIMEOUT_IN_SECONDS`` bounds each query on the server. Results
arrive as Arrow (``fetch_arrow_batches``), never as Python rows.
Docs followed: https://docs.snowflake.com/en/developer-guide/python-connector/python-connector-api,
https://docs.snowflake.com/en/sql-reference/parameters#statement-timeout-in-seconds
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urlsplit

import pyarrow as pa
from cryptography.hazmat.primitives import serialization
from pydantic import ConfigDict, Field, SecretStr, field_validator, model_validator

from apps.connectors.base import CheckResult, ConnectorConfig, Source, SourceColumn
from apps.connectors.registry import register_source
from apps.connectors.sql_guard import QueryTimeoutError, ensure_read_only, statement_body

if TYPE_CHECKING:
    import snowflake.connector
    from snowflake.connector.cursor import ResultMetadata


def _snowflake() -> Any:
    """The connector package, imported on first use: it takes ~0.3 s to import, and every
    Syncline process (web, worker, commands) would otherwise pay for it at start-up."""
    import snowflake.connector

    return snowflake.connector


# Snowflake's "Statement reached its statement or warehouse timeout" error, and the SQLSTATE of
# any cancelled query.
_TIMEOUT_ERRNO = 630
_CANCELLED_SQLSTATE = "57014"
_LOGIN_TIMEOUT_CAP_SECONDS = 60


class SnowflakeConfig(ConnectorConfig):
    """Password or key-pair authentication: exactly one of ``password`` and ``private_key``."""

    # "schema" shadows a BaseModel attribute: ``schema_`` in Python, "schema" everywhere else.
    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True, serialize_by_alias=True)

    account: str = Field(description="Account identifier, e.g. myorg-myaccount.")
    user: str
    password: SecretStr | None = None
    private_key: SecretStr | None = Field(default=None, description="PEM text of the PKCS#8 private key.")
    private_key_passphrase: SecretStr | None = None
    warehouse: str | None = None
    database: str | None = None
    schema_: str | None = Field(default=None, alias="schema")
    role: str | None = None
    base_url: str | None = Field(
        default=None, description="Only to override the account's URL, e.g. a PrivateLink host."
    )
    timeout_seconds: float = Field(
        default=300, gt=0, le=172_800, description="STATEMENT_TIMEOUT_IN_SECONDS of the session."
    )

    @field_validator("base_url")
    @classmethod
    def _url_has_host(cls, value: str | None) -> str | None:
        if value:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError("base_url must look like https://host[:port]")
        return value or None

    @model_validator(mode="after")
    def _one_credential(self) -> Self:
        if (self.password is None) == (self.private_key is None):
            raise ValueError("Give exactly one of password and private_key.")
        if self.private_key_passphrase is not None and self.private_key is None:
            raise ValueError("private_key_passphrase needs a private_key.")
        return self


@register_source
class SnowflakeSource(Source):
    type = "snowflake"
    label = "Snowflake"
    dialect = "snowflake"
    Config = SnowflakeConfig
    config: SnowflakeConfig

    def _connect_kwargs(self) -> dict[str, Any]:
        cfg = self.config
        timeout = math.ceil(cfg.timeout_seconds)
        kwargs: dict[str, Any] = {
            "account": cfg.account,
            "user": cfg.user,
            "warehouse": cfg.warehouse,
            "database": cfg.database,
            "schema": cfg.schema_,
            "role": cfg.role,
            "paramstyle": "qmark",  # "?" placeholders, bound by the server
            "login_timeout": min(timeout, _LOGIN_TIMEOUT_CAP_SECONDS),
            # Scaled NUMBERs as exact decimals rather than floats.
            "arrow_number_to_decimal": True,
            "session_parameters": {
                "STATEMENT_TIMEOUT_IN_SECONDS": timeout,
                "PYTHON_CONNECTOR_QUERY_RESULT_FORMAT": "ARROW",
                "QUERY_TAG": "syncline",
            },
        }
        if cfg.password is not None:
            kwargs["password"] = cfg.password.get_secret_value()
        if cfg.private_key is not None:
            kwargs["private_key"] = _der_private_key(cfg.private_key, cfg.private_key_passphrase)
        if cfg.base_url:
            parts = urlsplit(cfg.base_url)
            kwargs["protocol"] = parts.scheme
            kwargs["host"] = parts.hostname
            kwargs["port"] = parts.port or (443 if parts.scheme == "https" else 80)
        return {k: v for k, v in kwargs.items() if v is not None}

    def _connect(self) -> snowflake.connector.SnowflakeConnection:
        # Looked up on the module at call time, so fakesnow's patch applies in tests.
        return _snowflake().connect(**self._connect_kwargs())

    def check(self) -> CheckResult:
        try:
            with closing(self._connect()) as con, closing(con.cursor()) as cur:
                version = cur.execute("SELECT CURRENT_VERSION()").fetchone()[0]
        # ValueError/TypeError: a private key that does not load (bad PEM, wrong or missing passphrase).
        except (_snowflake().errors.Error, ValueError, TypeError) as exc:
            return CheckResult(False, f"Could not connect to Snowflake: {' '.join(str(exc).split())}")
        return CheckResult(True, f"Connected to Snowflake account {self.config.account} (version {version}).")

    def columns(self, sql: str) -> list[SourceColumn]:
        """Names and Snowflake type names (``NUMBER(38,0)``, ``VARCHAR``…), from DESCRIBE only."""
        ensure_read_only(sql, self.dialect)
        body = statement_body(sql, self.dialect)
        with closing(self._connect()) as con, closing(con.cursor()) as cur, self._timeouts():
            described = cur.describe(body)
        return [SourceColumn(m.name, _type_name(m)) for m in described]

    def stream(
        self, sql: str, *, params: Sequence[Any] = (), batch_size: int = 50_000
    ) -> Iterator[pa.RecordBatch]:
        ensure_read_only(sql, self.dialect)
        body = statement_body(sql, self.dialect)
        with closing(self._connect()) as con, closing(con.cursor()) as cur, self._timeouts():
            cur.execute(body, list(params) or None)
            target: pa.Schema | None = None
            for table in cur.fetch_arrow_batches(force_microsecond_precision=True):
                # The connector sizes integers per result chunk (int8 in one, int32 in the next):
                # every table is cast to one schema so all batches agree.
                target = target or _target_schema(table.schema, cur.description)
                if table.schema != target:
                    table = _cast(table, target)
                yield from table.to_batches(max_chunksize=batch_size)

    @contextmanager
    def _timeouts(self) -> Iterator[None]:
        try:
            yield
        except _snowflake().errors.ProgrammingError as exc:
            if exc.errno == _TIMEOUT_ERRNO or exc.sqlstate == _CANCELLED_SQLSTATE:
                raise QueryTimeoutError(self.config.timeout_seconds, "Snowflake") from exc
            raise


def _der_private_key(pem: SecretStr, passphrase: SecretStr | None) -> bytes:
    """The connector wants DER bytes; users paste the PEM text of their .p8 file."""
    key = serialization.load_pem_private_key(
        pem.get_secret_value().encode(),
        password=passphrase.get_secret_value().encode() if passphrase else None,
    )
    return key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _type_name(meta: ResultMetadata) -> str:
    from snowflake.connector.constants import FIELD_ID_TO_NAME

    name = FIELD_ID_TO_NAME[meta.type_code]
    if name == "FIXED":
        return f"NUMBER({meta.precision},{meta.scale})"
    return {"REAL": "FLOAT", "TEXT": "VARCHAR"}.get(name, name)


def _arrow_type(meta: ResultMetadata) -> pa.DataType | None:
    """The Arrow type every batch gets for this column; None keeps the connector's own."""
    from snowflake.connector.constants import FIELD_ID_TO_NAME

    name = FIELD_ID_TO_NAME[meta.type_code]
    if name == "FIXED":
        if not meta.scale:
            return pa.int64()
        return pa.decimal128(meta.precision or 38, meta.scale)
    return {
        "REAL": pa.float64(),
        "TEXT": pa.string(),
        "DATE": pa.date32(),
        "BOOLEAN": pa.bool_(),
        "BINARY": pa.binary(),
        "TIMESTAMP_NTZ": pa.timestamp("us"),
        "TIMESTAMP_LTZ": pa.timestamp("us", tz="UTC"),
        "TIMESTAMP_TZ": pa.timestamp("us", tz="UTC"),
    }.get(name)


def _target_schema(first: pa.Schema, description: list[ResultMetadata] | None) -> pa.Schema:
    metas = description or []
    fields = []
    for i, field in enumerate(first):
        wanted = _arrow_type(metas[i]) if i < len(metas) else None
        # Field metadata (Snowflake's logicalType…) is dropped: it differs between chunks.
        fields.append(pa.field(field.name, wanted or field.type))
    return pa.schema(fields)


def _cast(table: pa.Table, target: pa.Schema) -> pa.Table:
    try:
        return table.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise ValueError(
            f"A Snowflake result chunk does not fit the result's column types ({exc}). "
            "CAST the column in the query, e.g. to VARCHAR."
        ) from exc
