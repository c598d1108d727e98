"""Request bodies for Iterable's bulk endpoints, and their answers turned into record outcomes.

Bodies (https://api.iterable.com/api/docs):

- POST /api/users/bulkUpdate ``{"users": [{"email"|"userId", "dataFields", "preferUserId",
  "mergeNestedObjects"}]}``; body at most 4 MB.
- POST /api/events/trackBulk ``{"events": [{"eventName", "email"|"userId", "createdAt" (Unix
  seconds), "id", "dataFields", …}]}``.
- POST /api/lists/subscribe and /unsubscribe ``{"listId", "subscribers": [{"email"|"userId"}]}``.

Each answers 200 with ``successCount``, ``failCount`` and, in ``failedUpdates``, the identifiers
(emails, userIds) of the items that failed, one list per reason (``invalidEmails``,
``invalidDataUserIds``, ``conflictEmails``, ``notFoundUserIds``, …; events add
``disallowedEventNames``). Items carry no position, so each listed identifier is mapped back to
every record of the request that holds it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from apps.connectors.base import ErrorCode, RecordOutcome
from apps.connectors.destinations.iterable.catalog import EVENT_TOP_LEVEL

IDENTIFIERS = ("email", "userId")
# Documented for bulkUpdate ("Max size of request body: 4MB"); kept for every bulk endpoint, with
# room for the envelope around the items.
MAX_BODY_BYTES = 4 * 1024 * 1024 - 16 * 1024
# Items per request. Iterable documents a body limit (4 MB) rather than a count for bulkUpdate;
# trackBulk is reported to take 1,000 events a request. 1,000 items in every bulk body (users,
# events, subscribers) stays within both.
MAX_ITEMS = 1000
DATA_FIELDS_PREFIX = "dataFields."

# failedUpdates list -> (identifier it holds, error code, why Iterable refused the item).
FAILURE_LISTS: dict[str, tuple[str, ErrorCode, str]] = {
    "invalidEmails": ("email", ErrorCode.INVALID_FIELD_VALUE, "malformed email address"),
    "invalidUserIds": (
        "userId",
        ErrorCode.INVALID_FIELD_VALUE,
        "malformed userId (empty, too long, non-ASCII or non-printable, or a trailing space)",
    ),
    "invalidDataEmails": (
        "email",
        ErrorCode.INVALID_FIELD_VALUE,
        "invalid data in dataFields (a value whose type differs from the project's field)",
    ),
    "invalidDataUserIds": (
        "userId",
        ErrorCode.INVALID_FIELD_VALUE,
        "invalid data in dataFields (a value whose type differs from the project's field)",
    ),
    "conflictEmails": (
        "email",
        ErrorCode.DESTINATION_CONSTRAINT_VIOLATION,
        "the email already belongs to another user",
    ),
    "conflictUserIds": (
        "userId",
        ErrorCode.DESTINATION_CONSTRAINT_VIOLATION,
        "the userId already belongs to another user",
    ),
    "forgottenEmails": ("email", ErrorCode.DESTINATION_REJECTED, "the user was forgotten (GDPR request)"),
    "forgottenUserIds": ("userId", ErrorCode.DESTINATION_REJECTED, "the user was forgotten (GDPR request)"),
    "notFoundEmails": ("email", ErrorCode.DESTINATION_REJECTED, "no user has this email"),
    "notFoundUserIds": ("userId", ErrorCode.DESTINATION_REJECTED, "no user has this userId"),
    "disallowedEventNames": (
        "eventName",
        ErrorCode.DESTINATION_REJECTED,
        "the project blocks this event name",
    ),
}
NOT_FOUND_LISTS = frozenset({"notFoundEmails", "notFoundUserIds"})


class ItemError(ValueError):
    """A record that cannot become an Iterable item (reported for it alone, nothing is sent)."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Item:
    index: int  # position of the record in the engine's batch
    body: dict[str, Any]
    size: int  # bytes of the item as JSON


# --- building items ----------------------------------------------------------------------------
def _identifiers(record: Mapping[str, Any], what: str) -> dict[str, Any]:
    found = {name: record[name] for name in IDENTIFIERS if record.get(name) not in (None, "")}
    if not found:
        raise ItemError(
            ErrorCode.MISSING_REQUIRED_FIELD, f"Iterable needs an email or a userId to identify the {what}"
        )
    return found


def put_data_field(data: dict[str, Any], name: str, value: Any) -> None:
    """Set ``name`` in ``data``, a dotted name nesting objects (``a.b`` -> ``{"a": {"b": …}}``)."""
    parts = name.removeprefix(DATA_FIELDS_PREFIX).split(".")
    node = data
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    leaf = parts[-1]
    if isinstance(value, dict) and isinstance(node.get(leaf), dict):
        node[leaf].update(value)  # a parent object and some of its children are both mapped
    else:
        node[leaf] = value


def user_item(record: Mapping[str, Any], match_key: str | None) -> dict[str, Any]:
    item = _identifiers(record, "user")
    data: dict[str, Any] = {}
    for name, value in record.items():
        if name not in IDENTIFIERS:
            put_data_field(data, name, value)
    if data:
        item["dataFields"] = data
    # A sync maps some fields of a profile: merge objects instead of replacing them whole.
    item["mergeNestedObjects"] = True
    if match_key == "userId":
        # Email-based projects only create a user from a userId when asked to.
        item["preferUserId"] = True
    return item


def unix_seconds(value: Any) -> int:
    """A timestamp as Unix seconds: the engine sends ISO 8601 text, a warehouse may send numbers."""
    if isinstance(value, bool):
        raise ItemError(ErrorCode.INVALID_FIELD_VALUE, f"createdAt: {value!r} is not a timestamp")
    if isinstance(value, int | float):
        return int(value)
    try:
        moment = datetime.fromisoformat(str(value).strip())
    except ValueError:
        raise ItemError(ErrorCode.INVALID_FIELD_VALUE, f"createdAt: {value!r} is not a timestamp") from None
    if moment.tzinfo is None:  # the engine's timestamps are UTC; a bare date is too
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def event_id(record: Mapping[str, Any]) -> str:
    """An id derived from the event's content.

    Iterable updates the event with a known id instead of adding another, so a batch sent again
    (a retried timeout, a run resumed after a crash) does not count its events twice. The engine
    identifies key-less rows by their content too, so two equal rows were one row anyway.
    """
    digest = hashlib.sha256(orjson.dumps(record, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return f"syncline-{digest[:40]}"


def event_item(record: Mapping[str, Any]) -> dict[str, Any]:
    name = record.get("eventName")
    if name in (None, ""):
        raise ItemError(ErrorCode.MISSING_REQUIRED_FIELD, "Iterable needs an eventName for every event")
    item = _identifiers(record, "event's user")
    data: dict[str, Any] = {}
    for field, value in record.items():
        if field in IDENTIFIERS:
            continue
        if field in EVENT_TOP_LEVEL:
            if value is not None:
                item[field] = unix_seconds(value) if field == "createdAt" else value
        else:
            put_data_field(data, field, value)
    if data:
        item["dataFields"] = data
    item.setdefault("id", event_id(record))
    return item


def subscriber_item(record: Mapping[str, Any], match_key: str | None, *, subscribe: bool) -> dict[str, Any]:
    # Only the identifier: a list write changes membership, not profiles.
    name = match_key if match_key in IDENTIFIERS else None
    found = _identifiers(record, "subscriber")
    item = {name: found[name]} if name in found else found
    if subscribe and name == "userId":
        item["preferUserId"] = True
    return item


# --- requests ----------------------------------------------------------------------------------
def items_size(body: dict[str, Any]) -> int:
    return len(orjson.dumps(body))


def chunks(
    items: list[Item], max_items: int = MAX_ITEMS, max_bytes: int = MAX_BODY_BYTES
) -> Iterator[list[Item]]:
    """Consecutive runs of items, each within the per-request count and body size."""
    current: list[Item] = []
    size = 0
    for item in items:
        if current and (len(current) >= max_items or size + item.size + 1 > max_bytes):
            yield current
            current, size = [], 0
        current.append(item)
        size += item.size + 1  # the comma between items
    if current:
        yield current


# --- answers -----------------------------------------------------------------------------------
def _norm(kind: str, value: Any) -> str:
    text = str(value).strip()
    return text.lower() if kind == "email" else text


def outcomes(
    sent: list[Item], answer: Any, *, status: int, not_found_ok: bool = False
) -> list[RecordOutcome]:
    """One outcome per sent item, from a bulk answer's counts and failure lists."""
    answer = answer if isinstance(answer, dict) else {}
    failed = answer.get("failedUpdates")
    if not isinstance(failed, dict):
        # Older answers only have the deprecated top-level lists.
        failed = {k: answer.get(k) for k in ("invalidEmails", "invalidUserIds")}
    failed = {**failed, "disallowedEventNames": answer.get("disallowedEventNames")}
    holders: dict[tuple[str, str], list[Item]] = {}
    for item in sent:
        for kind in (*IDENTIFIERS, "eventName"):
            if item.body.get(kind) not in (None, ""):
                holders.setdefault((kind, _norm(kind, item.body[kind])), []).append(item)
    reasons: dict[int, list[tuple[ErrorCode, str]]] = {}
    cleared: set[int] = set()
    for list_name, (kind, code, why) in FAILURE_LISTS.items():
        values = failed.get(list_name)
        for value in values if isinstance(values, list) else ():
            for item in holders.get((kind, _norm(kind, value)), ()):
                if not_found_ok and list_name in NOT_FOUND_LISTS:
                    cleared.add(item.index)  # removing someone who is not there: done
                else:
                    reasons.setdefault(item.index, []).append((code, f"{why} ({list_name}: {value!r})"))
    success = answer.get("successCount")
    unexplained = isinstance(success, int) and success + len(reasons) + len(cleared) < len(sent)
    results = []
    for item in sent:
        if item.index in reasons:
            codes = reasons[item.index]
            message = "Iterable refused it: " + "; ".join(m for _, m in codes)
            results.append(
                RecordOutcome(item.index, False, error_code=codes[0][0], message=message, status=status)
            )
        elif unexplained and item.index not in cleared:
            # Iterable counted failures it did not itemize: none of the rest is known to be written.
            results.append(
                RecordOutcome(
                    item.index,
                    False,
                    error_code=ErrorCode.DESTINATION_REJECTED,
                    message=f"Iterable reported {answer.get('failCount')} failures in the request "
                    f"without naming them all; this record was not confirmed",
                    status=status,
                    retryable=True,
                )
            )
        else:
            results.append(RecordOutcome(item.index, True, record_id=_record_id(item.body), status=status))
    return results


def _record_id(body: Mapping[str, Any]) -> str | None:
    for name in ("id", "userId", "email"):
        if body.get(name) not in (None, ""):
            return str(body[name])
    return None
