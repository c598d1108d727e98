"""Request bodies and per-record results of the custom HTTP destination.

Bodies are built from the engine's pre-rendered JSON object texts by joining them: no record is
parsed or re-serialised on the way out, which is what keeps a large sync cheap.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

import orjson

from apps.connectors.base import ErrorCode, RecordOutcome
from apps.connectors.http import redact

_ERROR_CODES = frozenset(code.value for code in ErrorCode)
_MESSAGE_LIMIT = 500
# Successful outcomes carry nothing but their index and are immutable, so they are shared.
_ok: list[RecordOutcome] = []


def batch_body(rows_json: Sequence[str]) -> bytes:
    """``{"records": [row, …]}`` from rows that are already JSON object texts."""
    return ('{"records":[' + ",".join(rows_json) + "]}").encode()


def single_body(row_json: str) -> bytes:
    return row_json.encode()


def ok_outcomes(start: int, count: int) -> list[RecordOutcome]:
    global _ok
    end = start + count
    if len(_ok) < end:
        # Rebuilt, not appended, so a concurrent reader never sees a half-grown list.
        _ok = _ok + [RecordOutcome(index=i, ok=True) for i in range(len(_ok), max(end, 2 * len(_ok)))]
    return _ok[start:end]


def _find(data: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def _index(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _failed(
    index: int, item: Any, status: int, retryable_statuses: frozenset[int], secrets: Iterable[str]
) -> RecordOutcome:
    if not isinstance(item, dict):
        item = {"message": str(item)}
    message = item.get("message") or item.get("error") or item.get("detail")
    message = str(message) if message else orjson.dumps(item).decode()
    raw_code = item.get("code")
    if isinstance(raw_code, str) and raw_code in _ERROR_CODES:
        code = raw_code
    else:
        code = ErrorCode.DESTINATION_REJECTED.value
        if raw_code not in (None, ""):
            message = f"{message} (code: {raw_code})"
    item_status = item.get("status")
    record_status = (
        item_status if isinstance(item_status, int) and not isinstance(item_status, bool) else status
    )
    retryable = item.get("retryable")
    if not isinstance(retryable, bool):
        retryable = record_status in retryable_statuses
    return RecordOutcome(
        index=index,
        ok=False,
        error_code=code,
        message=redact(message[:_MESSAGE_LIMIT], secrets),
        status=record_status,
        retryable=retryable,
    )


def outcomes_from_response(
    content: bytes,
    status: int,
    *,
    start: int,
    count: int,
    errors_path: str,
    retryable_statuses: frozenset[int],
    secrets: Iterable[str] = (),
) -> list[RecordOutcome]:
    """One outcome per record of a request answered 2xx, records ``start .. start+count-1``.

    Per-record errors sit at ``errors_path`` as a list of ``{"index", "message", "code",
    "status"?}`` (index = position in the request body) or a map ``{index: message|item}``.
    With a single-record body an error without index is that record's. An error that cannot be
    tied to a record fails every record of the request: claiming success for a record the
    destination may have refused would lose it silently.
    """
    outcomes = ok_outcomes(start, count)
    leaf = errors_path.rsplit(".", 1)[-1].encode() if errors_path else b""
    if not content or not leaf or leaf not in content:  # common case: nothing to parse
        return outcomes
    try:
        errors = _find(orjson.loads(content), errors_path)
    except orjson.JSONDecodeError:
        return outcomes
    if isinstance(errors, dict):
        errors = [{"index": k, **(v if isinstance(v, dict) else {"message": v})} for k, v in errors.items()]
    if not isinstance(errors, list) or not errors:
        return outcomes
    outcomes = list(outcomes)
    unplaced: list[Any] = []
    for item in errors:
        index = _index(item.get("index")) if isinstance(item, dict) else None
        if index is None and count == 1:
            index = 0
        if index is None or not 0 <= index < count:
            unplaced.append(item)
            continue
        failed = _failed(start + index, item, status, retryable_statuses, secrets)
        previous = outcomes[index]
        if not previous.ok:  # several errors for one record: keep them all in the message
            failed = replace(previous, message=f"{previous.message}; {failed.message}")
        outcomes[index] = failed
    if unplaced:
        detail = _failed(0, unplaced[0], status, retryable_statuses, secrets)
        message = f"The destination reported an error not tied to a record: {detail.message}"
        outcomes = [o if not o.ok else replace(detail, index=o.index, message=message) for o in outcomes]
    return outcomes
