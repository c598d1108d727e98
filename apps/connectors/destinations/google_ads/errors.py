"""Google Ads API errors, read from their REST shape and classified with the contract's codes.

A failed call answers ``{"error": {"code", "message", "status", "details": [{"@type":
"type.googleapis.com/google.ads.googleads.vNN.errors.GoogleAdsFailure", "errors": [{"errorCode":
{"<category>": "<VALUE>"}, "message", "trigger", "location": {"fieldPathElements": [...]}}],
"requestId"}]}}`` (https://developers.google.com/google-ads/api/docs/get-started/handle-errors,
https://developers.google.com/google-ads/api/docs/best-practices/understand-api-errors). A call
made with partial failure answers 200 and puts the same ``GoogleAdsFailure`` in
``partialFailureError``; each error's first field path element (``operations``, ``index``) names
the operation it refused (https://developers.google.com/google-ads/api/docs/best-practices/partial-failures).
Quota errors carry ``details.quotaErrorDetails.retryDelay`` (e.g. ``"30s"``), honoured as Retry-After.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from apps.connectors.base import ConnectorError, ErrorCode
from apps.connectors.http import redact, safe_url

_RETRYABLE_VALUES = frozenset(
    {"CONCURRENT_MODIFICATION", "RESOURCE_TEMPORARILY_EXHAUSTED", "RESOURCE_EXHAUSTED", "INTERNAL_ERROR",
     "TRANSIENT_ERROR", "DEADLINE_EXCEEDED"}
)  # fmt: skip
_RETRYABLE_STATUSES = frozenset({"UNAVAILABLE", "INTERNAL", "DEADLINE_EXCEEDED", "UNKNOWN", "ABORTED"})
_LIST_GONE = frozenset({"INVALID_USER_LIST_ID", "INVALID_USER_LIST_TYPE", "USER_LIST_NOT_APPLICABLE"})
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")

# What to do about the errors people actually hit when connecting.
HINTS = {
    "DEVELOPER_TOKEN_INVALID": "Google sunset developer tokens on 2026-09-09: clear developer_token.",
    "DEVELOPER_TOKEN_NOT_APPROVED": "The token is approved for test accounts only: apply for Basic "
    "or Explorer access.",
    "CLOUD_PROJECT_NOT_APPROVED_FOR_PRODUCTION": "The OAuth client's Cloud project has test access "
    "only: apply for Explorer or Basic access on its Google Ads API overview page.",
    "USER_PERMISSION_DENIED": "The authorised Google user cannot reach this customer_id; if access "
    "goes through a manager account, set login_customer_id to the manager's ID.",
    "INVALID_LOGIN_CUSTOMER_ID_SERVING_CUSTOMER_ID_COMBINATION": "login_customer_id does not manage "
    "customer_id.",
    "CUSTOMER_NOT_FOUND": "No Google Ads account has this customer_id.",
    "CUSTOMER_NOT_ENABLED": "The Google Ads account is not enabled (cancelled or not set up).",
    "OAUTH_TOKEN_INVALID": "The access token was refused: authorise the connection again.",
    "CUSTOMER_NOT_ACCEPTED_CUSTOMER_DATA_TERMS": "Accept the Customer Match terms in the Google Ads "
    "account and send GRANTED consent.",
    "OPERATIONS_FOR_CUSTOMER_MATCH_NOT_ALLOWED": "This account is not eligible for Customer Match.",
}


@dataclass(frozen=True)
class AdsError:
    """One ``GoogleAdsError``: ``code`` is ``category.VALUE`` (e.g. ``quotaError.RESOURCE_EXHAUSTED``)."""

    code: str
    message: str
    index: int | None = None  # the operation it refers to, for partial failures
    retry_delay: float | None = None

    @property
    def value(self) -> str:
        return self.code.rsplit(".", 1)[-1]

    def describe(self) -> str:
        hint = HINTS.get(self.value)
        text = f"{self.code}: {self.message}" if self.code else self.message
        return f"{text} {hint}" if hint else text


def ads_errors(status: Any) -> tuple[list[AdsError], str | None]:
    """The ``GoogleAdsError``s of a ``google.rpc.Status`` (REST JSON) and its request id."""
    errors: list[AdsError] = []
    request_id = None
    details = status.get("details") if isinstance(status, dict) else None
    for detail in details if isinstance(details, list) else ():
        if not isinstance(detail, dict) or not str(detail.get("@type", "")).endswith("GoogleAdsFailure"):
            continue
        request_id = request_id or detail.get("requestId")
        for item in detail.get("errors") or ():
            if isinstance(item, dict):
                errors.append(_ads_error(item))
    return errors, request_id


def _ads_error(item: dict[str, Any]) -> AdsError:
    code = ""
    error_code = item.get("errorCode")
    if isinstance(error_code, dict) and error_code:
        category, value = next(iter(error_code.items()))
        code = f"{category}.{value}"
    index = None
    location = item.get("location")
    elements = location.get("fieldPathElements") if isinstance(location, dict) else None
    if isinstance(elements, list) and elements and isinstance(elements[0], dict):
        first = elements[0]
        if first.get("fieldName") == "operations" and isinstance(first.get("index"), int):
            index = first["index"]
    details = item.get("details")
    quota = details.get("quotaErrorDetails") if isinstance(details, dict) else None
    delay = parse_duration(quota.get("retryDelay")) if isinstance(quota, dict) else None
    return AdsError(code=code, message=str(item.get("message") or ""), index=index, retry_delay=delay)


def parse_duration(value: Any) -> float | None:
    """Seconds of a protobuf Duration in JSON (``"30s"``, ``"1.5s"``)."""
    match = _DURATION.match(value) if isinstance(value, str) else None
    return float(match.group(1)) if match else None


def record_failure(error: AdsError) -> tuple[str, bool]:
    """(contract error code, retryable) for an operation refused inside a partial failure."""
    if error.value in _RETRYABLE_VALUES:
        return ErrorCode.DESTINATION_UNAVAILABLE, True
    if any(word in error.value for word in ("INVALID", "FORMAT", "MISSING", "TOO_MANY", "INCOMPATIBLE")):
        return ErrorCode.INVALID_FIELD_VALUE, False
    return ErrorCode.DESTINATION_REJECTED, False


def classify(error: ConnectorError, response: httpx.Response, secrets: list[str]) -> ConnectorError:
    """Rebuild a whole-request failure from Google's error body: code, retryability, message."""
    try:
        body = orjson.loads(response.content) if response.content else None
    except orjson.JSONDecodeError:
        return error
    status_obj = body.get("error") if isinstance(body, dict) else None
    if not isinstance(status_obj, dict):
        return error  # not a Google API error body (e.g. an OAuth endpoint's): keep the generic one
    status = str(status_obj.get("status") or "")
    errors, request_id = ads_errors(status_obj)
    values = {e.value for e in errors}
    code, retryable = _classify(response.status_code, status, values, error)
    delays = [e.retry_delay for e in errors if e.retry_delay is not None]
    retry_after = (max(delays) if delays else error.retry_after) if retryable else None
    detail = "; ".join(e.describe() for e in errors[:3]) or str(status_obj.get("message") or "")
    head = f"HTTP {response.status_code} {status}".rstrip()
    target = safe_url(response.request.url)
    suffix = f" (request id {request_id})" if request_id else ""
    return ConnectorError(
        redact(f"{head} from {target}: {detail}{suffix}", secrets),
        code=code,
        status=response.status_code,
        retryable=retryable,
        retry_after=retry_after,
    )


def _classify(http: int, status: str, values: set[str], error: ConnectorError) -> tuple[str, bool]:
    if values & {"RESOURCE_EXHAUSTED", "RESOURCE_TEMPORARILY_EXHAUSTED"} or http == 429:
        return ErrorCode.RATE_LIMITED, True
    if "CONCURRENT_MODIFICATION" in values:
        # Another job is changing the same list: worth another try once it is done.
        return ErrorCode.DESTINATION_REJECTED, True
    if status == "UNAUTHENTICATED" or http == 401:
        return ErrorCode.AUTH_FAILED, False
    if status == "PERMISSION_DENIED" or http == 403:
        return ErrorCode.PERMISSION_DENIED, False
    if status in _RETRYABLE_STATUSES or http >= 500:
        return ErrorCode.DESTINATION_UNAVAILABLE, True
    if values & _LIST_GONE:
        return ErrorCode.SCHEMA_DRIFT, False
    return error.code, error.retryable  # INVALID_ARGUMENT, NOT_FOUND…: as the status says
