"""The Iterable destination in the conformance suite, against the fake Iterable API."""

from __future__ import annotations

from typing import Any

from tests.connectors.conformance.harness import ConformanceCase
from tests.fakes.iterable import API_KEY, FakeIterable


def _throttle(fake: FakeIterable) -> None:
    fake.rate_limit_reset = 0  # Iterable's 429 says when to retry; the suite need not wait
    fake.throttle(1)


def _config(fake: FakeIterable, key: str = API_KEY) -> dict[str, Any]:
    return {"api_key": key, "base_url": fake.url}


CASE = ConformanceCase(
    connector_type="iterable",
    fake=FakeIterable,
    config=_config,
    bad_credentials=lambda fake: _config(fake, "itbl-wrong-key-fedcba9876543210"),
    throttle=_throttle,
    object_name="users",
    mode="upsert",
    match_key="email",
    records=[{"email": f"member{i}@example.com", "firstName": f"Member {i}", "score": i} for i in range(3)],
    # Iterable lists it in failedUpdates.invalidEmails of a 200 answer.
    rejected_record={"email": "not-an-email", "firstName": "Bad"},
)
