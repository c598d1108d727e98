"""Config of the custom HTTP destination, as the API contract spells it.

The auth secrets sit inside the nested ``auth`` object, while the connection store keeps secrets
as a flat ``{name: value}`` map next to the public config. ``split`` therefore stores them under
dotted names (``auth.token``) and a before-validator folds those names back into ``auth`` when the
stored config and secrets are merged again, so a round trip keeps every value and the public half
never holds one.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from apps.connectors.destinations.http.template import compile_batch_template, compile_record_template
from apps.connectors.http import DEFAULT_RETRYABLE_STATUSES, parse_http_url
from apps.connectors.nested_auth import NestedAuthConfig

HttpMethod = Literal["POST", "PUT", "PATCH", "DELETE"]
Operation = Literal["upsert", "insert", "update", "delete"]

_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 9110 field-name
# Headers httpx sets from the request itself; letting a config override them breaks framing.
_RESERVED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})
# ``headers`` are public config: shown by the API and the dashboard, stored in clear. A header
# whose name says it carries a credential belongs in ``auth``, whose values are encrypted and
# never shown again.
_CREDENTIAL_HEADER = re.compile(
    r"(^|-)(authorization|cookie)$|token|secret|password|passwd|api-?key|credential|signature",
    re.IGNORECASE,
)


def _header_name(name: str) -> str:
    if not _TOKEN.match(name):
        raise ValueError(f"{name!r} is not a valid HTTP header name")
    if name.lower() in _RESERVED_HEADERS:
        raise ValueError(f"the {name} header is set by the HTTP client and cannot be configured")
    return name


class _AuthBase(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    secret_names: ClassVar[tuple[str, ...]] = ()

    @field_validator("header", check_fields=False)
    @classmethod
    def _check_header(cls, value: str) -> str:
        return _header_name(value)


class BearerAuth(_AuthBase):
    type: Literal["bearer"]
    token: SecretStr
    secret_names: ClassVar[tuple[str, ...]] = ("token",)


class BasicAuth(_AuthBase):
    type: Literal["basic"]
    username: str
    password: SecretStr
    secret_names: ClassVar[tuple[str, ...]] = ("password",)


class ApiKeyAuth(_AuthBase):
    type: Literal["api_key"]
    header: str = Field(description="Header that carries the key, e.g. X-Api-Key.")
    value: SecretStr
    secret_names: ClassVar[tuple[str, ...]] = ("value",)


class HmacAuth(_AuthBase):
    type: Literal["hmac"]
    secret: SecretStr
    header: str = "X-Signature"
    algorithm: Literal["sha256"] = "sha256"
    secret_names: ClassVar[tuple[str, ...]] = ("secret",)


Auth = Annotated[BearerAuth | BasicAuth | ApiKeyAuth | HmacAuth, Field(discriminator="type")]
_AUTH_SECRETS: dict[str, tuple[str, ...]] = {
    "bearer": BearerAuth.secret_names,
    "basic": BasicAuth.secret_names,
    "api_key": ApiKeyAuth.secret_names,
    "hmac": HmacAuth.secret_names,
}


class HttpConfig(NestedAuthConfig):
    auth_secrets: ClassVar[dict[str, tuple[str, ...]]] = _AUTH_SECRETS
    public_exclude_none: ClassVar[bool] = False

    url: str = Field(description="Endpoint that receives the records (http or https).")
    method: HttpMethod = "POST"
    methods: dict[Operation, HttpMethod] = Field(
        default_factory=dict, description="Per-operation methods, e.g. {'delete': 'DELETE'}."
    )
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="Extra headers, shown in clear; credentials go in auth (a name like "
        "Authorization, X-Api-Key or *-Token is refused here).",
    )
    auth: Auth | None = None
    batch_size: int = Field(100, ge=1, le=10_000, description="Records per request; 1 = one record per body.")
    rate_limit_per_second: float | None = Field(
        50, ge=0, description="Requests per second; null = unlimited."
    )
    rate_limit_burst: int | None = Field(
        None, ge=1, description="Requests allowed at once; default 1 s worth."
    )
    retryable_statuses: list[int] = Field(default_factory=lambda: sorted(DEFAULT_RETRYABLE_STATUSES))
    errors_path: str = Field("errors", description="Where per-record errors sit in a 2xx JSON body.")
    timeout_seconds: float = Field(30, gt=0, le=300)
    # ``Any``, not pydantic's JsonValue: that would strip the whitespace of every string inside
    # the template (str_strip_whitespace); the validators check the JSON structure themselves.
    record_template: Any = Field(
        None,
        description=(
            'JSON each record is rendered through: a string that is exactly "{{ field }}" becomes '
            "the typed value, placeholders inside longer strings are interpolated as text. Fields "
            "may be dotted paths; $operation, $object, $match_key, $key and $record are available. "
            "null = send the mapped record as it is."
        ),
    )
    batch_template: Any = Field(
        None,
        description=(
            'JSON body of each request; "{{ $records }}" (exactly once) becomes the list of '
            "records; $operation, $object, $match_key and $count are available. null = "
            '{"records": [...]}, or the record itself with batch_size 1.'
        ),
    )

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        parse_http_url(value, credentials_hint="; use auth (type basic) instead")
        return value

    @field_validator("method", mode="before")
    @classmethod
    def _upper_method(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("methods", mode="before")
    @classmethod
    def _upper_methods(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: v.upper() if isinstance(v, str) else v for k, v in value.items()}
        return value

    @field_validator("headers")
    @classmethod
    def _check_headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, header_value in value.items():
            _header_name(name)
            if _CREDENTIAL_HEADER.search(name):
                raise ValueError(
                    f"{name} looks like a credential, and headers are shown in clear: set it with "
                    "auth instead (type bearer for Authorization: Bearer, basic, or api_key with "
                    f'"header": "{name}"), where it is stored encrypted and never shown'
                )
            if "\r" in header_value or "\n" in header_value:
                raise ValueError(f"the value of {name} must not contain line breaks")
        return value

    @field_validator("retryable_statuses")
    @classmethod
    def _check_statuses(cls, value: list[int]) -> list[int]:
        bad = [s for s in value if not 400 <= s <= 599]
        if bad:
            raise ValueError(f"only 4xx and 5xx statuses can be retried, not {bad}")
        return sorted(set(value))

    @field_validator("record_template")
    @classmethod
    def _check_record_template(cls, value: Any) -> Any:
        if value is not None:
            compile_record_template(value)  # TemplateError is a ValueError: names the problem
        return value

    @field_validator("batch_template")
    @classmethod
    def _check_batch_template(cls, value: Any) -> Any:
        if value is not None:
            compile_batch_template(value)
        return value

    @staticmethod
    def operation_for(mode: str) -> str:
        # mirror upserts the rows still in the query (the engine deletes the others as "delete").
        return "upsert" if mode == "mirror" else mode

    def method_for(self, mode: str) -> str:
        return self.methods.get(self.operation_for(mode), self.method)  # type: ignore[call-overload]
