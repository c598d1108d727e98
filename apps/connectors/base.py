"""The connector interface and the plain dataclasses that cross it.

A connector is configured with a typed ``ConnectorConfig`` (pydantic) whose ``SecretStr`` fields
are its secrets: those are stored encrypted and never shown back. Everything a connector returns
is a plain dataclass, so the engine and the API never depend on a vendor's shapes.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Literal

import orjson
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, SecretStr

from apps.connectors.json_rows import JsonRows

FieldType = Literal[
    "string", "email", "phone", "integer", "number", "boolean", "date", "datetime", "enum", "json"
]
FIELD_TYPES: tuple[str, ...] = FieldType.__args__  # type: ignore[attr-defined]
WRITE_MODES: tuple[str, ...] = ("upsert", "insert", "update", "delete", "mirror")
# Connector-specific modes of audiences (ads platforms): the query's rows are added to, or removed
# from, the list. An object lists the modes it supports; these sets say what each mode does.
AUDIENCE_MODES: tuple[str, ...] = ("add", "remove")
CREATING_MODES = frozenset({"upsert", "insert", "mirror", "add"})
UPDATING_MODES = frozenset({"update", "upsert", "mirror"})
KEY_MODES = frozenset({"upsert", "update", "delete", "mirror", "add", "remove"})


class ErrorCode(enum.StrEnum):
    """Stable DLQ / run error codes from the API contract."""

    VALIDATION_FAILED = "validation_failed"
    MISSING_REQUIRED_FIELD = "missing_required_field"
    INVALID_FIELD_VALUE = "invalid_field_value"
    DESTINATION_CONSTRAINT_VIOLATION = "destination_constraint_violation"
    DESTINATION_REJECTED = "destination_rejected"
    AUTH_FAILED = "auth_failed"
    PERMISSION_DENIED = "permission_denied"
    RATE_LIMITED = "rate_limited"
    DESTINATION_UNAVAILABLE = "destination_unavailable"
    SCHEMA_DRIFT = "schema_drift"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    SOURCE_ROW_MISSING = "source_row_missing"


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    type: FieldType
    required: bool = False
    createable: bool = True
    updateable: bool = True
    identifier: bool = False
    enum_values: tuple[str, ...] | None = None
    max_length: int | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["enum_values"] = list(self.enum_values) if self.enum_values is not None else None
        return data


@dataclass(frozen=True)
class ObjectSpec:
    name: str
    label: str
    supported_modes: tuple[str, ...]
    custom: bool = False
    freeform_fields: bool = False  # accepts any field name (custom HTTP)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "supported_modes": list(self.supported_modes),
            "custom": self.custom,
            "freeform_fields": self.freeform_fields,
        }


class OutgoingBatch:
    """One batch of records for a destination, as the engine produces them.

    The engine renders each record as a JSON object text inside the warehouse engine (fields
    already mapped, coerced and validated), because building Python dicts per row is the
    bottleneck of a sync. Destinations that send JSON build request bodies from ``json_array``
    (no Python object per row when the engine hands over ``JsonRows``); the others read
    ``rows_json`` or ``records`` (made once, on first use).
    """

    __slots__ = ("_json_rows", "_records", "_rows_json", "idempotency_key")

    def __init__(
        self,
        rows_json: Sequence[str] | None = None,
        *,
        records: Sequence[dict[str, Any]] | None = None,
        json_rows: JsonRows | None = None,
        idempotency_key: str | None = None,
    ) -> None:
        # Derived from the batch's content by the engine: a resend of the same rows after a crash
        # carries the same key, so destinations that honour Idempotency-Key apply it once.
        self.idempotency_key = idempotency_key
        self._json_rows = json_rows
        self._rows_json: list[str] | None = list(rows_json) if rows_json is not None else None
        if self._rows_json is None and json_rows is None:
            self._rows_json = [orjson.dumps(r).decode() for r in records or ()]
        self._records: list[dict[str, Any]] | None = list(records) if records is not None else None

    @classmethod
    def of(cls, records: Sequence[dict[str, Any]]) -> OutgoingBatch:
        return cls(records=records)

    @property
    def rows_json(self) -> list[str]:
        """Each record's JSON object text."""
        if self._rows_json is None:
            assert self._json_rows is not None
            self._rows_json = self._json_rows.texts()
        return self._rows_json

    @property
    def records(self) -> list[dict[str, Any]]:
        if self._records is None:
            self._records = [orjson.loads(r) for r in self.rows_json]
        return self._records

    def json_array(self, start: int = 0, stop: int | None = None) -> bytes:
        """``[record,…]`` of records ``start .. stop-1`` (to the end by default), UTF-8 encoded."""
        stop = len(self) if stop is None else min(stop, len(self))
        if self._json_rows is not None:
            return self._json_rows.json_array(start, stop)
        return ("[" + ",".join(self.rows_json[start:stop]) + "]").encode()

    def __len__(self) -> int:
        return len(self._json_rows) if self._json_rows is not None else len(self.rows_json)


@dataclass(frozen=True)
class RecordOutcome:
    """What the destination said about one record of a batch, by its position in the batch."""

    index: int
    ok: bool
    record_id: str | None = None
    error_code: str | None = None
    message: str | None = None
    status: int | None = None
    retryable: bool = False


@dataclass
class WriteResult:
    outcomes: list[RecordOutcome]
    requests: int = 1

    @property
    def succeeded(self) -> list[RecordOutcome]:
        return [o for o in self.outcomes if o.ok]

    @property
    def failed(self) -> list[RecordOutcome]:
        return [o for o in self.outcomes if not o.ok]


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    message: str


class ConnectorError(Exception):
    """A failure of a whole request, classified so the engine can decide: retry, DLQ or fail."""

    def __init__(
        self,
        message: str,
        *,
        code: str = ErrorCode.DESTINATION_REJECTED,
        status: int | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = str(code)
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after


class ConnectorConfig(BaseModel):
    """Base of every connector's config model. ``SecretStr`` fields are secrets."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @classmethod
    def secret_field_names(cls) -> tuple[str, ...]:
        return tuple(
            name
            for name, info in cls.model_fields.items()
            if info.annotation is SecretStr or SecretStr in getattr(info.annotation, "__args__", ())
        )

    def split(self) -> tuple[dict[str, Any], dict[str, str]]:
        """(public config, secrets) for storage: secrets go to the encrypted column only."""
        secret_names = self.secret_field_names()
        public = self.model_dump(mode="json", exclude=set(secret_names), exclude_none=True)
        secrets: dict[str, str] = {}
        for name in secret_names:
            value = getattr(self, name)
            if value is not None:
                secrets[name] = value.get_secret_value()
        return public, secrets


@dataclass(frozen=True)
class SourceColumn:
    name: str
    type: str


class Source(ABC):
    """A warehouse or lakehouse the engine reads from, read-only, as Arrow record batches."""

    type: ClassVar[str]
    label: ClassVar[str]
    dialect: ClassVar[str]  # sqlglot dialect name
    Config: ClassVar[type[ConnectorConfig]]

    def __init__(self, config: ConnectorConfig) -> None:
        self.config = config

    @abstractmethod
    def check(self) -> CheckResult: ...

    @abstractmethod
    def columns(self, sql: str) -> list[SourceColumn]:
        """The columns ``sql`` would return, without reading its rows."""

    @abstractmethod
    def stream(
        self, sql: str, *, params: Sequence[Any] = (), batch_size: int = 50_000
    ) -> Iterator[pa.RecordBatch]:
        """Run ``sql`` read-only and yield its rows as Arrow record batches."""

    # --- optional: diff on row hashes computed in the warehouse -------------------------------
    # A source that implements both lets the engine read only the hash of every row, compare
    # them with the accepted state, and then read in full only the rows that changed.
    def row_hash_sql(self, columns: Sequence[str]) -> str | None:
        """A SQL expression (this warehouse's dialect) giving a 64-bit unsigned hash of the quoted
        ``columns`` of one row, the same for the same values on every run; None if unsupported."""
        return None

    def column_in_sql(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]] | None:
        """A SQL condition (and its parameters) true for rows whose ``column`` is one of
        ``values`` (never NULL); None if unsupported."""
        return None

    def stream_where_in(
        self,
        sql: str,
        column: str,
        values: pa.Array,
        *,
        params: Sequence[Any] = (),
        batch_size: int = 50_000,
    ) -> Iterator[pa.RecordBatch]:
        """The rows of ``sql`` whose output ``column`` is one of ``values``. By default the
        ``column_in_sql`` condition with the values as a parameter; a source that can take them
        some cheaper way overrides this."""
        condition = self.column_in_sql(column, values.to_pylist())
        if condition is None:
            raise NotImplementedError(f"{type(self).__name__} cannot select rows by a list of values")
        where, extra = condition
        return self.stream(
            f"SELECT * FROM ({sql}) AS r WHERE {where}", params=[*params, *extra], batch_size=batch_size
        )

    def prepare(self) -> None:  # noqa: B027 - optional hook
        """Start connecting, in the background if the source can: a run calls this before
        setting up the rest, so that connecting overlaps it. Errors surface at the first read."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections; sources that hold none need not override it."""


class Destination(ABC):
    """A SaaS tool, ad platform or HTTP endpoint the engine writes to."""

    type: ClassVar[str]
    label: ClassVar[str]
    Config: ClassVar[type[ConnectorConfig]]
    max_batch_size: ClassVar[int] = 100
    max_concurrency: ClassVar[int] = 4
    # Set by whoever built the connector from a stored connection (``connector_for``): called,
    # on the thread that saw it, with the config holding a secret the vendor replaced (a rotated
    # refresh token), which must be stored at once: the old value no longer works.
    keep_secrets: Callable[[ConnectorConfig], None] | None = None

    def __init__(self, config: ConnectorConfig) -> None:
        self.config = config

    @abstractmethod
    def check(self) -> CheckResult: ...

    @abstractmethod
    def list_objects(self) -> list[ObjectSpec]: ...

    @abstractmethod
    def list_fields(self, object_name: str) -> list[FieldSpec]: ...

    def get_object(self, object_name: str) -> ObjectSpec | None:
        return next((o for o in self.list_objects() if o.name == object_name), None)

    def batch_size(self, object_name: str, mode: str) -> int:
        return self.max_batch_size

    def rate_limit(self) -> tuple[float | None, int]:
        """(requests per second, burst) the engine keeps to; (None, 1) = no limit. Kept per
        request sent through ``apps.connectors.http.send``, which every HTTP connector uses."""
        return None, 1

    def concurrency(self) -> int:
        """How many requests the engine may have in flight at once."""
        return self.max_concurrency

    def rate_limit_scope(self) -> str | None:
        """What the vendor counts requests against, when that is more than this connection (an
        app's credential): connections with the same scope share one token bucket. None: this
        connection alone."""
        return None

    @abstractmethod
    def write(
        self, object_name: str, mode: str, batch: OutgoingBatch, *, match_key: str | None
    ) -> WriteResult:
        """Write one batch; return one outcome per record, in order (``index`` = position in batch).

        Per-record rejections are outcomes, not exceptions. A failure of the whole request
        (auth, 5xx, timeout, 429) raises ``ConnectorError`` with its classification.
        """

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release clients; destinations that hold none need not override it."""


@dataclass
class ConnectorInfo:
    type: str
    label: str
    role: Literal["source", "destination"]
    cls: type[Source] | type[Destination]
    secret_fields: tuple[str, ...] = field(default_factory=tuple)
