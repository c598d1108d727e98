"""HubSpot's error bodies, read into Syncline's error codes and readable messages.

HubSpot errors carry ``status``, ``message``, ``category``, ``correlationId``, ``context`` and
``errors[]`` (each ``message``, ``code``, ``context``), every field optional
(https://developers.hubspot.com/docs/api-reference/error-handling). Property validation failures
arrive as ``"Property values were not valid: [<JSON list>]"``; the list's own messages are what a
user needs to read, so they are unwrapped. Rate limits answer 429 with ``policyName``
(``TEN_SECONDLY_ROLLING`` or ``DAILY``); 423 means a record is locked for two seconds, 477 that
the account is migrating (with ``Retry-After``)
(https://developers.hubspot.com/docs/developer-tooling/platform/usage-guidelines).
"""

from __future__ import annotations

from typing import Any

import orjson

from apps.connectors.base import ErrorCode
from apps.connectors.http import code_for_status

_INVALID_PREFIX = "Property values were not valid: "
_MESSAGE_LIMIT = 500
# Validation codes that mean the mapping no longer fits the account, not that a value is bad.
_DRIFT_CODES = frozenset({"PROPERTY_DOESNT_EXIST", "READ_ONLY_VALUE"})
_REQUIRED_CODES = frozenset({"REQUIRED_PROPERTY", "MISSING_REQUIRED_PROPERTY"})
_CATEGORY_CODES: dict[str, ErrorCode] = {
    "VALIDATION_ERROR": ErrorCode.INVALID_FIELD_VALUE,
    "OBJECT_NOT_FOUND": ErrorCode.DESTINATION_REJECTED,
    "CONFLICT": ErrorCode.DESTINATION_CONSTRAINT_VIOLATION,
    "OBJECT_ALREADY_EXISTS": ErrorCode.DESTINATION_CONSTRAINT_VIOLATION,
    "RATE_LIMITS": ErrorCode.RATE_LIMITED,
    "MISSING_SCOPES": ErrorCode.PERMISSION_DENIED,
    "INVALID_AUTHENTICATION": ErrorCode.AUTH_FAILED,
    "EXPIRED_AUTHENTICATION": ErrorCode.AUTH_FAILED,
}
# Per-record errors inside a 207 carry status "error", not an HTTP status: the category's usual
# status is reported instead, so the DLQ says 400 / 404 / 409 as HubSpot would for one record.
_CATEGORY_STATUS: dict[str, int] = {
    "VALIDATION_ERROR": 400,
    "OBJECT_NOT_FOUND": 404,
    "CONFLICT": 409,
    "OBJECT_ALREADY_EXISTS": 409,
    "RATE_LIMITS": 429,
    "MISSING_SCOPES": 403,
}


def _property_results(message: str) -> list[dict[str, Any]]:
    if not message.startswith(_INVALID_PREFIX):
        return []
    try:
        items = orjson.loads(message[len(_INVALID_PREFIX) :])
    except orjson.JSONDecodeError:
        return []
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def detail_codes(error: dict[str, Any]) -> set[str]:
    """The specific codes (INVALID_EMAIL, PROPERTY_DOESNT_EXIST, …) an error carries."""
    codes = {str(i["error"]) for i in _property_results(str(error.get("message") or "")) if i.get("error")}
    for item in error.get("errors") or ():
        if isinstance(item, dict) and item.get("code"):
            codes.add(str(item["code"]))
    return codes


def readable_message(error: dict[str, Any]) -> str:
    """HubSpot's message, with a property-validation list unwrapped into its own messages."""
    message = str(error.get("message") or "").strip()
    results = _property_results(message)
    if results:
        parts = [_property_message(i) for i in results]
        message = _INVALID_PREFIX + "; ".join(parts)
    elif not message:
        details = [str(i.get("message")) for i in error.get("errors") or () if isinstance(i, dict)]
        message = "; ".join(d for d in details if d) or "HubSpot rejected the request without a message"
    return message if len(message) <= _MESSAGE_LIMIT else message[: _MESSAGE_LIMIT - 1] + "…"


def _property_message(item: dict[str, Any]) -> str:
    text = str(item.get("message") or item.get("error") or "invalid value")
    return f"{item['name']}: {text}" if item.get("name") else text


def category_of(error: dict[str, Any]) -> str:
    return str(error.get("category") or "")


def error_code(error: dict[str, Any], status: int | None) -> ErrorCode:
    codes = detail_codes(error)
    if codes & _DRIFT_CODES:
        return ErrorCode.SCHEMA_DRIFT
    if codes & _REQUIRED_CODES:
        return ErrorCode.MISSING_REQUIRED_FIELD
    category = category_of(error)
    if category in _CATEGORY_CODES:
        return _CATEGORY_CODES[category]
    if status is None:
        return ErrorCode.DESTINATION_REJECTED
    # HubSpot's own statuses first (a conflict; a record locked for 2 s; an account migrating),
    # then what any HTTP API's status means.
    if status == 409:
        return ErrorCode.DESTINATION_CONSTRAINT_VIOLATION
    if status in (423, 477):
        return ErrorCode.DESTINATION_UNAVAILABLE
    return code_for_status(status)


def record_status(error: dict[str, Any], response_status: int) -> int:
    return _CATEGORY_STATUS.get(category_of(error), response_status)


def missing_scopes(error: dict[str, Any]) -> list[str]:
    """The scopes a MISSING_SCOPES answer says are required (any one of them suffices)."""
    scopes: list[str] = []
    for item in error.get("errors") or ():
        context = item.get("context") if isinstance(item, dict) else None
        if isinstance(context, dict):
            for key in ("requiredGranularScopes", "requiredScopes", "missingScopes"):
                scopes += [str(s) for s in context.get(key) or () if str(s) not in scopes]
    return scopes


def body_of(content: bytes) -> dict[str, Any]:
    """A response body as a dict ({} when it is empty or not a JSON object)."""
    if not content:
        return {}
    try:
        data = orjson.loads(content)
    except orjson.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}
