"""Config of the Iterable destination: a project's server-side API key and its data center.

Iterable authenticates every request with a project-scoped API key sent in the ``Api-Key`` header
(https://api.iterable.com/api/docs, "Using API keys":
https://support.iterable.com/hc/en-us/articles/360043464871). Projects live in one data center:
US (https://api.iterable.com) or EU (https://api.eu.iterable.com); a key only works against its own.
"""

from __future__ import annotations

from pydantic import Field, SecretStr

from apps.connectors.vendor import VendorConfig

US_BASE_URL = "https://api.iterable.com"
EU_BASE_URL = "https://api.eu.iterable.com"


class IterableConfig(VendorConfig):
    api_key: SecretStr = Field(
        description="A server-side API key of the Iterable project (Integrations > API Keys). "
        "Sent as the Api-Key header."
    )
    base_url: str | None = Field(
        None,
        description=f"API root. Default {US_BASE_URL} (US data center); projects in the EU data "
        f"center use {EU_BASE_URL}.",
    )
