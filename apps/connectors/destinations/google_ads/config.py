"""Settings of a Google Ads Customer Match connection.

Authentication is OAuth 2.0 for an installed/web app: a refresh token (granted for the
``https://www.googleapis.com/auth/adwords`` scope) is exchanged for short-lived access tokens
(https://developers.google.com/google-ads/api/docs/oauth/overview,
https://developers.google.com/identity/protocols/oauth2/web-server#offline).

``developer_token`` is optional: Google sunset developer tokens on 2026-09-09 (API access levels now
belong to the Cloud project that owns the OAuth client; the header "is optional and ignored", see
https://developers.google.com/google-ads/api/docs/api-policy/developer-token). It is still sent
when set, for setups that pin an older behaviour. ``login_customer_id`` is the manager account
through which the authorised user reaches ``customer_id``
(https://developers.google.com/google-ads/api/docs/concepts/call-structure#cid).

``api_version`` defaults to v26: v21 was sunset on 2026-08-05 and Google recommends starting with
v26 (https://developers.google.com/google-ads/api/docs/sunset-dates).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, SecretStr, field_validator

from apps.connectors.destinations.google_ads.phones import REGIONS
from apps.connectors.vendor import VendorConfig, check_base_url

DEFAULT_TOKEN_URL = "https://oauth2.googleapis.com/token"
DEFAULT_API_VERSION = "v26"
_CUSTOMER_ID = re.compile(r"^\d{10}$")

Consent = Literal["GRANTED", "DENIED"]


def _customer_id(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    # Google shows IDs as 123-456-7890; the API wants the 10 digits alone.
    digits = re.sub(r"[\s-]", "", value)
    if not _CUSTOMER_ID.match(digits):
        raise ValueError("must be a 10-digit Google Ads customer ID (dashes allowed, e.g. 123-456-7890)")
    return digits


class GoogleAdsConfig(VendorConfig):
    customer_id: str = Field(description="The Google Ads account that owns the Customer Match lists.")
    login_customer_id: str | None = Field(
        None, description="Manager account ID, when access to customer_id goes through a manager."
    )
    developer_token: SecretStr | None = Field(
        None,
        description="Legacy developer token (sunset by Google on 2026-09-09; optional, ignored by Google).",
    )
    client_id: str = Field(description="OAuth client ID of the Google Cloud project.")
    client_secret: SecretStr = Field(description="OAuth client secret.")
    refresh_token: SecretStr = Field(description="OAuth refresh token granted for the adwords scope.")
    token_url: str = Field(DEFAULT_TOKEN_URL, description="OAuth token endpoint.")
    api_version: str = Field(DEFAULT_API_VERSION, description="Google Ads API version, e.g. v26.")
    default_phone_country: str | None = Field(
        None,
        description="ISO country (e.g. US, GB) of phone numbers written without a +country code; "
        "without it such numbers are refused.",
    )
    ad_user_data_consent: Consent | None = Field(
        None, description="Consent for ad user data sent with every add job (EEA users need GRANTED)."
    )
    ad_personalization_consent: Consent | None = Field(
        None, description="Consent for ad personalization sent with every add job."
    )
    job_wait_seconds: float = Field(
        60, ge=0, le=3600, description="How long a write waits for its job to finish before acknowledging it."
    )
    job_poll_interval_seconds: float = Field(10, ge=0, le=600, description="Pause between job status checks.")

    @field_validator("customer_id")
    @classmethod
    def _check_customer_id(cls, value: str) -> str:
        checked = _customer_id(value)
        if checked is None:
            raise ValueError("is required")
        return checked

    @field_validator("login_customer_id")
    @classmethod
    def _check_login_customer_id(cls, value: str | None) -> str | None:
        return _customer_id(value)

    @field_validator("token_url")
    @classmethod
    def _check_token_url(cls, value: str) -> str:
        return check_base_url(value) or DEFAULT_TOKEN_URL

    @field_validator("api_version")
    @classmethod
    def _check_api_version(cls, value: str) -> str:
        if not re.fullmatch(r"v\d{2,3}", value):
            raise ValueError("must look like v26")
        return value

    @field_validator("default_phone_country")
    @classmethod
    def _check_phone_country(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        country = value.upper()
        if country not in REGIONS:
            raise ValueError(
                f"{value!r} is not supported as a default; supported: {', '.join(sorted(REGIONS))}. "
                "Numbers from other countries must be written with their +country code."
            )
        return country

    @property
    def consent(self) -> dict[str, str]:
        """The job's ``consent`` object (REST names); empty when none is configured."""
        consent = {
            "adUserData": self.ad_user_data_consent,
            "adPersonalization": self.ad_personalization_consent,
        }
        return {k: v for k, v in consent.items() if v is not None}
