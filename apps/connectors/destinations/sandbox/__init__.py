"""The built-in sandbox CRM: a destination that works offline, part of the product.

It behaves like a CRM's batch API so a new user can walk the whole flow with no external
account: objects with typed fields (required, read-only, identifier, enum, max length), batch
create/update/upsert/delete of up to 100 records, and realistic per-record rejections (an invalid
email, a missing required property, a duplicate identifier, an update of a record that does not
exist) answered as partial success, never as an all-or-nothing failure.

Modelled on the shapes of HubSpot's CRM v3 batch endpoints
(https://developers.hubspot.com/docs/api/crm/understanding-the-crm) without their wire format:
the sandbox is called in-process and keeps its data in a SQLite file per account.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator

from apps.connectors.base import (
    CheckResult,
    ConnectorConfig,
    ConnectorError,
    Destination,
    ErrorCode,
    FieldSpec,
    ObjectSpec,
    OutgoingBatch,
    RecordOutcome,
    WriteResult,
)
from apps.connectors.data_paths import check_data_path
from apps.connectors.destinations.sandbox.catalog import OBJECTS
from apps.connectors.destinations.sandbox.store import SandboxStore
from apps.connectors.destinations.sandbox.values import check_value
from apps.connectors.registry import register_destination

MAX_BATCH = 100


class SandboxConfig(ConnectorConfig):
    path: str = Field(description="SQLite file holding this sandbox account's records.")
    api_token: SecretStr | None = Field(
        default=None,
        description="Optional token. The first token used is kept by the account; another one is refused.",
    )

    @field_validator("path")
    @classmethod
    def _path_in_a_data_directory(cls, value: str) -> str:
        return check_data_path(value)


@register_destination
class SandboxDestination(Destination):
    type = "sandbox"
    label = "Sandbox CRM (offline)"
    Config = SandboxConfig
    max_batch_size = MAX_BATCH
    config: SandboxConfig

    def __init__(self, config: ConnectorConfig) -> None:
        super().__init__(config)
        self.store = SandboxStore(Path(self.config.path))

    # --- catalog ---------------------------------------------------------------------------
    def list_objects(self) -> list[ObjectSpec]:
        return [spec for spec, _ in OBJECTS.values()]

    def list_fields(self, object_name: str) -> list[FieldSpec]:
        return list(self._object(object_name)[1])

    def _object(self, object_name: str) -> tuple[ObjectSpec, tuple[FieldSpec, ...]]:
        try:
            return OBJECTS[object_name]
        except KeyError:
            raise ConnectorError(
                f"Object '{object_name}' does not exist in the sandbox; objects: {', '.join(OBJECTS)}",
                code=ErrorCode.SCHEMA_DRIFT,
                status=404,
            ) from None

    # --- auth --------------------------------------------------------------------------------
    def _authenticate(self) -> None:
        token = self.config.api_token.get_secret_value() if self.config.api_token else None
        if token is None:
            if self.store.account_value("api_token") is not None:
                raise ConnectorError(
                    "Authentication credentials not found: this sandbox account requires an api_token",
                    code=ErrorCode.AUTH_FAILED,
                    status=401,
                )
            return
        if self.store.set_account_value_once("api_token", token) != token:
            raise ConnectorError(
                "The API token provided is invalid for this sandbox account",
                code=ErrorCode.AUTH_FAILED,
                status=401,
            )

    def check(self) -> CheckResult:
        try:
            self._authenticate()
        except ConnectorError as exc:
            return CheckResult(False, exc.message)
        except OSError as exc:
            return CheckResult(False, f"Sandbox storage is not usable: {exc}")
        counts = ", ".join(f"{self.store.count(name)} {name}" for name in OBJECTS)
        return CheckResult(True, f"Sandbox account ready ({counts}).")

    # --- writes ------------------------------------------------------------------------------
    def write(
        self, object_name: str, mode: str, batch: OutgoingBatch, *, match_key: str | None
    ) -> WriteResult:
        spec, fields = self._object(object_name)
        if mode not in spec.supported_modes or mode == "mirror":
            raise ConnectorError(
                f"Mode '{mode}' is not supported for {object_name}; supported: "
                f"{', '.join(m for m in spec.supported_modes if m != 'mirror')}",
                code=ErrorCode.DESTINATION_REJECTED,
                status=400,
            )
        records = batch.records
        if len(records) > MAX_BATCH:
            raise ConnectorError(
                f"Batch of {len(records)} records exceeds the limit of {MAX_BATCH}",
                code=ErrorCode.PAYLOAD_TOO_LARGE,
                status=413,
            )
        by_name = {f.name: f for f in fields}
        if mode != "insert":
            key_spec = by_name.get(match_key or "")
            if key_spec is None or not key_spec.identifier:
                raise ConnectorError(
                    f"'{match_key}' is not an identifier property of {object_name}",
                    code=ErrorCode.DESTINATION_REJECTED,
                    status=400,
                )
        self._authenticate()
        identifiers = tuple(f.name for f in fields if f.identifier)
        outcomes: list[RecordOutcome] = []
        with self.store.transaction() as con:
            for index, record in enumerate(records):
                writer = _RecordWriter(self.store, con, object_name, by_name, identifiers)
                outcomes.append(writer.apply(index, mode, record, match_key))
        return WriteResult(outcomes=outcomes, requests=1)


class _RecordWriter:
    """Applies one record inside the batch's transaction and says what happened to it."""

    def __init__(
        self,
        store: SandboxStore,
        con: Any,
        obj: str,
        fields: dict[str, FieldSpec],
        identifiers: tuple[str, ...],
    ) -> None:
        self.store, self.con, self.obj, self.fields, self.identifiers = store, con, obj, fields, identifiers

    def apply(self, index: int, mode: str, record: dict[str, Any], match_key: str | None) -> RecordOutcome:
        def fail(code: str, message: str, status: int = 400) -> RecordOutcome:
            return RecordOutcome(index, False, error_code=code, message=message, status=status)

        key_value = record.get(match_key) if match_key else None
        if mode != "insert" and (key_value is None or key_value == ""):
            return fail(
                ErrorCode.MISSING_REQUIRED_FIELD, f"Missing value for identifier property '{match_key}'"
            )
        existing_id = (
            self.store.find_id(self.con, self.obj, match_key, str(key_value)) if mode != "insert" else None
        )
        if mode == "delete":
            if existing_id is not None:
                self.store.delete(self.con, self.obj, existing_id)
            return RecordOutcome(index, True, record_id=existing_id)

        problem = self._check_properties(record, creating=existing_id is None)
        if problem is not None:
            return fail(*problem)
        if mode == "update" and existing_id is None:
            return fail(
                ErrorCode.DESTINATION_REJECTED,
                f"No {self.obj} record exists with {match_key}={key_value!r}",
                status=404,
            )
        properties = self.store.load(self.con, self.obj, existing_id) if existing_id else {}
        properties.update(record)
        clash = self._identifier_clash(properties, existing_id)
        if clash is not None:
            return fail(ErrorCode.DESTINATION_CONSTRAINT_VIOLATION, clash, status=409)
        record_id = self.store.save(self.con, self.obj, existing_id, properties, self.identifiers)
        return RecordOutcome(index, True, record_id=record_id)

    def _check_properties(self, record: dict[str, Any], *, creating: bool) -> tuple[str, str] | None:
        for name, value in record.items():
            spec = self.fields.get(name)
            if spec is None:
                return ErrorCode.SCHEMA_DRIFT, f"Property '{name}' does not exist on {self.obj}"
            if not (spec.createable if creating else spec.updateable):
                return ErrorCode.INVALID_FIELD_VALUE, f"Property '{name}' is read-only"
            message = check_value(spec, value)
            if message is not None:
                return ErrorCode.INVALID_FIELD_VALUE, message
        if creating:
            missing = [
                f.name for f in self.fields.values() if f.required and record.get(f.name) in (None, "")
            ]
            if missing:
                return ErrorCode.MISSING_REQUIRED_FIELD, f"Missing required properties: {', '.join(missing)}"
        return None

    def _identifier_clash(self, properties: dict[str, Any], record_id: str | None) -> str | None:
        for name in self.identifiers:
            value = properties.get(name)
            if value is None:
                continue
            other = self.store.find_id(self.con, self.obj, name, str(value))
            if other is not None and other != record_id:
                return f"Another {self.obj} record (id {other}) already has {name}={value!r}"
        return None
