"""Config of the Meta Custom Audiences destination.

A Marketing API connection is an ad account plus a token that may manage it: Meta recommends a
system user token from Business Settings with the ``ads_management`` permission
(https://developers.facebook.com/docs/marketing-api/system-users/). When the app enforces "Require
App Secret", every call carries ``appsecret_proof``, the HMAC-SHA256 of the token keyed with the app
secret (https://developers.facebook.com/docs/graph-api/securing-requests/#appsecret_proof); set
``app_secret`` and the connector signs every request.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from pydantic import Field, SecretStr, field_validator

from apps.connectors.vendor import VendorConfig

# Meta takes at most 10,000 rows per /users request
# (https://developers.facebook.com/docs/marketing-api/reference/custom-audience/users/).
MAX_ROWS_PER_REQUEST = 10_000
DEFAULT_API_VERSION = "v23.0"
_ACCOUNT = re.compile(r"^(?:act_)?(\d{1,20})$")
_VERSION = re.compile(r"^v\d{1,3}\.\d{1,2}$")


class MetaAdsConfig(VendorConfig):
    ad_account_id: str = Field(
        description="The ad account whose custom audiences are synced: act_<digits> or just the digits."
    )
    access_token: SecretStr = Field(
        description="System user access token with ads_management on the ad account (Business Settings "
        "→ System users → Generate token)."
    )
    app_secret: SecretStr | None = Field(
        None,
        description="The app's secret, when the app requires appsecret_proof on server calls.",
    )
    api_version: str = Field(DEFAULT_API_VERSION, description="Graph API version, e.g. v23.0.")
    rows_per_request: int = Field(
        MAX_ROWS_PER_REQUEST,
        ge=1,
        le=MAX_ROWS_PER_REQUEST,
        description="Rows per /users request (Meta's maximum is 10,000); a batch needing more requests is "
        "sent as one upload session.",
    )

    @field_validator("ad_account_id", mode="before")
    @classmethod
    def _normalise_account(cls, value: object) -> str:
        text = str(value).strip().lower() if value is not None else ""
        match = _ACCOUNT.match(text)
        if not match:
            raise ValueError("must be an ad account ID: act_<digits> or the digits alone")
        return match.group(1)

    @field_validator("api_version")
    @classmethod
    def _check_version(cls, value: str) -> str:
        value = value.strip().lower()
        if not _VERSION.match(value):
            raise ValueError("must look like v23.0")
        return value

    @property
    def account_path(self) -> str:
        """The ad account's node in Graph API paths: ``act_<digits>``."""
        return f"act_{self.ad_account_id}"

    def appsecret_proof(self) -> str | None:
        """HMAC-SHA256 of the access token keyed with the app secret, as hex (None without a secret)."""
        if self.app_secret is None or not self.app_secret.get_secret_value():
            return None
        return hmac.new(
            self.app_secret.get_secret_value().encode(),
            self.access_token.get_secret_value().encode(),
            hashlib.sha256,
        ).hexdigest()
