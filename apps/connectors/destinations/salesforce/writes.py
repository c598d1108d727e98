"""Batch writes through sObject Collections, one outcome per record.

- insert: ``POST /composite/sobjects``
  (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_composite_sobjects_collections_create.htm)
- update: ``PATCH /composite/sobjects``, records carry their ``id``
  (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_composite_sobjects_collections_update.htm)
- upsert: ``PATCH /composite/sobjects/{SObject}/{ExternalIdField}``
  (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_composite_sobjects_collections_upsert.htm)
- delete: ``DELETE /composite/sobjects?ids=…&allOrNone=false``
  (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_composite_sobjects_collections_delete.htm)

Every request holds at most 200 records with ``allOrNone`` false, so one bad record never sinks
the others; the answer is a list in request order of ``{id, success, errors: [{statusCode,
message, fields}]}``. update and delete address records by Id; when the sync's key is another
field (an external ID, as in mirror syncs) the Ids are looked up first with a SOQL query
(https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_query.htm).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import orjson

from apps.connectors.base import ConnectorError, ErrorCode, OutgoingBatch, RecordOutcome
from apps.connectors.destinations.salesforce.lookup import IdLookup, is_id_field
from apps.connectors.http import redact
from apps.connectors.vendor import parse_json

MAX_RECORDS = 200
_API_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,79}$")

# Salesforce StatusCode (per record) -> contract error code. Unknown codes: destination_rejected.
_CODES: dict[str, ErrorCode] = {
    "REQUIRED_FIELD_MISSING": ErrorCode.MISSING_REQUIRED_FIELD,
    "INVALID_EMAIL_ADDRESS": ErrorCode.INVALID_FIELD_VALUE,
    "STRING_TOO_LONG": ErrorCode.INVALID_FIELD_VALUE,
    "INVALID_TYPE_ON_FIELD_IN_RECORD": ErrorCode.INVALID_FIELD_VALUE,
    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST": ErrorCode.INVALID_FIELD_VALUE,
    "INVALID_FIELD_FOR_INSERT_UPDATE": ErrorCode.INVALID_FIELD_VALUE,
    "NUMBER_OUTSIDE_VALID_RANGE": ErrorCode.INVALID_FIELD_VALUE,
    "MALFORMED_ID": ErrorCode.INVALID_FIELD_VALUE,
    "INVALID_ID_FIELD": ErrorCode.INVALID_FIELD_VALUE,
    "MISSING_ARGUMENT": ErrorCode.MISSING_REQUIRED_FIELD,
    "FIELD_CUSTOM_VALIDATION_EXCEPTION": ErrorCode.DESTINATION_CONSTRAINT_VIOLATION,
    "FIELD_INTEGRITY_EXCEPTION": ErrorCode.DESTINATION_CONSTRAINT_VIOLATION,
    "DUPLICATE_VALUE": ErrorCode.DESTINATION_CONSTRAINT_VIOLATION,
    "DUPLICATES_DETECTED": ErrorCode.DESTINATION_CONSTRAINT_VIOLATION,
    "DUPLICATE_EXTERNAL_ID": ErrorCode.DESTINATION_CONSTRAINT_VIOLATION,
    "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY": ErrorCode.DESTINATION_CONSTRAINT_VIOLATION,
    "ENTITY_IS_DELETED": ErrorCode.DESTINATION_REJECTED,
    "ENTITY_IS_LOCKED": ErrorCode.DESTINATION_REJECTED,
    "INVALID_CROSS_REFERENCE_KEY": ErrorCode.DESTINATION_REJECTED,
    "NOT_FOUND": ErrorCode.DESTINATION_REJECTED,
    "INSUFFICIENT_ACCESS_OR_READONLY": ErrorCode.PERMISSION_DENIED,
    "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY": ErrorCode.PERMISSION_DENIED,
    "UNABLE_TO_LOCK_ROW": ErrorCode.DESTINATION_UNAVAILABLE,
    "SERVER_UNAVAILABLE": ErrorCode.DESTINATION_UNAVAILABLE,
    "REQUEST_LIMIT_EXCEEDED": ErrorCode.RATE_LIMITED,
}
# Transient: another transaction held the row, or the org was briefly over a limit.
_RETRYABLE = frozenset({"UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE", "REQUEST_LIMIT_EXCEEDED"})
_MESSAGE_LIMIT = 500

Send = Callable[..., httpx.Response]
_JSON = {"Content-Type": "application/json"}


def check_api_name(name: str | None, what: str) -> str:
    """An sObject or field API name; anything else would be spliced into a URL or a SOQL query."""
    if not name or not _API_NAME.match(name):
        raise ConnectorError(
            f"{what} {name!r} is not a Salesforce API name", code=ErrorCode.DESTINATION_REJECTED, status=400
        )
    return name


def error_outcome(index: int, errors: Sequence[Any], status: int | None, secrets: list[str]) -> RecordOutcome:
    items = [e for e in errors if isinstance(e, dict)] or [{"statusCode": "UNKNOWN", "message": str(errors)}]
    code = str(items[0].get("statusCode") or "")
    parts = []
    for item in items:
        fields = [str(f) for f in item.get("fields") or ()]
        text = f"{item.get('statusCode') or 'ERROR'}: {item.get('message') or 'rejected'}"
        parts.append(f"{text} (fields: {', '.join(fields)})" if fields else text)
    return RecordOutcome(
        index,
        False,
        error_code=_CODES.get(code, ErrorCode.DESTINATION_REJECTED),
        message=redact("; ".join(parts)[:_MESSAGE_LIMIT], secrets),
        status=status,
        retryable=code in _RETRYABLE,
    )


def failed(index: int, error: ConnectorError) -> RecordOutcome:
    return RecordOutcome(
        index,
        False,
        error_code=error.code,
        message=error.message,
        status=error.status,
        retryable=error.retryable,
    )


class CollectionWriter:
    """Writes one engine batch to one sObject; ``requests`` counts the HTTP requests it took."""

    def __init__(self, send: Send, secrets: list[str], sobject: str, match_key: str | None) -> None:
        self._send = send
        self._secrets = secrets
        self.sobject = check_api_name(sobject, "Object")
        self.match_key = check_api_name(match_key, "Match key") if match_key else None
        self._typed = '{"attributes":{"type":"' + self.sobject + '"}'
        self.requests = 0
        self._written = False

    def write(self, mode: str, batch: OutgoingBatch) -> list[RecordOutcome]:
        outcomes: list[RecordOutcome | None] = [None] * len(batch)
        if mode in ("upsert", "mirror"):
            self._upsert(batch.rows_json, outcomes)
        elif mode == "insert":
            self._save("POST", "composite/sobjects", list(enumerate(batch.rows_json)), outcomes)
        elif mode == "update":
            self._update(batch.records, outcomes)
        elif mode == "delete":
            self._delete(batch.records, outcomes)
        else:
            raise ConnectorError(
                f"Mode '{mode}' is not supported by Salesforce; supported: upsert, insert, update, "
                "delete, mirror",
                code=ErrorCode.DESTINATION_REJECTED,
                status=400,
            )
        # Every path fills every slot; a gap would be a bug here, reported rather than claimed written.
        return [
            o
            or RecordOutcome(
                i, False, error_code=ErrorCode.DESTINATION_REJECTED, message="no outcome", retryable=True
            )
            for i, o in enumerate(outcomes)
        ]

    # --- requests -------------------------------------------------------------------------------
    def _call(self, method: str, path: str, **kwargs: Any) -> tuple[Any, int]:
        self.requests += 1
        response = self._send(method, path, **kwargs)
        return parse_json(response, self._secrets), response.status_code

    def _chunked(self, items: Sequence[tuple[int, Any]], outcomes: list, run: Callable) -> None:
        """Run ``run(chunk)`` per 200 ``(record index, item)`` pairs. A failed request raises while
        nothing is written yet (the engine retries the batch); afterwards it fails the records not
        sent, so records already written are not written twice by a retry of the whole batch."""
        for start in range(0, len(items), MAX_RECORDS):
            try:
                run(items[start : start + MAX_RECORDS])
            except ConnectorError as exc:
                if not self._written:
                    raise
                for index, _ in items[start:]:
                    outcomes[index] = outcomes[index] or failed(index, exc)
                return
            self._written = True

    def _results(self, data: Any, status: int, indexes: Sequence[int], *, deleting: bool = False) -> list:
        """One outcome per item of a collection answer, in request order."""
        results = data if isinstance(data, list) else []
        outcomes: list[RecordOutcome] = []
        for position, index in enumerate(indexes):
            result = results[position] if position < len(results) else None
            if not isinstance(result, dict):
                outcomes.append(
                    RecordOutcome(
                        index,
                        False,
                        error_code=ErrorCode.DESTINATION_REJECTED,
                        message="Salesforce returned no result for this record",
                        status=status,
                        retryable=True,
                    )
                )
                continue
            errors = result.get("errors") or ()
            # Deleting a record already in the recycle bin is what a retried delete looks like.
            gone = (
                deleting
                and errors
                and all(isinstance(e, dict) and e.get("statusCode") == "ENTITY_IS_DELETED" for e in errors)
            )
            if result.get("success") or gone:
                outcomes.append(RecordOutcome(index, True, record_id=result.get("id")))
            else:
                outcomes.append(error_outcome(index, errors, status, self._secrets))
        return outcomes

    # --- modes ----------------------------------------------------------------------------------
    def _body(self, rows: Sequence[str]) -> bytes:
        # The engine's rows are JSON object texts: the type attribute is spliced in, not re-encoded.
        typed = []
        for row in rows:
            inner = row.strip()[1:-1].strip()
            typed.append(self._typed + ("," + inner if inner else "") + "}")
        return ('{"allOrNone":false,"records":[' + ",".join(typed) + "]}").encode()

    def _save(self, method: str, path: str, rows: list[tuple[int, str]], outcomes: list) -> None:
        def run(chunk: Sequence[tuple[int, str]]) -> None:
            data, status = self._call(method, path, content=self._body([r for _, r in chunk]), headers=_JSON)
            for outcome in self._results(data, status, [i for i, _ in chunk]):
                outcomes[outcome.index] = outcome

        self._chunked(rows, outcomes, run)

    def _upsert(self, rows: Sequence[str], outcomes: list) -> None:
        if self.match_key is None or is_id_field(self.match_key):
            raise ConnectorError(
                f"Upserting {self.sobject} needs an external ID field as the match key "
                "(sObject Collections upsert by external IDs only, not by record Id)",
                code=ErrorCode.DESTINATION_REJECTED,
                status=400,
            )
        path = f"composite/sobjects/{self.sobject}/{self.match_key}"
        self._save("PATCH", path, list(enumerate(rows)), outcomes)

    def _ids(self, records: list[dict[str, Any]], mode: str) -> list[list[str]]:
        """The record Ids each engine record addresses (its Id, or those found by its key)."""
        key = self.match_key
        if key is None:
            raise ConnectorError(
                f"{mode} needs a match key (Id or an external ID field)",
                code=ErrorCode.DESTINATION_REJECTED,
                status=400,
            )
        values = [r.get(key) for r in records]
        if is_id_field(key):
            return [[str(v)] if v not in (None, "") else [] for v in values]
        return IdLookup(self._call, self.sobject, key).resolve(values)

    def _update(self, records: list[dict[str, Any]], outcomes: list) -> None:
        key = self.match_key or ""
        rows: list[tuple[int, str]] = []
        for index, (record, matched) in enumerate(zip(records, self._ids(records, "update"), strict=True)):
            if len(matched) != 1:
                outcomes[index] = self._unmatched(index, key, record.get(key), len(matched))
                continue
            # The key only found the record; the body addresses it by "id".
            fields = {k: v for k, v in record.items() if k != key}
            rows.append((index, orjson.dumps({"id": matched[0], **fields}).decode()))
        self._save("PATCH", "composite/sobjects", rows, outcomes)

    def _unmatched(self, index: int, key: str, value: Any, count: int) -> RecordOutcome:
        if value in (None, ""):
            code, message = ErrorCode.MISSING_REQUIRED_FIELD, f"The match key {key} has no value"
        elif count == 0:
            code, message = ErrorCode.DESTINATION_REJECTED, f"No {self.sobject} record has {key} = {value!r}"
        else:
            code = ErrorCode.DESTINATION_CONSTRAINT_VIOLATION
            message = f"{count} {self.sobject} records have {key} = {value!r}; cannot tell which to update"
        return RecordOutcome(index, False, error_code=code, message=message)

    def _delete(self, records: list[dict[str, Any]], outcomes: list) -> None:
        ids = self._ids(records, "delete")
        for index, matched in enumerate(ids):
            if not matched:  # no record carries that key: already gone, which is what delete wants
                outcomes[index] = RecordOutcome(index, True)
        # A key can match several records (a non-unique field): the record is deleted when all are.
        pairs = [(index, record_id) for index, matched in enumerate(ids) for record_id in matched]
        per_record: dict[int, list[RecordOutcome]] = {}

        def run(chunk: Sequence[tuple[int, str]]) -> None:
            params = {"ids": ",".join(i for _, i in chunk), "allOrNone": "false"}
            data, status = self._call("DELETE", "composite/sobjects", params=params)
            for outcome in self._results(data, status, [i for i, _ in chunk], deleting=True):
                per_record.setdefault(outcome.index, []).append(outcome)

        self._chunked(pairs, outcomes, run)
        for index, results in per_record.items():
            if outcomes[index] is None:
                outcomes[index] = next((o for o in results if not o.ok), results[0])
