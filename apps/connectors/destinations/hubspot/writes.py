"""Batch writes to HubSpot's CRM v3 object APIs, and their answers mapped back to records.

Endpoints (https://developers.hubspot.com/docs/guides/crm/using-object-apis):
``POST /crm/v3/objects/{objectType}/batch/create`` (insert), ``…/batch/upsert`` (upsert by an
``idProperty``), ``…/batch/update`` (by record ID, or by ``idProperty``), ``…/batch/read`` (to
find the record IDs of keys) and ``…/batch/archive`` (by record ID only; 204 whatever the records'
state). Batch endpoints take at most 100 inputs.

Every input carries a unique ``objectWriteTraceId``: HubSpot then answers 207 Multi-Status with
``results`` and per-input ``errors`` whose ``context.objectWriteTraceId`` names the input, so each
error maps to its record exactly (https://developers.hubspot.com/docs/api-reference/error-handling,
"Multi-status errors"). A 400/409 for the whole request that names some inputs (by trace ID or by
``context.ids``) fails those records and re-sends the others; one that names none fails them all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import httpx

from apps.connectors.base import ConnectorError, ErrorCode, RecordOutcome, WriteResult
from apps.connectors.destinations.hubspot import errors
from apps.connectors.destinations.hubspot.catalog import RECORD_ID
from apps.connectors.destinations.hubspot.inputs import Input, chunks, fold, targets
from apps.connectors.http import redact

# A 400 that names bad inputs costs a second request for the others; bounded so a stream of
# such answers cannot loop.
MAX_ROUNDS = 3
# Failures of the whole request that reach the engine as exceptions, as long as nothing of the
# batch was applied yet: it stops the run on auth/permission and retries or waits on the others.
# A request HubSpot refused for its content becomes outcomes, keeping any record-level ones.
_RAISED = frozenset({ErrorCode.AUTH_FAILED, ErrorCode.PERMISSION_DENIED, ErrorCode.RATE_LIMITED})

Request = Callable[..., httpx.Response]


def failed_outcome(
    index: int, error: dict[str, Any], status: int, retryable: frozenset[int], secrets: list[str]
) -> RecordOutcome:
    code = errors.error_code(error, status)
    record_status = errors.record_status(error, status)
    policy = str(error.get("policyName") or "")
    return RecordOutcome(
        index,
        False,
        error_code=str(code),
        message=redact(errors.readable_message(error), secrets),
        status=record_status,
        retryable=(code == ErrorCode.RATE_LIMITED and policy != "DAILY") or record_status in retryable,
    )


class BatchWriter:
    """One ``write`` call: its requests, what they applied, and one outcome per record."""

    def __init__(
        self,
        request: Request,
        object_path: str,
        *,
        match_key: str | None,
        secrets: list[str],
        retryable: frozenset[int],
        whole_error: Callable[[httpx.Response], ConnectorError],
    ) -> None:
        self.request = request
        self.base = f"/crm/v3/objects/{object_path}/batch"
        self.match_key = match_key
        self.secrets = secrets
        self.retryable = retryable
        self.whole_error = whole_error
        self.requests = 0
        self.applied = False  # once something is written, errors become outcomes, never raises
        self.outcomes: dict[int, RecordOutcome] = {}

    def result(self, count: int) -> WriteResult:
        return WriteResult([self.outcomes[i] for i in range(count)], requests=self.requests)

    def post(self, action: str, body: dict[str, Any], accept: tuple[int, ...] = ()) -> httpx.Response:
        self.requests += 1
        return self.request("POST", f"{self.base}/{action}", json=body, accept=accept)

    def guarded(self, pending: Sequence[Input], send: Callable[[Sequence[Input]], None]) -> None:
        """Run ``send`` on ``pending``; a failure it raises fails the records still without outcome."""
        try:
            send(pending)
        except ConnectorError as exc:
            if not self.applied and (exc.retryable or exc.code in _RAISED):
                raise
            for item in pending:
                self.outcomes.setdefault(
                    item.index,
                    RecordOutcome(
                        item.index,
                        False,
                        error_code=exc.code,
                        message=exc.message,
                        status=exc.status,
                        retryable=exc.retryable,
                    ),
                )

    # --- create / upsert / update ----------------------------------------------------------
    def send_inputs(self, action: str, inputs: Sequence[Input]) -> None:
        for chunk in chunks(inputs):
            self.guarded(chunk, lambda part, action=action: self._send_chunk(action, part))

    def _send_chunk(self, action: str, chunk: Sequence[Input]) -> None:
        remaining = list(chunk)
        for _round in range(MAX_ROUNDS):
            response = self.post(action, {"inputs": [i.body for i in remaining]}, accept=(400, 409))
            data = errors.body_of(response.content)
            if response.status_code in (400, 409):
                named = self._named(data, remaining)
                if not named:
                    raise self.whole_error(response)
                for index, error in named.items():
                    self.outcomes[index] = self._failed(index, error, response.status_code)
                remaining = [i for i in remaining if i.index not in named]
                if not remaining:
                    return
                continue
            self.applied = True
            self._read_results(data, remaining, response.status_code)
            return
        raise self.whole_error(response)

    def _named(self, data: dict[str, Any], inputs: Sequence[Input]) -> dict[int, dict[str, Any]]:
        named: dict[int, dict[str, Any]] = {}
        for error in [data, *[e for e in data.get("errors") or () if isinstance(e, dict)]]:
            # A detail item of the top-level error lacks its category: give it the parent's.
            merged = {"category": data.get("category"), **error}
            if not merged.get("message"):
                merged["message"] = data.get("message")
            for item in targets(error, inputs):
                named.setdefault(item.index, merged)
        return named

    def _failed(self, index: int, error: dict[str, Any], status: int) -> RecordOutcome:
        return failed_outcome(index, error, status, self.retryable, self.secrets)

    def _read_results(self, data: dict[str, Any], inputs: Sequence[Input], status: int) -> None:
        """Outcomes from a 200/201/207 answer: errors by the inputs they name, results matched."""
        unnamed: list[dict[str, Any]] = []
        for error in data.get("errors") or ():
            if not isinstance(error, dict):
                continue
            named = targets(error, inputs)
            if not named:
                unnamed.append(error)
            for item in named:
                self.outcomes[item.index] = self._failed(item.index, error, status)
        by_trace = {i.trace: i for i in inputs}
        by_key = {fold(i.key): i for i in inputs if i.key is not None}
        by_id = by_key if self.match_key == RECORD_ID else {}
        unmatched = 0
        for result in data.get("results") or ():
            item = self._match(result, by_trace, by_key, by_id)
            if item is None:
                unmatched += 1
            elif item.index not in self.outcomes:  # an input in error stays in error
                self.outcomes[item.index] = RecordOutcome(item.index, True, record_id=_str(result.get("id")))
        rest = [i for i in inputs if i.index not in self.outcomes]
        if not rest:
            return
        if not unnamed and unmatched == len(rest):
            # Every input not in error has a result: HubSpot does not promise to echo the trace
            # IDs in results, so the counts are what proves them written.
            for item in rest:
                self.outcomes[item.index] = RecordOutcome(item.index, True)
            return
        missing = {
            "category": "OBJECT_NOT_FOUND",
            "message": "HubSpot returned neither a result nor an error for this record "
            "(it may not exist, or was not processed)",
        }
        for item in rest:
            self.outcomes[item.index] = self._failed(item.index, unnamed[0] if unnamed else missing, status)

    def _match(
        self,
        result: dict[str, Any],
        by_trace: dict[str, Input],
        by_key: dict[str, Input],
        by_id: dict[str, Input],
    ) -> Input | None:
        trace = result.get("objectWriteTraceId")
        if trace in by_trace:
            return by_trace[trace]
        properties = result.get("properties") or {}
        if self.match_key and self.match_key != RECORD_ID and properties.get(self.match_key) is not None:
            found = by_key.get(fold(str(properties[self.match_key])))
            if found is not None:
                return found
        return by_id.get(fold(str(result.get("id"))))

    # --- delete ------------------------------------------------------------------------------
    def delete(self, inputs: Sequence[Input]) -> None:
        """Archive by record ID; other keys are first read to find their records' IDs."""
        for chunk in chunks(inputs):
            self.guarded(chunk, self._delete_chunk)

    def _delete_chunk(self, chunk: Sequence[Input]) -> None:
        by_id = self.match_key == RECORD_ID
        ids = {i.index: str(i.key) for i in chunk} if by_id else self._record_ids(chunk)
        targets_ = sorted(set(ids.values()))
        if targets_:
            self.post("archive", {"inputs": [{"id": record_id} for record_id in targets_]})
            self.applied = True
        for item in chunk:
            # A key without a record is already what a delete wants: nothing to archive.
            self.outcomes[item.index] = RecordOutcome(item.index, True, record_id=ids.get(item.index))

    def _record_ids(self, chunk: Sequence[Input]) -> dict[int, str]:
        body = {
            "idProperty": self.match_key,
            "properties": [self.match_key],
            "inputs": [{"id": i.key} for i in chunk],
        }
        data = errors.body_of(self.post("read", body, accept=(207,)).content)
        by_key = {fold(str(i.key)): i for i in chunk}
        found: dict[int, str] = {}
        for result in data.get("results") or ():
            value = (result.get("properties") or {}).get(self.match_key)
            item = by_key.get(fold(str(value))) if value is not None else None
            if item is not None and result.get("id") is not None:
                found[item.index] = str(result["id"])
        return found


def _str(value: Any) -> str | None:
    return None if value is None else str(value)
