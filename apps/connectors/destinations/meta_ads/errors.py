"""Graph API errors, classified by Meta's error code rather than by HTTP status.

Meta answers errors as ``{"error": {"message", "type", "code", "error_subcode", "error_user_title",
"error_user_msg", "is_transient", "fbtrace_id"}}`` and the HTTP status says little: an expired token
and a rate limit both typically come back as HTTP 400. The codes are documented in
https://developers.facebook.com/docs/graph-api/guides/error-handling (1/2 transient, 4/17/341
throttling, 10 and 200-299 permissions, 100 invalid parameter, 102/190 access token) and
https://developers.facebook.com/docs/graph-api/overview/rate-limiting (32, 613 and the business
use case codes 80000-80014; 80003 is the custom audience one). How long to wait comes from the
usage headers described there: ``X-Business-Use-Case-Usage`` (``estimated_time_to_regain_access``,
minutes) and ``X-Ad-Account-Usage`` (``reset_time_duration``, seconds).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import httpx
import orjson

from apps.connectors.base import ConnectorError, ErrorCode
from apps.connectors.http import parse_retry_after, redact, safe_url

RATE_LIMIT_CODES = frozenset({4, 17, 32, 341, 613, *range(80000, 80015)})
TRANSIENT_CODES = frozenset({1, 2})
AUTH_CODES = frozenset({102, 190})
PERMISSION_CODES = frozenset({10, *range(200, 300)})
# Code 100 is "invalid parameter": about the rows we sent when Meta's message names the payload
# (its user-facing text is not looked at: it speaks of "data" in general).
_ABOUT_PAYLOAD = re.compile(r"\b(payload|schema)\b", re.IGNORECASE)
_MESSAGE_LIMIT = 500


class MetaApiError(ConnectorError):
    """A classified Graph API error that keeps Meta's own code, subcode and trace id."""

    def __init__(
        self,
        message: str,
        *,
        meta_code: int | None,
        subcode: int | None = None,
        fbtrace_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.meta_code = meta_code
        self.subcode = subcode
        self.fbtrace_id = fbtrace_id


def graph_error(response: httpx.Response) -> dict[str, Any] | None:
    """The ``error`` object of a Graph API error body, or None when the body is not one."""
    try:
        body = orjson.loads(response.content) if response.content else None
    except orjson.JSONDecodeError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def classify(code: int | None, message: str, *, transient: bool, status: int) -> tuple[ErrorCode, bool]:
    """(contract error code, retryable) for a Meta error code."""
    if code in RATE_LIMIT_CODES:
        return ErrorCode.RATE_LIMITED, True
    if code in AUTH_CODES:
        return ErrorCode.AUTH_FAILED, False
    if code in PERMISSION_CODES:
        return ErrorCode.PERMISSION_DENIED, False
    if code in TRANSIENT_CODES or transient or status >= 500:
        return ErrorCode.DESTINATION_UNAVAILABLE, True
    if code == 100 and _ABOUT_PAYLOAD.search(message):
        return ErrorCode.INVALID_FIELD_VALUE, False
    return ErrorCode.DESTINATION_REJECTED, False  # 100, 2650-2699 audience errors, 368, …


def wait_hint(headers: httpx.Headers) -> float | None:
    """Seconds until Meta lets the caller back in, from its usage headers (None when unsaid)."""
    waits: list[float] = []
    retry_after = parse_retry_after(headers.get("Retry-After"))
    if retry_after:
        waits.append(retry_after)
    for name, key, scale in (
        ("X-Business-Use-Case-Usage", "estimated_time_to_regain_access", 60.0),
        ("X-Ad-Account-Usage", "reset_time_duration", 1.0),
    ):
        raw = headers.get(name)
        if not raw:
            continue
        try:
            usage = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        # X-Business-Use-Case-Usage maps business ids to lists of entries; X-Ad-Account-Usage is one.
        entries: list[Any] = [usage]
        if isinstance(usage, dict) and key not in usage:
            entries = [e for v in usage.values() if isinstance(v, list) for e in v]
        for entry in entries:
            value = entry.get(key) if isinstance(entry, dict) else None
            if isinstance(value, int | float) and value > 0:
                waits.append(float(value) * scale)
    return max(waits) if waits else None


def describe(error: dict[str, Any]) -> str:
    """Meta's message, its user-facing explanation when it gives one, and the codes to quote."""
    parts = [str(error.get("message") or "Graph API error")]
    user_msg = error.get("error_user_msg")
    if user_msg:
        title = error.get("error_user_title")
        parts.append(f"{title}: {user_msg}" if title else str(user_msg))
    code, subcode = error.get("code"), error.get("error_subcode")
    ids = f"code {code}" + (f", subcode {subcode}" if subcode else "")
    if error.get("fbtrace_id"):
        ids += f", fbtrace_id {error['fbtrace_id']}"
    text = " — ".join(" ".join(p.split()) for p in parts)
    if len(text) > _MESSAGE_LIMIT:
        text = text[: _MESSAGE_LIMIT - 1] + "…"
    return f"{text} ({ids})"


def refine(error: ConnectorError, response: httpx.Response, secrets: Iterable[str]) -> ConnectorError:
    """Reclassify a failed response by Meta's error code; keep the HTTP status as Meta sent it."""
    body = graph_error(response)
    if body is None:
        return error
    status = response.status_code
    code = _int(body.get("code"))
    text = describe(body)
    message = str(body.get("message") or "")
    kind, retryable = classify(code, message, transient=bool(body.get("is_transient")), status=status)
    try:
        target = safe_url(response.request.url)
    except RuntimeError:  # a response built by hand, without its request
        target = "the Graph API"
    return MetaApiError(
        redact(f"HTTP {status} from {target}: {text}", secrets),
        code=kind,
        status=status,
        retryable=retryable,
        retry_after=wait_hint(response.headers) if retryable else None,
        meta_code=code,
        subcode=_int(body.get("error_subcode")),
        fbtrace_id=str(body["fbtrace_id"]) if body.get("fbtrace_id") else None,
    )
