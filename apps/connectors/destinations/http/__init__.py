"""The custom HTTP destination: records POSTed (or PUT/PATCH/DELETEd) as JSON to any endpoint.

Per the API contract: with ``batch_size`` > 1 a body is ``{"records": [record, …]}``, with 1 it is
the record itself, unless ``record_template`` / ``batch_template`` shape them (see template.py);
a 2xx answer may fail single records via ``{"errors": [{"index", "message",
"code"}]}``; other statuses fail the whole request, classified (429/5xx retryable, honouring
``Retry-After``). It follows Syncline's API contract (connections section; see docs/api.md) and
HTTP semantics as RFC 9110 defines them (https://www.rfc-editor.org/rfc/rfc9110: methods, status
classes, ``Retry-After``). Nothing here retries or waits: the engine's loader acquires the rate limiter
(``rate_limit()``) before each write and owns retry and backoff.
"""

from __future__ import annotations

import logging
import threading
import time

import httpx

from apps.connectors.base import (
    WRITE_MODES,
    CheckResult,
    ConnectorConfig,
    ConnectorError,
    Destination,
    ErrorCode,
    FieldSpec,
    ObjectSpec,
    OutgoingBatch,
    RecordOutcome,
    WriteResult,
)
from apps.connectors.destinations.http.auth import secret_forms, signature_header, static_headers
from apps.connectors.destinations.http.body import (
    batch_body,
    outcomes_from_response,
    single_body,
    templated_bodies,
)
from apps.connectors.destinations.http.config import HttpConfig
from apps.connectors.destinations.http.template import TemplateContext
from apps.connectors.http import build_client, classify_response, redact, safe_url, send, server_message
from apps.connectors.ratelimit import default_burst
from apps.connectors.registry import register_destination

__all__ = ["HttpConfig", "HttpDestination"]

logger = logging.getLogger(__name__)

RECORDS_OBJECT = "records"


def _object_spec(name: str) -> ObjectSpec:
    return ObjectSpec(
        name=name,
        label="Records" if name == RECORDS_OBJECT else name,
        supported_modes=WRITE_MODES,
        custom=name != RECORDS_OBJECT,
        freeform_fields=True,
    )


@register_destination
class HttpDestination(Destination):
    type = "http"
    label = "Custom HTTP"
    Config = HttpConfig
    max_batch_size = 10_000
    config: HttpConfig

    def __init__(self, config: ConnectorConfig, *, allow_private: bool | None = None) -> None:
        """``allow_private`` overrides ``SYNCLINE_ALLOW_PRIVATE_DESTINATIONS`` (tests, embedding);
        it is deliberately not part of the user-editable config."""
        super().__init__(config)
        self._allow_private = allow_private
        self._secrets = secret_forms(self.config.auth)
        self._retryable = frozenset(self.config.retryable_statuses)
        # Compiled once here; None (no template) keeps the plain joining of pre-rendered rows.
        self._templated = templated_bodies(
            self.config.record_template, self.config.batch_template, self.config.batch_size
        )
        self._client: httpx.Client | None = None
        self._client_lock = threading.Lock()

    # --- catalog -----------------------------------------------------------------------------
    def list_objects(self) -> list[ObjectSpec]:
        return [_object_spec(RECORDS_OBJECT)]

    def get_object(self, object_name: str) -> ObjectSpec | None:
        # Any name is accepted: an endpoint has no catalog, the name only labels the sync.
        return _object_spec(object_name) if object_name else None

    def list_fields(self, object_name: str) -> list[FieldSpec]:
        return []  # free-form: any destination field name

    def batch_size(self, object_name: str, mode: str) -> int:
        return self.config.batch_size

    def rate_limit(self) -> tuple[float | None, int]:
        """(requests per second or None for unlimited, burst) for the engine's limiter."""
        rate = self.config.rate_limit_per_second or None
        burst = self.config.rate_limit_burst or (default_burst(rate) if rate else 1)
        return rate, burst

    # --- transport ---------------------------------------------------------------------------
    @property
    def client(self) -> httpx.Client:
        with self._client_lock:
            if self._client is None:
                headers = httpx.Headers({"Content-Type": "application/json", "Accept": "application/json"})
                for name, value in {**self.config.headers, **static_headers(self.config.auth)}.items():
                    headers[name] = value  # case-insensitive override of the defaults
                self._client = build_client(
                    timeout=self.config.timeout_seconds,
                    headers=dict(headers.items()),
                    allow_private=self._allow_private,
                )
            return self._client

    def _send(self, method: str, body: bytes | None, headers: dict[str, str]) -> httpx.Response:
        signature = signature_header(self.config.auth, body or b"")
        if signature is not None:
            headers[signature[0]] = signature[1]
        return send(
            self.client,
            method,
            self.config.url,
            content=body,
            headers=headers,
            allow_private=self._allow_private,
        )

    def close(self) -> None:
        with self._client_lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    # --- check -------------------------------------------------------------------------------
    def check(self) -> CheckResult:
        target = safe_url(self.config.url)
        for method in ("HEAD", "GET", "OPTIONS"):
            try:
                response = self._send(method, None, {})
            except ConnectorError as exc:
                return CheckResult(False, f"{target} is not reachable: {exc.message}")
            if response.status_code not in (405, 501):
                break
        status = response.status_code
        said = f"{method} {target} answered HTTP {status}"
        detail = redact(server_message(response), self._secrets) if status >= 400 else ""
        if status == 401:
            return CheckResult(False, f"Authentication failed: {said}: {detail}. Check the auth settings.")
        if status == 403:
            return CheckResult(False, f"Permission denied: {said}: {detail}. Check the credentials' access.")
        if status in (404, 410):
            return CheckResult(False, f"Not found: {said}. Check the URL.")
        if status >= 500 and status not in (501,):
            return CheckResult(False, f"The server is failing: {said}: {detail}")
        if status >= 400:
            return CheckResult(
                True,
                f"Reachable: {said} (expected from an endpoint that takes {self.config.method} "
                f"requests with records): {detail}",
            )
        return CheckResult(True, f"Reachable: {said}.")

    # --- writes ------------------------------------------------------------------------------
    def write(
        self,
        object_name: str,
        mode: str,
        batch: OutgoingBatch,
        *,
        match_key: str | None,
        idempotency_key: str | None = None,
    ) -> WriteResult:
        """Send ``batch`` in requests of ``batch_size`` records (normally exactly one request).

        ``Idempotency-Key`` is ``idempotency_key`` or ``batch.idempotency_key`` when the engine
        sets one; when the batch needs several requests each gets ``<key>:<n>``.
        If a later request of the batch fails as a whole, the earlier ones stay written and the
        rest get failed outcomes with that error's classification; if the first fails, it raises.
        """
        if mode not in WRITE_MODES:
            raise ConnectorError(
                f"Mode '{mode}' is not supported; supported: {', '.join(WRITE_MODES)}",
                code=ErrorCode.DESTINATION_REJECTED,
                status=400,
            )
        total = len(batch)
        if total == 0:
            return WriteResult(outcomes=[], requests=0)
        key = idempotency_key or getattr(batch, "idempotency_key", None)
        method = self.config.method_for(mode)
        size = self.config.batch_size
        headers = {"X-Syncline-Operation": mode, "X-Syncline-Object": object_name}
        if match_key:
            headers["X-Syncline-Match-Key"] = match_key
        templated = self._templated
        context = (
            TemplateContext(self.config.operation_for(mode), object_name, match_key) if templated else None
        )
        outcomes: list[RecordOutcome] = []
        requests = 0
        started = time.perf_counter()
        for start in range(0, total, size):
            stop = min(start + size, total)
            if templated is None:
                body = single_body(batch, start) if size == 1 else batch_body(batch, start, stop)
            else:
                assert context is not None
                body = templated.build(batch, start, stop, context)
            request_headers = dict(headers)
            if key:
                request_headers["Idempotency-Key"] = key if total <= size else f"{key}:{start // size}"
            try:
                response = self._send(method, body, request_headers)
                requests += 1
                error = classify_response(response, retryable_statuses=self._retryable, secrets=self._secrets)
                if error is not None:
                    raise error
            except ConnectorError as exc:
                if start == 0:
                    raise
                outcomes.extend(_failed_rest(exc, start, total))
                break
            outcomes.extend(
                outcomes_from_response(
                    response.content,
                    response.status_code,
                    start=start,
                    count=stop - start,
                    errors_path=self.config.errors_path,
                    retryable_statuses=self._retryable,
                    secrets=self._secrets,
                )
            )
        if logger.isEnabledFor(logging.DEBUG):
            failed = sum(1 for o in outcomes if not o.ok)
            logger.debug(
                "http destination: %s %d records to %s in %d requests, %d failed, %.1f ms",
                method,
                total,
                safe_url(self.config.url),
                requests,
                failed,
                (time.perf_counter() - started) * 1000,
            )
        return WriteResult(outcomes=outcomes, requests=requests)


def _failed_rest(error: ConnectorError, start: int, total: int) -> list[RecordOutcome]:
    return [
        RecordOutcome(
            index=i,
            ok=False,
            error_code=error.code,
            message=error.message,
            status=error.status,
            retryable=error.retryable,
        )
        for i in range(start, total)
    ]
