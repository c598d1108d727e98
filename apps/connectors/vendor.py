"""What every vendor (SaaS / ads) destination shares: its config basics and one JSON API client.

A vendor connector subclasses ``VendorConfig`` (adding its credentials as ``SecretStr`` fields)
and ``VendorDestination`` (setting ``default_base_url`` and ``default_rate_limit`` from the
vendor's documentation, and implementing ``auth_headers``). Requests go through
``VendorDestination.request``, which builds on ``connectors.http`` (SSRF guard, redirects checked
hop by hop, no environment proxies) and turns every failure into a classified ``ConnectorError``
with the vendor's own status and message, credentials redacted. Nothing here retries: the engine's
loader owns retry, backoff and the rate limiter, using ``rate_limit()`` and ``concurrency()``.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import httpx
import orjson
from pydantic import Field, SecretStr, field_validator

from apps.connectors.base import ConnectorConfig, ConnectorError, Destination, ErrorCode
from apps.connectors.http import (
    DEFAULT_RETRYABLE_STATUSES,
    build_client,
    classify_response,
    parse_http_url,
    redact,
    safe_url,
    send,
)


def check_base_url(value: str | None) -> str | None:
    """An http(s) API root without credentials, query or trailing slash (or None for the default)."""
    if value is None or value == "":
        return None
    url = parse_http_url(value)
    if url.query:
        raise ValueError("must not contain a query string")
    return value.rstrip("/")


class VendorConfig(ConnectorConfig):
    """Settings every vendor connector takes (the contract's optional ``base_url`` among them)."""

    base_url: str | None = Field(
        None,
        description="API root; defaults to the vendor's public one (set it for regional endpoints, "
        "proxies or sandboxes).",
    )
    rate_limit_per_second: float | None = Field(
        None, gt=0, description="Requests per second; default: the vendor's documented limit."
    )
    rate_limit_burst: int | None = Field(None, ge=1, description="Requests allowed at once.")
    concurrency: int | None = Field(None, ge=1, le=64, description="Requests in flight at once.")
    timeout_seconds: float = Field(60, gt=0, le=600)

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str | None) -> str | None:
        return check_base_url(value)

    def secret_values(self) -> list[str]:
        """Every secret value of this config (for redaction)."""
        values = []
        for name in self.secret_field_names():
            value = getattr(self, name, None)
            if isinstance(value, SecretStr) and value.get_secret_value():
                values.append(value.get_secret_value())
        return values


class VendorDestination(Destination):
    """Base of the vendor connectors: base URL, defaults from the vendor's docs, one client."""

    default_base_url: ClassVar[str]
    # (requests per second, burst) as the vendor documents them for one account / app.
    default_rate_limit: ClassVar[tuple[float | None, int]] = (None, 1)
    retryable_statuses: ClassVar[frozenset[int]] = DEFAULT_RETRYABLE_STATUSES
    config: VendorConfig

    def __init__(self, config: ConnectorConfig, *, allow_private: bool | None = None) -> None:
        """``allow_private`` overrides ``SYNCLINE_ALLOW_PRIVATE_DESTINATIONS`` (tests, embedding)."""
        super().__init__(config)
        self._allow_private = allow_private
        self._client: httpx.Client | None = None
        self._client_lock = threading.Lock()

    # --- settings ------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return self.config.base_url or self.default_base_url

    def rate_limit(self) -> tuple[float | None, int]:
        rate, burst = self.default_rate_limit
        if self.config.rate_limit_per_second is not None:
            rate = self.config.rate_limit_per_second
            burst = max(1, int(rate))
        return rate, self.config.rate_limit_burst or burst

    def concurrency(self) -> int:
        return self.config.concurrency or self.max_concurrency

    def rate_limit_scope(self) -> str | None:
        # Vendors count requests per credential (a HubSpot private app, an Iterable API key, a
        # Meta system user): two connections holding the same one must share a bucket, or
        # together they send twice the rate. A digest names it: bucket keys are Redis keys.
        secrets = sorted(self.config.secret_values())
        if not secrets:
            return None
        material = "\0".join([self.type, self.config.base_url or self.default_base_url, *secrets])
        return f"{self.type}:{hashlib.sha256(material.encode()).hexdigest()[:32]}"

    def secrets(self) -> list[str]:
        """Values to redact from any message: the config's secrets plus tokens obtained at runtime."""
        return self.config.secret_values()

    def auth_headers(self) -> dict[str, str]:
        """Headers that authenticate a request (called per request: tokens may be refreshed)."""
        return {}

    # --- transport -----------------------------------------------------------------------------
    @property
    def client(self) -> httpx.Client:
        with self._client_lock:
            if self._client is None:
                self._client = build_client(
                    timeout=self.config.timeout_seconds,
                    headers={"Accept": "application/json"},
                    allow_private=self._allow_private,
                )
            return self._client

    def close(self) -> None:
        with self._client_lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.base_url}/{path.lstrip('/')}"

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        accept: Iterable[int] = (),
        authenticate: bool = True,
    ) -> httpx.Response:
        """Send one request; return the response if it is 2xx or its status is in ``accept``.

        Anything else raises a ``ConnectorError`` classified by status (429/5xx retryable with
        ``Retry-After``; 401 auth_failed; 403 permission_denied; …) whose message holds the
        vendor's own message with every secret redacted.
        """
        all_headers = dict(headers or {})
        if authenticate:
            all_headers.update(self.auth_headers())
        if json is not None:
            content = orjson.dumps(json)
            all_headers.setdefault("Content-Type", "application/json")
        target: str | httpx.URL = self.url(path)
        if params:
            target = httpx.URL(target, params={k: v for k, v in params.items() if v is not None})
        response = send(
            self.client,
            method,
            target,
            content=content,
            headers=all_headers,
            allow_private=self._allow_private,
        )
        if response.status_code in set(accept):
            return response
        error = classify_response(
            response, retryable_statuses=self.retryable_statuses, secrets=self.secrets()
        )
        if error is not None:
            raise self.refine_error(error, response)
        return response

    def refine_error(self, error: ConnectorError, response: httpx.Response) -> ConnectorError:
        """Hook: a connector may reclassify a vendor error (e.g. a 400 that means rate limited)."""
        return error

    def request_json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        return parse_json(response, self.secrets())


def parse_json(response: httpx.Response, secrets: Iterable[str] = ()) -> Any:
    """The response's JSON body (None when empty); a non-JSON body is a classified error."""
    if not response.content:
        return None
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        snippet = redact(response.content[:200].decode("utf-8", "replace"), secrets)
        raise ConnectorError(
            f"HTTP {response.status_code} from {safe_url(response.request.url)} is not JSON: {snippet}",
            code=ErrorCode.DESTINATION_UNAVAILABLE,
            status=response.status_code,
            retryable=True,
        ) from None
