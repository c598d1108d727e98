"""Google Ads Customer Match in the conformance suite, against the fake Google Ads API.

The fake holds one contact-info list; Google refuses one identifier (``blocked@example.com``, an
injected partial failure), so the rejected record goes through the real partial-failure path.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from apps.connectors.pii import sha256_hex
from tests.connectors.conformance.harness import ConformanceCase
from tests.fakes.google_ads import FakeGoogleAds

LIST_NAME = "Conformance subscribers"
BLOCKED = "blocked@example.com"


@contextmanager
def _fake() -> Iterator[FakeGoogleAds]:
    with FakeGoogleAds() as fake:
        fake.add_user_list(LIST_NAME)
        fake.reject(sha256_hex(BLOCKED), message="The user identifier cannot be used for this list.")
        yield fake


def _config(fake: FakeGoogleAds) -> dict[str, Any]:
    return {
        "customer_id": fake.customer_id,
        "client_id": fake.client_id,
        "client_secret": fake.client_secret,
        "refresh_token": fake.refresh_token,
        "developer_token": "legacy-developer-token-0c1d",
        "base_url": fake.url,
        "token_url": f"{fake.url}/token",
        "job_poll_interval_seconds": 0,
    }


CASE = ConformanceCase(
    connector_type="google_ads",
    fake=_fake,
    config=_config,
    bad_credentials=lambda fake: {**_config(fake), "refresh_token": "1//revoked-refresh-token-77aa"},
    throttle=lambda fake: fake.throttle(1),
    object_name=str(FakeGoogleAds.FIRST_ID),  # the fake's first (and only) list
    mode="add",
    match_key="email",
    records=[{"email": f"member{i}@example.com", "phone": f"+1 415 555 01{i:02d}"} for i in range(3)],
    rejected_record={"email": BLOCKED},
)
