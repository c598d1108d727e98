"""Config of the Salesforce destination: where to log in, which org and API version, which OAuth flow.

Both flows authenticate a connected app / external client app:

- ``client_credentials`` (server to server, runs as the app's integration user):
  https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_client_credentials_flow.htm
  Salesforce only answers this grant on the org's My Domain login URL
  (``https://<domain>.my.salesforce.com``), not on login.salesforce.com.
- ``refresh_token`` (a user authorised the app once; the refresh token renews sessions):
  https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_refresh_token_flow.htm

``instance_url`` is optional: the token response names the org's instance, and that is used when
it is not set. ``base_url`` (common to every vendor connector) is an alias of ``instance_url`` for
Salesforce — setting both to different values is an error — because the REST API root of an org
*is* its instance URL (``{instance_url}/services/data/{api_version}/``).

The auth secrets live inside ``auth``; ``NestedAuthConfig`` stores them under dotted names
(``auth.client_secret``) and folds them back (the same scheme as the custom HTTP config).
"""

from __future__ import annotations

import re
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from apps.connectors.nested_auth import NestedAuthConfig
from apps.connectors.vendor import VendorConfig, check_base_url

DEFAULT_LOGIN_URL = "https://login.salesforce.com"
DEFAULT_API_VERSION = "v62.0"
_VERSION = re.compile(r"^v?(\d{2,3})\.0$")


class _AuthBase(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    secret_names: ClassVar[tuple[str, ...]] = ()

    client_id: str = Field(min_length=1, description="Consumer key of the connected app.")

    def secret_values(self) -> list[str]:
        values = []
        for name in self.secret_names:
            value = getattr(self, name)
            if value is not None and value.get_secret_value():
                values.append(value.get_secret_value())
        return values


class ClientCredentialsAuth(_AuthBase):
    type: Literal["client_credentials"]
    client_secret: SecretStr = Field(description="Consumer secret of the connected app.")
    secret_names: ClassVar[tuple[str, ...]] = ("client_secret",)


class RefreshTokenAuth(_AuthBase):
    type: Literal["refresh_token"]
    refresh_token: SecretStr = Field(description="Refresh token issued when a user authorised the app.")
    # Salesforce lets an app waive the secret for this flow ("Require Secret for Refresh Token Flow").
    client_secret: SecretStr | None = Field(None, description="Consumer secret (unless the app waives it).")
    secret_names: ClassVar[tuple[str, ...]] = ("client_secret", "refresh_token")


SalesforceAuth = Annotated[ClientCredentialsAuth | RefreshTokenAuth, Field(discriminator="type")]
_AUTH_SECRETS: dict[str, tuple[str, ...]] = {
    "client_credentials": ClientCredentialsAuth.secret_names,
    "refresh_token": RefreshTokenAuth.secret_names,
}


class SalesforceConfig(NestedAuthConfig, VendorConfig):
    auth_secrets: ClassVar[dict[str, tuple[str, ...]]] = _AUTH_SECRETS

    instance_url: str | None = Field(
        None,
        description="The org's URL, e.g. https://acme.my.salesforce.com; default: the one the token "
        "response names.",
    )
    login_url: str = Field(
        DEFAULT_LOGIN_URL,
        description="OAuth host: https://login.salesforce.com, https://test.salesforce.com for "
        "sandboxes, or the org's My Domain URL (required for client_credentials).",
    )
    api_version: str = Field(DEFAULT_API_VERSION, description="REST API version, e.g. v62.0.")
    auth: SalesforceAuth

    @field_validator("instance_url", "login_url")
    @classmethod
    def _check_urls(cls, value: str | None) -> str | None:
        return check_base_url(value)

    @field_validator("api_version")
    @classmethod
    def _check_version(cls, value: str) -> str:
        match = _VERSION.match(value.strip())
        if match is None:
            raise ValueError("must look like v62.0")
        return f"v{match.group(1)}.0"

    @model_validator(mode="after")
    def _alias_base_url(self) -> SalesforceConfig:
        if self.base_url and self.instance_url and self.base_url != self.instance_url:
            raise ValueError("base_url is an alias of instance_url for Salesforce; set one of them")
        if self.base_url and not self.instance_url:
            self.instance_url = self.base_url
        return self
