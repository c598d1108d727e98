"""The Salesforce destination: records written to any sObject through the REST API.

Follows the REST API Developer Guide
(https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/): OAuth 2.0 sessions
(``auth``), the catalog from describe calls (``catalog``), batch writes through sObject Collections
with per-record results (``writes``) and SOQL lookups of record Ids by external ID (``lookup``).
Whole-request errors are JSON lists ``[{"message", "errorCode"}]``
(https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm).

Rate limits: Salesforce meters a rolling 24-hour allocation of API calls per org and caps
*long-running* requests (20 s or more) at 25 at once in production (5 in Developer Edition), with
no per-second limit
(https://developer.salesforce.com/docs/atlas.en-us.salesforce_app_limits_cheatsheet.meta/salesforce_app_limits_cheatsheet/salesforce_app_limits_platform_api.htm).
So the defaults are 4 requests in flight — far from the concurrency cap even when a collection of
200 records with triggers runs long, and leaving room for the org's other integrations — and
10 requests (2,000 records) per second, which only guards the daily allocation against a runaway
sync. Over a limit Salesforce answers 403 ``REQUEST_LIMIT_EXCEEDED``, classified rate_limited and
retryable (status 403 kept).
"""

from __future__ import annotations

import threading
from typing import Any

import httpx
from pydantic import SecretStr

from apps.connectors.base import (
    CheckResult,
    ConnectorConfig,
    ConnectorError,
    ErrorCode,
    FieldSpec,
    ObjectSpec,
    OutgoingBatch,
    WriteResult,
)
from apps.connectors.destinations.salesforce.auth import Session, TokenProvider
from apps.connectors.destinations.salesforce.catalog import field_specs, object_spec
from apps.connectors.destinations.salesforce.config import DEFAULT_LOGIN_URL, SalesforceConfig
from apps.connectors.destinations.salesforce.writes import MAX_RECORDS, CollectionWriter, check_api_name
from apps.connectors.http import redact, safe_url
from apps.connectors.registry import register_destination
from apps.connectors.vendor import VendorDestination, parse_json

__all__ = ["SalesforceConfig", "SalesforceDestination"]

# Whole-request errorCode -> contract code, where the HTTP status alone says something else.
_REQUEST_CODES: dict[str, tuple[ErrorCode, bool]] = {
    "REQUEST_LIMIT_EXCEEDED": (ErrorCode.RATE_LIMITED, True),  # 403, yet it passes
    "INVALID_SESSION_ID": (ErrorCode.AUTH_FAILED, False),
    "API_DISABLED_FOR_ORG": (ErrorCode.PERMISSION_DENIED, False),
    "API_CURRENTLY_DISABLED": (ErrorCode.PERMISSION_DENIED, False),
    "INSUFFICIENT_ACCESS": (ErrorCode.PERMISSION_DENIED, False),
    "INVALID_FIELD": (ErrorCode.SCHEMA_DRIFT, False),  # a mapped field no longer exists
    "INVALID_TYPE": (ErrorCode.SCHEMA_DRIFT, False),  # the object no longer exists
}


@register_destination
class SalesforceDestination(VendorDestination):
    """Salesforce REST API destination (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/)."""

    type = "salesforce"
    label = "Salesforce"
    Config = SalesforceConfig
    max_batch_size = MAX_RECORDS  # sObject Collections take 200 records per request
    max_concurrency = 4
    # Only where the token request goes: the API root is the org's instance URL (``base_url``).
    default_base_url = DEFAULT_LOGIN_URL
    default_rate_limit = (10.0, 10)
    config: SalesforceConfig

    def __init__(self, config: ConnectorConfig, *, allow_private: bool | None = None) -> None:
        super().__init__(config, allow_private=allow_private)
        self._tokens = TokenProvider(self.config, super().request, self.secrets, self._refresh_token_rotated)
        self._describes: dict[str, dict[str, Any] | None] = {}
        self._describe_lock = threading.Lock()

    def _refresh_token_rotated(self, token: str) -> None:
        if self.keep_secrets is not None:
            auth = self.config.auth.model_copy(update={"refresh_token": SecretStr(token)})
            self.keep_secrets(self.config.model_copy(update={"auth": auth}))

    # --- auth and transport --------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """The org's instance URL (configured, or named by the token response)."""
        return self.config.instance_url or self._tokens.session().instance_url

    @property
    def api_root(self) -> str:
        return f"/services/data/{self.config.api_version}"

    def secrets(self) -> list[str]:
        return [*self.config.secret_values(), *self._tokens.issued]

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._tokens.session().access_token}"}

    def _target(self, session: Session, path: str) -> str:
        # Paths the API hands back (nextRecordsUrl) start with /services/data/; others are relative
        # to this API version. Absolute URLs are not followed: credentials go to the instance only.
        if path.startswith("/services/data/"):
            return session.instance_url + path
        if "://" in path:
            raise ConnectorError(f"Refusing to send the session to {safe_url(path)}", status=400)
        return f"{session.instance_url}{self.api_root}/{path.lstrip('/')}"

    def request(self, method: str, path: str, *, authenticate: bool = True, **kwargs: Any) -> httpx.Response:
        """Send an API request with the session; on a 401 renew the session once and resend."""
        if not authenticate:
            return super().request(method, path, authenticate=False, **kwargs)
        headers = dict(kwargs.pop("headers", None) or {})
        for attempt in range(2):
            session = self._tokens.session()
            headers["Authorization"] = f"Bearer {session.access_token}"
            try:
                return super().request(
                    method, self._target(session, path), headers=headers, authenticate=False, **kwargs
                )
            except ConnectorError as exc:
                # 401 = INVALID_SESSION_ID: the request was not processed, so resending is safe.
                if exc.status != 401 or attempt:
                    raise
                self._tokens.invalidate(session)
        raise AssertionError("unreachable")

    def refine_error(self, error: ConnectorError, response: httpx.Response) -> ConnectorError:
        body = parse_body(response)
        first = body[0] if isinstance(body, list) and body and isinstance(body[0], dict) else None
        if first is None:
            return error
        sf_code = str(first.get("errorCode") or "")
        said = redact(f"{sf_code}: {first.get('message') or ''}".strip(), self.secrets())
        code, retryable = _REQUEST_CODES.get(sf_code, (error.code, error.retryable))
        return ConnectorError(
            f"HTTP {response.status_code} from {safe_url(response.request.url)}: {said}",
            code=code,
            status=error.status,
            retryable=retryable,
            retry_after=error.retry_after,
        )

    # --- check ---------------------------------------------------------------------------------
    def check(self) -> CheckResult:
        try:
            session = self._tokens.session()
            response = self.request("GET", "sobjects")
        except ConnectorError as exc:
            return CheckResult(False, exc.message)
        data = parse_body(response)
        entries = data.get("sobjects") if isinstance(data, dict) else None
        if not isinstance(entries, list):
            return CheckResult(False, f"{session.instance_url} did not answer like Salesforce's REST API.")
        writable = sum(1 for e in entries if isinstance(e, dict) and object_spec(e) is not None)
        usage = response.headers.get("Sforce-Limit-Info")  # e.g. api-usage=25/15000 (last 24 h)
        return CheckResult(
            True,
            f"Connected to {session.instance_url} (API {self.config.api_version}): {len(entries)} objects, "
            f"{writable} writable" + (f"; {usage}" if usage else "") + ".",
        )

    # --- catalog -------------------------------------------------------------------------------
    def list_objects(self) -> list[ObjectSpec]:
        data = self.request_json("GET", "sobjects")
        entries = data.get("sobjects") if isinstance(data, dict) else None
        specs = [object_spec(e) for e in entries or () if isinstance(e, dict)]
        return sorted((s for s in specs if s is not None), key=lambda s: s.name)

    def get_object(self, object_name: str) -> ObjectSpec | None:
        # One sObject describe (cached, and needed for the fields anyway) instead of the global one.
        describe = self._describe(object_name)
        return object_spec(describe) if describe is not None else None

    def list_fields(self, object_name: str) -> list[FieldSpec]:
        describe = self._describe(object_name)
        if describe is None:
            raise ConnectorError(
                f"Object '{object_name}' does not exist in this Salesforce org (or is not visible to the "
                "integration user)",
                code=ErrorCode.SCHEMA_DRIFT,
                status=404,
            )
        return field_specs(describe)

    def _describe(self, object_name: str) -> dict[str, Any] | None:
        try:
            name = check_api_name(object_name, "Object")
        except ConnectorError:
            return None
        with self._describe_lock:
            if name in self._describes:
                return self._describes[name]
        response = self.request("GET", f"sobjects/{name}/describe", accept=(404,))
        data = parse_body(response) if response.status_code != 404 else None
        describe = data if isinstance(data, dict) else None
        with self._describe_lock:
            self._describes[name] = describe
        return describe

    # --- writes --------------------------------------------------------------------------------
    def write(
        self, object_name: str, mode: str, batch: OutgoingBatch, *, match_key: str | None
    ) -> WriteResult:
        if len(batch) == 0:
            return WriteResult(outcomes=[], requests=0)
        writer = CollectionWriter(self.request, self.secrets(), object_name, match_key)
        outcomes = writer.write(mode, batch)
        return WriteResult(outcomes=outcomes, requests=writer.requests)


def parse_body(response: httpx.Response) -> Any:
    try:
        return parse_json(response)
    except ConnectorError:
        return None
