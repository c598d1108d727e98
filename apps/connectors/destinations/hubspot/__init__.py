"""The HubSpot destination: contacts, companies, deals, tickets and custom objects (CRM v3).

Follows HubSpot's documentation:

- Object APIs, batch endpoints and their 100-input limit:
  https://developers.hubspot.com/docs/guides/crm/using-object-apis
- Properties (catalog fields): https://developers.hubspot.com/docs/api/crm/properties
- Custom object schemas: https://developers.hubspot.com/docs/api/crm/crm-custom-objects
- Errors and multi-status answers: https://developers.hubspot.com/docs/api-reference/error-handling
- Limits: https://developers.hubspot.com/docs/developer-tooling/platform/usage-guidelines

Rate limit: a private app on a Free or Starter account may send 100 requests per rolling 10
seconds (Professional/Enterprise: 190; the API limit increase pack: 250). The default keeps to the
lowest tier over any 10-second window: a burst of 10 then 9 per second (10 + 9 x 10 = 100).
Accounts on a higher tier raise ``rate_limit_per_second``. Concurrency defaults to 4: HubSpot
answers 423 Locked when many writes hit the same records at once.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import httpx

from apps.connectors.base import (
    WRITE_MODES,
    CheckResult,
    ConnectorConfig,
    ConnectorError,
    ErrorCode,
    FieldSpec,
    ObjectSpec,
    OutgoingBatch,
    WriteResult,
)
from apps.connectors.destinations.hubspot import catalog, errors
from apps.connectors.destinations.hubspot.config import HubSpotConfig
from apps.connectors.destinations.hubspot.inputs import MAX_INPUTS, build_inputs
from apps.connectors.destinations.hubspot.writes import BatchWriter
from apps.connectors.http import DEFAULT_RETRYABLE_STATUSES, classify_response, redact
from apps.connectors.registry import register_destination
from apps.connectors.vendor import VendorDestination

__all__ = ["HubSpotConfig", "HubSpotDestination"]

logger = logging.getLogger(__name__)

# HubSpot's own API client waits a whole window after a TEN_SECONDLY_ROLLING 429; the window's
# length comes in X-HubSpot-RateLimit-Interval-Milliseconds.
_WINDOW_HEADER = "X-HubSpot-RateLimit-Interval-Milliseconds"
_LOCKED_SECONDS = 2.0  # "Locks will last for 2 seconds" (error handling guide, 423)


@register_destination
class HubSpotDestination(VendorDestination):
    """HubSpot CRM via a private app token (https://developers.hubspot.com/docs/api/crm/understanding-the-crm)."""

    type = "hubspot"
    label = "HubSpot"
    Config = HubSpotConfig
    config: HubSpotConfig
    default_base_url = "https://api.hubapi.com"
    default_rate_limit: ClassVar[tuple[float | None, int]] = (9.0, 10)
    max_batch_size = MAX_INPUTS
    max_concurrency = 4
    retryable_statuses = DEFAULT_RETRYABLE_STATUSES | {423, 477}

    def __init__(self, config: ConnectorConfig, *, allow_private: bool | None = None) -> None:
        super().__init__(config, allow_private=allow_private)
        self._schemas: list[dict[str, Any]] | None = None

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.access_token.get_secret_value()}"}

    # --- errors --------------------------------------------------------------------------------
    def refine_error(self, error: ConnectorError, response: httpx.Response) -> ConnectorError:
        """Classify by HubSpot's category and policy, with its unwrapped message."""
        body = errors.body_of(response.content)
        status = response.status_code
        code = errors.error_code(body, status)
        retryable, retry_after = error.retryable, error.retry_after
        message = errors.readable_message(body) if body else error.message
        policy = str(body.get("policyName") or "")
        if status == 429 and policy == "DAILY":
            # Retrying before the daily count resets (midnight, account time zone) only burns calls.
            retryable, retry_after = False, None
            message = f"HubSpot's daily API limit is used up (it resets at midnight): {message}"
        elif status == 429 and retry_after is None:
            retry_after = _window_seconds(response.headers.get(_WINDOW_HEADER))
        elif status == 423:
            retry_after = max(retry_after or 0.0, _LOCKED_SECONDS)
        elif status == 403 and errors.missing_scopes(body):
            message += f" Required scopes (any of): {', '.join(errors.missing_scopes(body))}."
        category = f" {errors.category_of(body)}" if errors.category_of(body) else ""
        return ConnectorError(
            redact(f"HubSpot HTTP {status}{category}: {message}", self.secrets()),
            code=code,
            status=status,
            retryable=retryable,
            retry_after=retry_after,
        )

    def _whole_error(self, response: httpx.Response) -> ConnectorError:
        error = classify_response(
            response, retryable_statuses=self.retryable_statuses, secrets=self.secrets()
        )
        assert error is not None  # only called for error statuses
        return self.refine_error(error, response)

    # --- check ---------------------------------------------------------------------------------
    def check(self) -> CheckResult:
        """One cheap authenticated read per standard object until one answers."""
        denied: list[str] = []
        for name in catalog.STANDARD_OBJECTS:
            try:
                self.request("GET", f"/crm/v3/objects/{name}", params={"limit": 1, "archived": "false"})
            except ConnectorError as exc:
                if exc.code == ErrorCode.AUTH_FAILED:
                    return CheckResult(False, f"HubSpot refused the access token: {exc.message}")
                if exc.code == ErrorCode.PERMISSION_DENIED:
                    denied.append(exc.message)
                    continue
                if exc.status is None:  # no answer at all: DNS, refused connection, timeout
                    return CheckResult(False, f"HubSpot is not reachable: {exc.message}")
                return CheckResult(False, f"HubSpot answered the check with an error: {exc.message}")
            note = f" (no read access to {len(denied)} other standard object(s))" if denied else ""
            return CheckResult(True, f"Connected to HubSpot at {self.base_url}{note}.")
        return CheckResult(False, f"The token is valid but lacks the scopes to read CRM objects: {denied[0]}")

    # --- catalog -------------------------------------------------------------------------------
    def _custom_schemas(self) -> list[dict[str, Any]]:
        if self._schemas is None:
            try:
                data = self.request_json("GET", "/crm/v3/schemas")
            except ConnectorError as exc:
                # Custom objects need crm.schemas.custom.read (and an Enterprise account): without
                # them the standard objects are still all there is to sync.
                if exc.code != ErrorCode.PERMISSION_DENIED:
                    raise
                logger.info("hubspot: custom object schemas not readable: %s", exc.message)
                data = {}
            self._schemas = [s for s in (data or {}).get("results") or () if isinstance(s, dict)]
        return self._schemas

    def _schema(self, object_name: str) -> dict[str, Any] | None:
        for schema in self._custom_schemas():
            names = {schema.get("name"), schema.get("objectTypeId"), schema.get("fullyQualifiedName")}
            if object_name in names:
                return schema
        return None

    def list_objects(self) -> list[ObjectSpec]:
        custom = [catalog.custom_object(s) for s in self._custom_schemas()]
        return catalog.standard_objects() + [o for o in custom if o is not None]

    def _object_path(self, object_name: str) -> tuple[str, tuple[str, ...]]:
        """(path segment for the object's endpoints, properties required to create one)."""
        if object_name in catalog.STANDARD_OBJECTS:
            return object_name, catalog.STANDARD_OBJECTS[object_name][1]
        schema = self._schema(object_name)
        if schema is None:
            raise ConnectorError(
                f"HubSpot has no object '{object_name}' (standard: "
                f"{', '.join(catalog.STANDARD_OBJECTS)}; or a custom object's name)",
                code=ErrorCode.SCHEMA_DRIFT,
                status=404,
            )
        return catalog.object_type_id(schema), tuple(str(p) for p in schema.get("requiredProperties") or ())

    def list_fields(self, object_name: str) -> list[FieldSpec]:
        path, required = self._object_path(object_name)
        data = self.request_json("GET", f"/crm/v3/properties/{path}", params={"archived": "false"})
        properties = [p for p in (data or {}).get("results") or () if isinstance(p, dict)]
        # Custom objects are addressed by type ID but typed like their own name.
        kind = object_name if object_name in catalog.STANDARD_OBJECTS else path
        return catalog.field_specs(properties, kind, required)

    # --- writes --------------------------------------------------------------------------------
    def write(
        self, object_name: str, mode: str, batch: OutgoingBatch, *, match_key: str | None
    ) -> WriteResult:
        """Write one batch (split into requests of 100 inputs); one outcome per record, in order.

        ``mirror`` arrives from the engine as ``upsert`` and ``delete`` batches; called directly
        it means upsert. Upsert needs a unique-value property (or a contact's email) as the key:
        HubSpot upserts by ``idProperty``, never by record ID.
        """
        if mode not in WRITE_MODES:
            raise ConnectorError(
                f"Mode '{mode}' is not supported by HubSpot; supported: {', '.join(WRITE_MODES)}",
                code=ErrorCode.DESTINATION_REJECTED,
                status=400,
            )
        mode = "upsert" if mode == "mirror" else mode
        if mode != "insert" and not match_key:
            raise ConnectorError(f"Mode '{mode}' needs a match key", code=ErrorCode.VALIDATION_FAILED)
        if mode == "upsert" and match_key == catalog.RECORD_ID:
            raise ConnectorError(
                "HubSpot upserts by a unique-value property (or email for contacts), not by "
                f"{catalog.RECORD_ID}: use update mode, or another match key",
                code=ErrorCode.DESTINATION_REJECTED,
                status=400,
            )
        records = batch.records
        if not records:
            return WriteResult(outcomes=[], requests=0)
        path, _required = self._object_path(object_name)
        inputs, refused = build_inputs(records, mode, match_key)
        writer = BatchWriter(
            self.request,
            path,
            match_key=match_key,
            secrets=self.secrets(),
            retryable=frozenset(self.retryable_statuses),
            whole_error=self._whole_error,
        )
        writer.outcomes.update(refused)
        if mode == "delete":
            writer.delete(inputs)
        else:
            writer.send_inputs({"insert": "create", "upsert": "upsert", "update": "update"}[mode], inputs)
        result = writer.result(len(records))
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "hubspot: %s %d %s in %d requests, %d failed",
                mode,
                len(records),
                object_name,
                result.requests,
                len(result.failed),
            )
        return result


def _window_seconds(value: str | None) -> float | None:
    try:
        milliseconds = float(value or "")
    except ValueError:
        return None
    return min(milliseconds, 60_000.0) / 1000 if milliseconds > 0 else None
