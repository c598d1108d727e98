"""Adding and removing audience members: payloads, upload sessions, one outcome per record.

``POST /{audience_id}/users`` adds and ``DELETE /{audience_id}/users`` removes
(https://developers.facebook.com/docs/marketing-api/reference/custom-audience/users/), each with
``payload = {"schema": [keys], "is_raw": true, "data": [[values], …]}`` (multi-key: one row per
person, a blank for a key the person lacks) and at most 10,000 rows per request. Every upload
carries a ``session`` (``session_id``, ``batch_seq`` from 1, ``last_batch_flag``,
``estimated_num_total``) as the custom audiences guide asks
(https://developers.facebook.com/docs/marketing-api/audiences/guides/custom-audiences): a batch
that needs several requests is one session whose requests go in order, the last one flagged.

How each record's outcome is decided — Meta answers with counts, not with row indices:

* Records that break Meta's normalisation rules are failed here (``invalid_field_value``) and never
  sent; the engine dead-letters them with the reason.
* Meta's ``num_invalid_entries`` and ``invalid_entry_samples`` (a map of sample entries; which side
  holds the entry and which the reason is not documented, so both are compared) fail the rows of
  the request whose sent values match a sample.
* Invalid entries Meta counts but does not sample cannot be told apart from the rest: those rows
  are reported as accepted and the shortfall is logged as a warning (with counts, never values).
  Since every row was checked against Meta's own rules first, such entries should not occur; failing
  the whole request for them instead would dead-letter rows Meta did take.

A request that fails as a whole raises ``ConnectorError`` when it is the first of the batch, or when
it is retryable or an auth/permission failure (a resend is harmless: adding a member twice or removing
an absent one changes nothing). Otherwise the rows already sent stay accepted, the failing request's
rows get its error, and the rows not yet sent fail as retryable.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from apps.connectors.base import ConnectorError, ErrorCode, RecordOutcome
from apps.connectors.destinations.meta_ads.identifiers import InvalidValue, prepare
from apps.connectors.destinations.meta_ads.keys import SCHEMA_ORDER

logger = logging.getLogger(__name__)

RUN_STOPPING = frozenset({ErrorCode.AUTH_FAILED, ErrorCode.PERMISSION_DENIED})
Send = Callable[[dict[str, Any]], Any]  # request body -> parsed JSON answer


@dataclass
class PreparedBatch:
    indexes: list[int] = field(default_factory=list)  # batch positions of the rows to send
    rows: list[dict[str, str]] = field(default_factory=list)  # Meta key -> value, per row
    failures: list[RecordOutcome] = field(default_factory=list)  # refused before sending


def prepare_batch(records: Sequence[Mapping[str, Any]]) -> PreparedBatch:
    prepared = PreparedBatch()
    for index, record in enumerate(records):
        try:
            row = prepare(record)
        except InvalidValue as exc:
            prepared.failures.append(
                RecordOutcome(index, False, error_code=ErrorCode.INVALID_FIELD_VALUE, message=str(exc))
            )
            continue
        prepared.indexes.append(index)
        prepared.rows.append(row)
    return prepared


def schema_of(rows: Sequence[Mapping[str, str]]) -> list[str]:
    """Every key any row has, in Meta's order; one schema for the whole session."""
    keys = {k for row in rows for k in row}
    return sorted(keys, key=SCHEMA_ORDER.__getitem__)


def payload(schema: Sequence[str], rows: Sequence[Mapping[str, str]]) -> dict[str, Any]:
    # is_raw: the keys are single PII values, not combined keys such as LN_FN_ZIP.
    data = [[row.get(k, "") for k in schema] for row in rows]
    return {"schema": list(schema), "is_raw": True, "data": data}


def new_session_id() -> int:
    """A fresh positive 63-bit id: the session is ours to number, and a resend starts a new one."""
    return secrets.randbelow(2**63 - 2) + 1


def _sample_pairs(samples: Any) -> list[tuple[str, str]]:
    if isinstance(samples, Mapping):
        return [(str(k), str(v)) for k, v in samples.items()]
    if isinstance(samples, list):
        return [(str(s), "") for s in samples if isinstance(s, str | int)]
    return []


def invalid_positions(answer: Any, data: Sequence[Sequence[str]]) -> tuple[dict[int, str], int]:
    """(position in the request -> Meta's reason, invalid entries Meta counted but did not sample)."""
    if not isinstance(answer, Mapping):
        return {}, 0
    try:
        count = int(answer.get("num_invalid_entries") or 0)
    except (TypeError, ValueError):
        count = 0
    if not count:
        return {}, 0
    pairs = _sample_pairs(answer.get("invalid_entry_samples"))
    found: dict[int, str] = {}
    for position, values in enumerate(data):
        sent = {v for v in values if v}
        for left, right in pairs:
            if left in sent or right in sent:
                reason = right if left in sent else left
                found[position] = reason or "no reason given"
                break
    return found, max(0, count - len(found))


def _failed(
    index: int, error: ConnectorError, *, message: str | None = None, retryable: bool | None = None
) -> RecordOutcome:
    return RecordOutcome(
        index,
        False,
        error_code=error.code,
        message=message or error.message,
        status=error.status,
        retryable=error.retryable if retryable is None else retryable,
    )


def upload(
    send: Send, prepared: PreparedBatch, *, rows_per_request: int, audience_id: str, operation: str
) -> tuple[list[RecordOutcome], int]:
    """Send the prepared rows in one session; return (an outcome per record, in order, requests)."""
    outcomes: dict[int, RecordOutcome] = {o.index: o for o in prepared.failures}
    total = len(prepared.rows)
    requests = 0
    if total:
        schema = schema_of(prepared.rows)
        session_id = new_session_id()
        starts = range(0, total, rows_per_request)
        for seq, start in enumerate(starts, start=1):
            indexes = prepared.indexes[start : start + rows_per_request]
            body = {
                "payload": payload(schema, prepared.rows[start : start + rows_per_request]),
                "session": {
                    "session_id": session_id,
                    "batch_seq": seq,
                    "last_batch_flag": seq == len(starts),
                    "estimated_num_total": total,
                },
            }
            try:
                answer = send(body)
                requests += 1
            except ConnectorError as exc:
                if seq == 1 or exc.retryable or exc.code in RUN_STOPPING:
                    raise
                outcomes.update((i, _failed(i, exc)) for i in indexes)
                note = f"Not sent: an earlier request of this upload failed: {exc.message}"
                rest = prepared.indexes[start + rows_per_request :]
                outcomes.update((i, _failed(i, exc, message=note, retryable=True)) for i in rest)
                break
            bad, unexplained = invalid_positions(answer, body["payload"]["data"])
            for position, index in enumerate(indexes):
                reason = bad.get(position)
                outcomes[index] = (
                    RecordOutcome(index, True)
                    if reason is None
                    else RecordOutcome(
                        index,
                        False,
                        error_code=ErrorCode.INVALID_FIELD_VALUE,
                        message=f"Meta counted this entry as invalid: {reason}",
                        status=200,
                    )
                )
            if unexplained:
                logger.warning(
                    "meta_ads: %s of audience %s: Meta counted %d invalid entries it did not sample "
                    "(request %d of session %d, %d rows); they are reported as accepted",
                    operation,
                    audience_id,
                    unexplained,
                    seq,
                    session_id,
                    len(indexes),
                )
    return [outcomes[i] for i in sorted(outcomes)], requests
