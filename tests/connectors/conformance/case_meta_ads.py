"""Meta Custom Audiences in the conformance suite, against the fake Marketing API."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from apps.connectors.pii import sha256_hex
from tests.connectors.conformance.harness import ConformanceCase
from tests.fakes.meta_ads import TOKEN, FakeAudience, FakeMetaAds

AUDIENCE_ID = "23851234567890123"
ACCOUNT_ID = "1234567890"
APP_SECRET = "conformance-meta-app-secret-91ab"
REJECTED_EMAIL = "rejected@example.com"


@contextmanager
def _fake() -> Iterator[FakeMetaAds]:
    # The fake counts the hash of REJECTED_EMAIL as an invalid entry and samples it, as Meta does
    # for entries it cannot use: the connector must fail that record alone.
    with FakeMetaAds(
        access_token=TOKEN,
        app_secret=APP_SECRET,
        ad_account_id=ACCOUNT_ID,
        audiences=[
            FakeAudience(AUDIENCE_ID, "Newsletter subscribers"),
            FakeAudience("23850000000000001", "Website visitors", subtype="WEBSITE"),
        ],
        invalid_values={sha256_hex(REJECTED_EMAIL)},
    ) as fake:
        yield fake


def _config(fake: FakeMetaAds, token: str = TOKEN) -> dict:
    return {
        "ad_account_id": f"act_{ACCOUNT_ID}",
        "access_token": token,
        "app_secret": APP_SECRET,
        "base_url": fake.url,
    }


CASE = ConformanceCase(
    connector_type="meta_ads",
    fake=_fake,
    config=_config,
    bad_credentials=lambda fake: _config(fake, "EAAB-revoked-token-0000"),
    throttle=lambda fake: fake.throttle(1),
    object_name=AUDIENCE_ID,
    mode="add",
    match_key="email",
    records=[{"email": f"person{i}@example.com", "fn": f"Person{i}", "country": "US"} for i in range(3)],
    rejected_record={"email": REJECTED_EMAIL, "fn": "Rejected", "country": "US"},
)
