"""The OpenAPI description of the API: the shared envelope, error and pagination components, the
Bearer security scheme, rate-limit headers, and the schema class every view is described with.

The views are plain ``APIView``s returning dicts, so each app describes its operations in its own
``api_schema.py`` with the helpers here, and ``api.py`` applies them with ``@extend_schema``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema_field, inline_serializer
from rest_framework import serializers

from apps.api.pagination import DEFAULT_LIMIT, MAX_LIMIT

BASE_PATH = "/api/reverse-etl/"

# --- Components ----------------------------------------------------------------------------


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Machine code, e.g. validation_error, not_found, conflict.")
    message = serializers.CharField(help_text="A human message.")
    details = serializers.DictField(
        child=serializers.JSONField(),
        help_text="For 400s, each bad field (as sent) mapped to its messages; otherwise context or {}.",
    )

    class Meta:
        ref_name = "ErrorDetail"


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()

    class Meta:
        ref_name = "Error"


class PageSerializer(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT)
    cursor = serializers.CharField(
        allow_null=True, help_text="Pass as ?cursor= for the next page; null when there are no more."
    )

    class Meta:
        ref_name = "Page"


class PageMetaSerializer(serializers.Serializer):
    page = PageSerializer()

    class Meta:
        ref_name = "PageMeta"


def choice(*values: str, **kwargs: Any) -> serializers.CharField:
    """A string field documented as an inline enum (drf-spectacular would otherwise make one
    component per field name and clash between the many ``status`` fields)."""

    schema: dict[str, Any] = {"type": "string", "enum": list(values)}
    if kwargs.get("allow_null"):
        schema = {**schema, "enum": [*values, None], "nullable": True}

    @extend_schema_field(schema)
    class Choice(serializers.CharField):
        pass

    return Choice(**kwargs)


def timestamp(**kwargs: Any) -> serializers.DateTimeField:
    """ISO 8601 UTC with ``Z``."""
    return serializers.DateTimeField(**kwargs)


def resource(name: str, type_value: str, attributes: type[serializers.Serializer]) -> serializers.Serializer:
    """``{"id", "type", "attributes"}``: the contract's resource object."""
    return inline_serializer(
        name=name,
        fields={
            "id": serializers.CharField(),
            "type": choice(type_value),
            "attributes": attributes(),
        },
    )


def single(name: str, item: Any) -> serializers.Serializer:
    """``{"data": <item>}``."""
    return inline_serializer(name=name, fields={"data": item})


def collection(
    name: str, item: type[serializers.Serializer] | serializers.Serializer
) -> serializers.Serializer:
    """``{"data": [<item>, …], "meta": {"page": {"limit", "cursor"}}}``: a keyset-paginated list."""
    many = _many(item)
    return inline_serializer(name=name, fields={"data": many, "meta": PageMetaSerializer()})


def listing(name: str, item: type[serializers.Serializer] | serializers.Serializer) -> serializers.Serializer:
    """``{"data": [<item>, …]}``: a complete list, not paginated."""
    return inline_serializer(name=name, fields={"data": _many(item)})


def _many(item: type[serializers.Serializer] | serializers.Serializer) -> serializers.ListSerializer:
    if isinstance(item, serializers.Serializer):
        return serializers.ListSerializer(child=item.__class__())
    return item(many=True)


# --- Responses -----------------------------------------------------------------------------

ERROR_DESCRIPTIONS = {
    400: "invalid_request or validation_error: `details` maps each bad field to its messages.",
    401: "unauthorized: missing, malformed, unknown or revoked API key.",
    403: "forbidden: the API key lacks the operation's scope.",
    404: "not_found: no such object in the key's workspace.",
    409: "conflict.",
    429: "rate_limited: over the key's per-minute limit; retry after `Retry-After` seconds.",
    502: "destination_unavailable: the destination failed to answer.",
}


def error(status: int, description: str | None = None) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description or ERROR_DESCRIPTIONS[status])


def errors(*statuses: int, **descriptions: str) -> dict[int, OpenApiResponse]:
    """The error envelope for ``statuses`` plus those of every authenticated call (401, 403, 429).
    ``descriptions`` overrides by status: ``e409="…"``."""
    codes = sorted({*statuses, 401, 403, 429})
    return {code: error(code, descriptions.get(f"e{code}")) for code in codes}


def ok(serializer: Any, description: str = "") -> OpenApiResponse:
    return OpenApiResponse(serializer, description=description)


NO_CONTENT = OpenApiResponse(None, description="Deleted; no body.")

# --- Parameters ----------------------------------------------------------------------------


def query(
    name: str,
    description: str,
    *,
    type: Any = OpenApiTypes.STR,
    required: bool = False,
    enum: list[str] | None = None,
) -> OpenApiParameter:
    return OpenApiParameter(
        name, type, OpenApiParameter.QUERY, required=required, description=description, enum=enum
    )


BOOLEAN_QUERY = {"type": "string", "enum": ["true", "false", "1", "0"]}


def boolean_query(name: str, description: str) -> OpenApiParameter:
    return query(name, description, type=BOOLEAN_QUERY)


PAGINATION = [
    query(
        "limit",
        f"Page size, 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT}).",
        type={"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
    ),
    query(
        "cursor",
        "`meta.page.cursor` of the previous page (an opaque URL-safe string).",
        type={"type": "string", "pattern": "^[A-Za-z0-9_-]+$"},
    ),
]

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    {"type": "string", "maxLength": 255},
    OpenApiParameter.HEADER,
    description=(
        "The same key with the same body within 24 h returns the first response "
        "(with `Idempotent-Replayed: true`) and does nothing twice; with another body → 409."
    ),
)

# Every response that passed authentication and the scope check carries the rate-limit headers
# (401 and 403 are decided before the key is counted).
RATE_LIMITED_STATUSES = [200, 201, 202, 204, 400, 404, 409, 429, 502]
RESPONSE_HEADERS = [
    OpenApiParameter(
        "X-RateLimit-Limit",
        OpenApiTypes.INT,
        OpenApiParameter.HEADER,
        response=RATE_LIMITED_STATUSES,
        required=True,
        description="Requests allowed per minute for this API key.",
    ),
    OpenApiParameter(
        "X-RateLimit-Remaining",
        OpenApiTypes.INT,
        OpenApiParameter.HEADER,
        response=RATE_LIMITED_STATUSES,
        required=True,
        description="Requests left in the current window.",
    ),
    OpenApiParameter(
        "X-RateLimit-Reset",
        OpenApiTypes.INT,
        OpenApiParameter.HEADER,
        response=RATE_LIMITED_STATUSES,
        required=True,
        description="When the current window ends (epoch seconds).",
    ),
    OpenApiParameter(
        "Retry-After",
        OpenApiTypes.INT,
        OpenApiParameter.HEADER,
        response=[429],
        required=True,
        description="Seconds until the key may call again.",
    ),
    OpenApiParameter(
        "WWW-Authenticate",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        response=[401],
        required=True,
        description='`Bearer realm="syncline"`.',
    ),
]

# --- Schema machinery ----------------------------------------------------------------------


@dataclass(frozen=True)
class ByRole:
    """A request or response that differs between the source and destination routes of one view
    class (``as_view(role=…)``): the schema picks the one for the route's role."""

    source: Any
    destination: Any

    def pick(self, role: str) -> Any:
        return getattr(self, role)


class ApiAutoSchema(AutoSchema):
    """drf-spectacular's schema with the API's conventions: rate-limit headers on every response,
    and ``{role}`` / ``ByRole`` resolved for views serving both sources and destinations."""

    def get_override_parameters(self) -> list:
        return [*super().get_override_parameters(), *RESPONSE_HEADERS]

    def _role(self) -> str | None:
        return getattr(self.view, "role", None)

    def _resolve(self, value: Any) -> Any:
        if isinstance(value, OpenApiResponse) and isinstance(value.response, ByRole):
            return OpenApiResponse(
                value.response.pick(self._role()), description=value.description, examples=value.examples
            )
        if isinstance(value, ByRole):
            return value.pick(self._role())
        return value

    def _get_response_for_code(self, serializer: Any, *args: Any, **kwargs: Any) -> Any:
        return super()._get_response_for_code(self._resolve(serializer), *args, **kwargs)

    def _get_request_for_media_type(self, serializer: Any, *args: Any, **kwargs: Any) -> Any:
        return super()._get_request_for_media_type(self._resolve(serializer), *args, **kwargs)

    def get_operation(self, *args: Any, **kwargs: Any) -> dict | None:
        operation = super().get_operation(*args, **kwargs)
        role = self._role()
        if operation and role:
            for key in ("operationId", "summary", "description"):
                if isinstance(operation.get(key), str):
                    operation[key] = operation[key].replace("{role}", role)
        return operation


class BearerKeyScheme(OpenApiAuthenticationExtension):
    target_class = "apps.api.auth.BearerKeyAuthentication"
    name = "BearerAuth"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict:
        scheme = build_bearer_security_scheme_object(header_name="Authorization", token_prefix="Bearer")
        scheme["description"] = (
            "An API key of one workspace: `Authorization: Bearer <api key>`. Create one with "
            "`manage.py create_api_key`; each key carries scopes."
        )
        return scheme


def only_this_api(endpoints: list[tuple], **kwargs: Any) -> list[tuple]:
    """Preprocessing hook: the API's operations once, under /api/reverse-etl/ (the same routes
    also answer under /v1/api/reverse-etl/), without the schema and docs views themselves."""
    return [e for e in endpoints if e[0].startswith(BASE_PATH)]
