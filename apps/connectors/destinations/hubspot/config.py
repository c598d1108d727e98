"""Config of the HubSpot destination: a private app's access token plus the vendor basics.

HubSpot private apps authenticate every request with their access token as a Bearer token
(https://developers.hubspot.com/docs/apps/legacy-apps/private-apps/overview). The token is the
only secret; ``base_url`` (from ``VendorConfig``) defaults to https://api.hubapi.com.
"""

from __future__ import annotations

from pydantic import Field, SecretStr

from apps.connectors.vendor import VendorConfig


class HubSpotConfig(VendorConfig):
    access_token: SecretStr = Field(
        description="Access token of a HubSpot private app (pat-…) with the crm.objects.*.read/write "
        "scopes of the objects to sync, and crm.schemas.custom.read to list custom objects."
    )
