"""Iterable's error answers, classified by their named ``code`` rather than by status alone.

Every Iterable error is ``{"msg": "...", "code": "<name>", "params": {...}}``; one status covers
several codes (400 alone has more than a dozen), so the code decides the contract's error code.
Codes and their meanings: https://support.iterable.com/hc/en-us/articles/39629320560148 ("API
Response Codes") and the ``IterableApiResponse`` schema of https://api.iterable.com/api/docs.
A 429 carries ``params.rateLimitReset``, the seconds until the token bucket allows a retry.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from apps.connectors.base import ConnectorError, ErrorCode
from apps.connectors.http import parse_retry_after, redact, safe_url

_CODES: dict[str, ErrorCode] = {
    "BadApiKey": ErrorCode.AUTH_FAILED,
    "InvalidApiKey": ErrorCode.AUTH_FAILED,
    "BadAuthorizationHeader": ErrorCode.AUTH_FAILED,
    "Unauthorized": ErrorCode.AUTH_FAILED,
    "Forbidden": ErrorCode.PERMISSION_DENIED,
    "ForbiddenParamsError": ErrorCode.PERMISSION_DENIED,
    "BadParams": ErrorCode.INVALID_FIELD_VALUE,
    "BadJsonBody": ErrorCode.INVALID_FIELD_VALUE,
    "InvalidEmailAddressError": ErrorCode.INVALID_FIELD_VALUE,
    "InvalidUserIdError": ErrorCode.INVALID_FIELD_VALUE,
    "RequestFieldsTypesMismatched": ErrorCode.INVALID_FIELD_VALUE,
    "BatchTooLarge": ErrorCode.PAYLOAD_TOO_LARGE,
    "UniqueFieldsLimitExceeded": ErrorCode.DESTINATION_CONSTRAINT_VIOLATION,
    "EmailAlreadyExists": ErrorCode.DESTINATION_CONSTRAINT_VIOLATION,
    "UserIdAlreadyExists": ErrorCode.DESTINATION_CONSTRAINT_VIOLATION,
    "ExternalKeyConflict": ErrorCode.DESTINATION_CONSTRAINT_VIOLATION,
    "Conflict": ErrorCode.DESTINATION_CONSTRAINT_VIOLATION,
    "ForgottenUserError": ErrorCode.DESTINATION_REJECTED,
    "RateLimitExceeded": ErrorCode.RATE_LIMITED,
    "DatabaseError": ErrorCode.DESTINATION_UNAVAILABLE,
    "GenericError": ErrorCode.DESTINATION_UNAVAILABLE,
}
_RETRYABLE = frozenset({ErrorCode.RATE_LIMITED, ErrorCode.DESTINATION_UNAVAILABLE})
_AUTH_HINT = (
    " Check that the key is a server-side key of this project and that the base URL is the "
    "project's data center (US: https://api.iterable.com, EU: https://api.eu.iterable.com)."
)


def _body(response: httpx.Response) -> dict[str, Any]:
    try:
        data = orjson.loads(response.content) if response.content else None
    except orjson.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def refine(error: ConnectorError, response: httpx.Response, secrets: list[str]) -> ConnectorError:
    """``error`` (classified by status) reclassified by Iterable's code, with Iterable's message."""
    body = _body(response)
    name = body.get("code") if isinstance(body.get("code"), str) else None
    msg = body.get("msg") if isinstance(body.get("msg"), str) else None
    if name is None and msg is None:
        return error  # not Iterable's shape (a proxy, a load balancer): keep the status's reading
    status = response.status_code
    code = _CODES.get(name or "", ErrorCode(error.code))
    if status >= 500:
        code = ErrorCode.DESTINATION_UNAVAILABLE  # whatever the name, the server failed
    elif status == 429:
        code = ErrorCode.RATE_LIMITED
    if code == ErrorCode.INVALID_FIELD_VALUE and "invalidListId" in (msg or ""):
        code = ErrorCode.SCHEMA_DRIFT  # the list was deleted since the sync was set up
    retryable = code in _RETRYABLE
    retry_after = error.retry_after
    if retryable and retry_after is None:
        params = body.get("params") if isinstance(body.get("params"), dict) else {}
        retry_after = parse_retry_after(str(params.get("rateLimitReset", "")) or None)
    text = f"Iterable {name or 'error'} (HTTP {status}) from {safe_url(response.request.url)}: {msg or ''}"
    if code == ErrorCode.AUTH_FAILED:
        text = text.rstrip(". ") + "." + _AUTH_HINT
    return ConnectorError(
        redact(text.strip(), secrets),
        code=code,
        status=status,
        retryable=retryable,
        retry_after=retry_after if retryable else None,
    )
