"""The inputs of HubSpot batch requests, built from the engine's records.

HubSpot property values are strings: booleans are ``true`` / ``false``, dates ISO 8601, and an
empty string clears a value (https://developers.hubspot.com/docs/api/crm/properties, "Update or
clear a property's values"). Each input gets a unique ``objectWriteTraceId`` so HubSpot's errors
name the input they are about
(https://developers.hubspot.com/docs/api-reference/error-handling#multi-status-errors).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson

from apps.connectors.base import ErrorCode, RecordOutcome
from apps.connectors.destinations.hubspot.catalog import RECORD_ID

MAX_INPUTS = 100  # "Object API batch endpoints are limited to 100 inputs per request."


@dataclass(frozen=True)
class Input:
    index: int  # position in the engine's batch
    trace: str  # objectWriteTraceId
    key: str | None  # the match key's value (the input's ``id``)
    body: dict[str, Any]


def hubspot_value(value: Any) -> str:
    """A value as HubSpot's property values are written: strings (null clears: empty string)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # HubSpot numbers are "numeric digits and at most one decimal": never 1e+20 notation.
        return str(int(value)) if value.is_integer() else format(Decimal(repr(value)), "f")
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return str(value)


def fold(value: str) -> str:
    # HubSpot stores emails lower-cased; comparing keys case-insensitively finds them either way.
    return value.casefold()


def build_inputs(
    records: Sequence[dict[str, Any]], mode: str, match_key: str | None
) -> tuple[list[Input], dict[int, RecordOutcome]]:
    """The inputs to send, and outcomes for records that cannot be sent (no key value)."""
    inputs: list[Input] = []
    refused: dict[int, RecordOutcome] = {}
    for index, record in enumerate(records):
        trace = f"syncline-{index}"
        raw_key = record.get(match_key) if match_key else None
        key = None if raw_key is None else hubspot_value(raw_key)
        if mode != "insert" and not key:
            refused[index] = RecordOutcome(
                index, False, error_code=str(ErrorCode.VALIDATION_FAILED), message=f"{match_key} is empty"
            )
            continue
        properties = {
            name: hubspot_value(value)
            for name, value in record.items()
            # The record ID is read-only: it addresses the record, it is never set. A new record
            # has nothing to clear, so nulls are left out of creates.
            if name != RECORD_ID and not (mode == "insert" and value is None)
        }
        body: dict[str, Any] = {"properties": properties, "objectWriteTraceId": trace}
        if mode != "insert":
            body["id"] = key
            if match_key != RECORD_ID:
                body["idProperty"] = match_key
        inputs.append(Input(index, trace, key, body))
    return inputs, refused


def chunks[T](items: Sequence[T], size: int = MAX_INPUTS) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def targets(error: dict[str, Any], inputs: Sequence[Input]) -> list[Input]:
    """The inputs an error names, by objectWriteTraceId or by id (``context.ids``)."""
    context = error.get("context") if isinstance(error.get("context"), dict) else {}
    traces = set(_strings(context.get("objectWriteTraceId")) + _strings(error.get("objectWriteTraceId")))
    ids = {fold(v) for v in _strings(context.get("ids")) + _strings(context.get("id"))}
    return [i for i in inputs if i.trace in traces or (i.key is not None and fold(i.key) in ids)]


def _strings(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value if v is not None]
    return [str(value)] if value is not None else []
