"""The HubSpot destination in the conformance suite, against the local HubSpot fake."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from tests.connectors.conformance.harness import ConformanceCase
from tests.fakes.hubspot import TOKEN, FakeHubSpot


@contextmanager
def _fake() -> Iterator[FakeHubSpot]:
    with FakeHubSpot() as fake:
        yield fake


CASE = ConformanceCase(
    connector_type="hubspot",
    fake=_fake,
    config=lambda fake: {"access_token": TOKEN, "base_url": fake.url},
    bad_credentials=lambda fake: {"access_token": "pat-na1-00000000-wrong-token", "base_url": fake.url},
    throttle=lambda fake: fake.throttle(1),
    object_name="contacts",
    mode="upsert",
    match_key="email",
    records=[
        {"email": f"r{i}@example.com", "firstname": f"R{i}", "lifecyclestage": "lead"} for i in range(3)
    ],
    # HubSpot refuses an option its enumeration property does not have (the 207 names the input).
    rejected_record={"email": "rejected@example.com", "firstname": "X", "lifecyclestage": "not-a-stage"},
)
