"""Request bodies and per-record results of the custom HTTP destination.

Without templates, bodies are built from the engine's pre-rendered JSON object texts by joining
them: no record is parsed or re-serialised on the way out, which is what keeps a large sync cheap.
Only a configured ``record_template`` makes records parsed and rendered (``TemplatedBodies``); a
``batch_template`` alone still embeds the pre-rendered texts unparsed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

import orjson

from apps.connectors.base import ErrorCode, OutgoingBatch, RecordOutcome
from apps.connectors.destinations.http.template import (
    DEFAULT_BATCH_TEMPLATE,
    BatchTemplate,
    RecordTemplate,
    TemplateContext,
    compile_batch_template,
    compile_record_template,
)
from apps.connectors.http import redact

_ERROR_CODES = frozenset(code.value for code in ErrorCode)
_MESSAGE_LIMIT = 500
# Successful outcomes carry nothing but their index and are immutable, so they are shared.
_ok: list[RecordOutcome] = []


def batch_body(batch: OutgoingBatch, start: int, stop: int) -> bytes:
    """``{"records": [row, …]}`` of records ``start .. stop-1``, from their JSON texts."""
    return b'{"records":' + batch.json_array(start, stop) + b"}"


def single_body(batch: OutgoingBatch, index: int) -> bytes:
    return batch.rows_json[index].encode()


@dataclass(frozen=True)
class TemplatedBodies:
    """Bodies shaped by the configured templates (compiled once per destination instance)."""

    record: RecordTemplate | None
    batch: BatchTemplate | None  # None: the body is the rendered record itself (batch_size 1)

    def build(self, batch: OutgoingBatch, start: int, stop: int, context: TemplateContext) -> bytes:
        """The body for records ``start .. stop-1`` of ``batch``."""
        if self.record is not None:
            rendered = self.record.render_all(batch.records[start:stop], context)
            if self.batch is None:
                return orjson.dumps(rendered[0])
            return self.batch.render(rendered, len(rendered), context)
        assert self.batch is not None, "without templates the plain builders are used"
        stop = min(stop, len(batch))
        return self.batch.render(orjson.Fragment(batch.json_array(start, stop)), stop - start, context)


def templated_bodies(record_template: Any, batch_template: Any, batch_size: int) -> TemplatedBodies | None:
    """The templated body builder, or None when no template is set (the plain, fast builders)."""
    if record_template is None and batch_template is None:
        return None
    record = compile_record_template(record_template) if record_template is not None else None
    if batch_template is not None:
        batch = compile_batch_template(batch_template)
    else:
        # A record template alone keeps the contract's shapes: the record itself or the envelope.
        batch = None if batch_size == 1 else DEFAULT_BATCH_TEMPLATE
    return TemplatedBodies(record, batch)


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
