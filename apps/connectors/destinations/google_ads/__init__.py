"""Google Ads Customer Match: warehouse rows added to, or removed from, a customer list.

Each CRM-based user list of the customer is an object (``catalog``); a record's email, phone,
mailing address, CRM ID or mobile ID is normalised and hashed as Google documents
(``identifiers``) and written through an offline user data job (``jobs``: one job per write, the
trade-off is explained there). Documentation followed:

- https://developers.google.com/google-ads/api/docs/remarketing/audience-segments/customer-match/get-started
- https://developers.google.com/google-ads/api/rest/reference/rest/v26/customers.offlineUserDataJobs
- https://developers.google.com/data-manager/api/devguides/concepts/formatting (normalisation)
- https://developers.google.com/google-ads/api/docs/best-practices/quotas (limits)

Modes: ``add`` and ``remove``; ``mirror`` keeps the list equal to the query, the engine sending
changed rows as ``upsert`` (added) and rows that left the query as ``delete`` records holding only
the match key (removed). A removal by key alone only works when the key identifies a person, so
the match key must be an identifier field (email, phone, CRM ID or mobile ID).

Limits: Google publishes no fixed request rate (its token buckets are per Cloud project and
customer, and a 429 ``RESOURCE_EXHAUSTED`` carries the delay to wait, honoured as Retry-After); the
daily operation quota depends on the access level (e.g. 2,880 operations a day for Explorer access,
15,000 for Basic), and a whole ``addOperations`` request counts as one operation. Hence defaults of
one job per second, one job at a time (overlapping jobs on one list risk
``CONCURRENT_MODIFICATION``, answered as retryable) and 10,000-record batches.
"""

from __future__ import annotations

import threading
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
    RecordOutcome,
    WriteResult,
)
from apps.connectors.destinations.google_ads.auth import AccessTokens, fetch_token
from apps.connectors.destinations.google_ads.catalog import USER_LISTS_QUERY, UserList, parse_rows, search
from apps.connectors.destinations.google_ads.config import GoogleAdsConfig
from apps.connectors.destinations.google_ads.errors import classify
from apps.connectors.destinations.google_ads.identifiers import InvalidIdentifier, user_identifiers
from apps.connectors.destinations.google_ads.jobs import JobWriter, Prepared
from apps.connectors.registry import register_destination
from apps.connectors.vendor import VendorDestination

__all__ = ["GoogleAdsConfig", "GoogleAdsDestination"]

# The job operation each engine mode becomes (mirror's halves are upsert and delete).
OPERATIONS = {"add": "create", "remove": "remove"}  # audience action -> job operation


@register_destination
class GoogleAdsDestination(VendorDestination):
    """Google Ads Customer Match lists through the REST API
    (https://developers.google.com/google-ads/api/docs/remarketing/audience-segments/customer-match/get-started)."""

    type = "google_ads"
    label = "Google Ads Customer Match"
    Config = GoogleAdsConfig
    default_base_url = "https://googleads.googleapis.com"
    default_rate_limit = (1.0, 1)
    max_batch_size = 10_000
    max_concurrency = 1
    config: GoogleAdsConfig

    def __init__(self, config: ConnectorConfig, *, allow_private: bool | None = None) -> None:
        super().__init__(config, allow_private=allow_private)
        self._tokens = AccessTokens(self._fetch_token)
        self._lists: dict[str, UserList] | None = None
        self._lists_lock = threading.Lock()

    # --- auth ----------------------------------------------------------------------------------
    def _fetch_token(self) -> tuple[str, float]:
        c = self.config
        return fetch_token(
            self.request,
            c.token_url,
            c.client_id,
            c.client_secret.get_secret_value(),
            c.refresh_token.get_secret_value(),
            self.secrets(),
        )

    def secrets(self) -> list[str]:
        return [*super().secrets(), *self._tokens.seen]

    def auth_headers(self) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self._tokens.get()}"}
        if self.config.developer_token is not None:
            headers["developer-token"] = self.config.developer_token.get_secret_value()
        if self.config.login_customer_id:
            headers["login-customer-id"] = self.config.login_customer_id
        return headers

    def refine_error(self, error: ConnectorError, response: httpx.Response) -> ConnectorError:
        return classify(error, response, self.secrets())

    def api(self, path: str, body: dict[str, Any]) -> Any:
        """POST ``body`` to the Ads API; a 401 renews the access token once and resends."""
        for attempt in (1, 2):
            token = self._tokens.get()  # a refused refresh raises here, and is not retried
            try:
                return self.request_json("POST", path, json=body)
            except ConnectorError as exc:
                if exc.status != 401 or attempt == 2:
                    raise
                self._tokens.invalidate(token)
        raise AssertionError("unreachable")  # pragma: no cover

    # --- catalog -------------------------------------------------------------------------------
    def user_lists(self, *, refresh: bool = False) -> dict[str, UserList]:
        with self._lists_lock:
            if self._lists is None or refresh:
                path = f"{self.config.api_version}/customers/{self.config.customer_id}/googleAds:search"
                rows = search(lambda body: self.api(path, body), USER_LISTS_QUERY)
                self._lists = {ul.id: ul for ul in parse_rows(rows)}
            return self._lists

    def user_list(self, object_name: str) -> UserList:
        found = self.user_lists().get(object_name)
        if found is None:
            raise ConnectorError(
                f"Customer Match list '{object_name}' does not exist in Google Ads account "
                f"{self.config.customer_id} (or is not a CRM-based list)",
                code=ErrorCode.SCHEMA_DRIFT,
                status=404,
            )
        return found

    def list_objects(self) -> list[ObjectSpec]:
        return [ul.spec for ul in self.user_lists().values()]

    def get_object(self, object_name: str) -> ObjectSpec | None:
        found = self.user_lists().get(object_name)
        return found.spec if found else None

    def list_fields(self, object_name: str) -> list[FieldSpec]:
        return self.user_list(object_name).fields

    # --- check ---------------------------------------------------------------------------------
    def check(self) -> CheckResult:
        customer = self.config.customer_id
        via = f" through manager {self.config.login_customer_id}" if self.config.login_customer_id else ""
        try:
            count = len(self.user_lists(refresh=True))
        except ConnectorError as exc:
            return CheckResult(False, exc.message)
        if count == 0:
            return CheckResult(
                True,
                f"Connected to Google Ads account {customer}{via}, which has no Customer Match list yet: "
                "create one (Audience manager > Your data segments > Customer list) to sync into it.",
            )
        return CheckResult(
            True, f"Connected to Google Ads account {customer}{via}: {count} Customer Match list(s)."
        )

    # --- writes --------------------------------------------------------------------------------
    def write(
        self, object_name: str, mode: str, batch: OutgoingBatch, *, match_key: str | None
    ) -> WriteResult:
        operation = OPERATIONS[audience_action(mode, "Customer Match lists")]
        records = batch.records
        if not records:
            return WriteResult(outcomes=[], requests=0)
        user_list = self.user_list(object_name)
        _check_fields(user_list, mode, match_key, records)
        outcomes = [RecordOutcome(i, True) for i in range(len(records))]
        prepared: list[Prepared] = []
        for index, record in enumerate(records):
            try:
                identifiers = user_identifiers(
                    record, user_list.upload_key_type, self.config.default_phone_country
                )
            except InvalidIdentifier as exc:
                outcomes[index] = RecordOutcome(
                    index, False, error_code=ErrorCode.INVALID_FIELD_VALUE, message=str(exc)
                )
            else:
                prepared.append(Prepared(index, identifiers))
        if not prepared:
            return WriteResult(outcomes=outcomes, requests=0)
        resource = user_list.resource_name or f"customers/{self.config.customer_id}/userLists/{user_list.id}"
        result = self._jobs().write(resource, operation, prepared)
        for index, outcome in result.failures.items():
            outcomes[index] = outcome
        return WriteResult(outcomes=outcomes, requests=result.requests)

    def _jobs(self) -> JobWriter:
        c = self.config
        return JobWriter(
            self.api,
            customer_id=c.customer_id,
            api_version=c.api_version,
            consent=c.consent,
            wait_seconds=c.job_wait_seconds,
            poll_interval=c.job_poll_interval_seconds,
        )


def _check_fields(
    user_list: UserList, mode: str, match_key: str | None, records: list[dict[str, Any]]
) -> None:
    """Whole-batch configuration errors: fields the list does not take, a key that is no identifier."""
    known = {f.name for f in user_list.fields}
    unknown = sorted({name for record in records for name in record} - known)
    if unknown:
        raise ConnectorError(
            f"List '{user_list.name}' ({user_list.upload_key_type}) has no field {', '.join(unknown)}; "
            f"fields: {', '.join(sorted(known))}",
            code=ErrorCode.SCHEMA_DRIFT,
            status=400,
        )
    identifiers = user_list.identifier_fields
    if (match_key is None and mode in ("upsert", "delete")) or (match_key and match_key not in identifiers):
        raise ConnectorError(
            f"The match key must identify a person ({', '.join(identifiers)}), not '{match_key}': mirror "
            "removes the rows that left the query by their key alone",
            code=ErrorCode.DESTINATION_REJECTED,
            status=400,
        )
