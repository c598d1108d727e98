"""Meta Custom Audiences: warehouse rows added to, or removed from, customer-list audiences.

Meta's documentation followed here:

- Customer file custom audiences (build, add/remove users, sessions, hashing and normalisation):
  https://developers.facebook.com/docs/marketing-api/audiences/guides/custom-audiences
- The /users edge (payload, 10,000 rows per request, response and errors):
  https://developers.facebook.com/docs/marketing-api/reference/custom-audience/users/
- The ad account and its customaudiences edge:
  https://developers.facebook.com/docs/marketing-api/reference/ad-account/
- Errors: https://developers.facebook.com/docs/graph-api/guides/error-handling
- Rate limits: https://developers.facebook.com/docs/graph-api/overview/rate-limiting and
  https://developers.facebook.com/docs/marketing-api/overview/rate-limiting
- appsecret_proof: https://developers.facebook.com/docs/graph-api/securing-requests/

Objects are the ad account's customer-list audiences (named by audience id), fields Meta's keys
(see ``catalog`` and ``identifiers``). Modes: ``add`` (POST /users), ``remove`` (DELETE /users)
and ``mirror``, for which the engine writes changed rows as ``upsert`` (added) and rows that left
the query as ``delete`` with only their match key (removed by that identifier).

Rate limit: audience calls count against the ``custom_audience`` business use case of the ad
account, per hour at least 190,000 calls for apps with standard access but only 5,000 for
development access (plus 40 per active custom audience, at most 700,000). The default, 1 request a
second with bursts of 5, stays under the development tier's ~1.4/s, and at 10,000 rows a request
still moves 36 million rows an hour; raise it with ``rate_limit_per_second`` on standard access.
Two requests in flight by default: a batch's session requests go one after another, batches may
overlap.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import httpx

from apps.connectors.audiences import audience_action
from apps.connectors.base import (
    CheckResult,
    ConnectorConfig,
    ConnectorError,
    ErrorCode,
    FieldSpec,
    ObjectSpec,
    OutgoingBatch,
    WriteResult,
)
from apps.connectors.destinations.meta_ads.catalog import FIELDS, custom_audiences
from apps.connectors.destinations.meta_ads.config import MAX_ROWS_PER_REQUEST, MetaAdsConfig
from apps.connectors.destinations.meta_ads.errors import MetaApiError, refine
from apps.connectors.destinations.meta_ads.uploads import prepare_batch, upload
from apps.connectors.registry import register_destination
from apps.connectors.vendor import VendorDestination

__all__ = ["MetaAdsConfig", "MetaAdsDestination"]

logger = logging.getLogger(__name__)

# Engine modes -> HTTP method of /users: mirror's upserts add, its deletes remove.
_METHODS = {"add": "POST", "remove": "DELETE"}  # audience action -> HTTP method on /users
_ACCOUNT_STATUS = {
    1: "active",
    2: "disabled",
    3: "unsettled",
    7: "pending risk review",
    8: "pending settlement",
    9: "in grace period",
    100: "pending closure",
    101: "closed",
    201: "any active",
    202: "any closed",
}
CATALOG_TTL_SECONDS = 60.0


@register_destination
class MetaAdsDestination(VendorDestination):
    """Meta Custom Audiences (Marketing API), documented at
    https://developers.facebook.com/docs/marketing-api/audiences/guides/custom-audiences."""

    type = "meta_ads"
    label = "Meta Custom Audiences"
    Config = MetaAdsConfig
    default_base_url = "https://graph.facebook.com"
    default_rate_limit = (1.0, 5)
    max_batch_size = MAX_ROWS_PER_REQUEST
    max_concurrency = 2
    config: MetaAdsConfig

    def __init__(self, config: ConnectorConfig, *, allow_private: bool | None = None) -> None:
        super().__init__(config, allow_private=allow_private)
        # The engine asks for the object, then its fields: one paged read serves both.
        self._catalog: tuple[float, list[ObjectSpec]] | None = None
        self._catalog_lock = threading.Lock()

    # --- requests ------------------------------------------------------------------------------
    def secrets(self) -> list[str]:
        proof = self.config.appsecret_proof()
        return [*super().secrets(), *([proof] if proof else [])]

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.access_token.get_secret_value()}"}

    def request(self, method: str, path: str, *, params: Any = None, **kwargs: Any) -> httpx.Response:
        """Every Graph call carries ``appsecret_proof`` when an app secret is configured."""
        proof = self.config.appsecret_proof()
        merged = {**(params or {}), **({"appsecret_proof": proof} if proof else {})}
        return super().request(method, path, params=merged or None, **kwargs)

    def refine_error(self, error: ConnectorError, response: httpx.Response) -> ConnectorError:
        return refine(error, response, self.secrets())

    def graph(self, *parts: str) -> str:
        return "/".join((self.config.api_version, *parts))

    # --- check ---------------------------------------------------------------------------------
    def check(self) -> CheckResult:
        account = self.config.account_path
        try:
            data = self.request_json("GET", self.graph(account), params={"fields": "name,account_status"})
        except MetaApiError as exc:
            return CheckResult(False, self._check_failure(exc))
        except ConnectorError as exc:
            return CheckResult(False, f"Meta's Graph API did not answer the check: {exc.message}")
        data = data if isinstance(data, dict) else {}
        status = data.get("account_status")
        state = _ACCOUNT_STATUS.get(status, f"status {status}") if status is not None else "status unknown"
        name = data.get("name") or account
        if status == 101:
            return CheckResult(False, f"Ad account '{name}' ({account}) is closed: its audiences are frozen.")
        return CheckResult(True, f"Connected to ad account '{name}' ({account}, {state}).")

    def _check_failure(self, exc: MetaApiError) -> str:
        account = self.config.account_path
        if exc.code == ErrorCode.AUTH_FAILED:
            return (
                f"Meta refused the access token (invalid, expired or revoked): {exc.message}. Generate a "
                "new system user token with the ads_management permission in Business Settings."
            )
        if exc.code == ErrorCode.PERMISSION_DENIED:
            return (
                f"The token may not manage ad account {account}: {exc.message}. Assign the system user to "
                "the ad account and grant the token ads_management."
            )
        if exc.meta_code == 100 and "appsecret_proof" in exc.message:
            return f"Meta refused the appsecret_proof: {exc.message}. Check the app secret (or remove it)."
        if exc.meta_code == 100:
            return (
                f"Ad account {account} does not exist or this token cannot see it: {exc.message}. "
                "Check the ad account ID."
            )
        if exc.code == ErrorCode.RATE_LIMITED:
            return f"Meta is rate limiting this ad account right now; try again later: {exc.message}"
        return f"Meta refused the check: {exc.message}"

    # --- catalog -------------------------------------------------------------------------------
    def list_objects(self) -> list[ObjectSpec]:
        with self._catalog_lock:
            now = time.monotonic()
            if self._catalog is None or now - self._catalog[0] > CATALOG_TTL_SECONDS:
                path = self.graph(self.config.account_path, "customaudiences")
                objects = custom_audiences(lambda params: self.request_json("GET", path, params=params))
                self._catalog = (now, objects)
            return list(self._catalog[1])

    def list_fields(self, object_name: str) -> list[FieldSpec]:
        return list(FIELDS)  # every customer-list audience takes the same keys

    # --- writes --------------------------------------------------------------------------------
    def write(
        self, object_name: str, mode: str, batch: OutgoingBatch, *, match_key: str | None
    ) -> WriteResult:
        """Add (add, upsert) or remove (remove, delete) the batch's people; see ``uploads``."""
        method = _METHODS[audience_action(mode, "Meta Custom Audiences")]
        if not object_name.isdigit():  # a Graph node id; anything else would change the path
            raise ConnectorError(
                f"'{object_name}' is not a custom audience ID (digits).",
                code=ErrorCode.SCHEMA_DRIFT,
                status=400,
            )
        if not len(batch):
            return WriteResult(outcomes=[], requests=0)
        prepared = prepare_batch(batch.records)
        path = self.graph(object_name, "users")
        outcomes, requests = upload(
            lambda body: self.request_json(method, path, json=body),
            prepared,
            rows_per_request=self.config.rows_per_request,
            audience_id=object_name,
            operation="add" if method == "POST" else "remove",
        )
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "meta_ads: %s %d records to audience %s in %d requests, %d failed",
                mode,
                len(batch),
                object_name,
                requests,
                sum(1 for o in outcomes if not o.ok),
            )
        return WriteResult(outcomes=outcomes, requests=requests)
