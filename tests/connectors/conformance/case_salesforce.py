"""The Salesforce destination in the conformance suite, against the fake org.

Salesforce answers a rate limit with 403 ``REQUEST_LIMIT_EXCEEDED`` (not 429), which the
connector classifies rate_limited and retryable while keeping the vendor's status.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from tests.connectors.conformance.harness import ConformanceCase
from tests.fakes.salesforce import FakeSalesforce


@contextmanager
def _fake() -> Iterator[FakeSalesforce]:
    with FakeSalesforce() as org:
        yield org


def _throttle(org: FakeSalesforce) -> None:
    org.throttle(1)  # the next write answers 403 REQUEST_LIMIT_EXCEEDED, as Salesforce does


CASE = ConformanceCase(
    connector_type="salesforce",
    fake=_fake,
    config=lambda org: {"login_url": org.url, "auth": org.client_credentials()},
    bad_credentials=lambda org: {"login_url": org.url, "auth": org.client_credentials("wrong-secret-0000")},
    throttle=_throttle,
    object_name="Contact",
    mode="upsert",
    match_key="External_Id__c",
    records=[
        {"External_Id__c": f"c{i}", "LastName": f"Person {i}", "Email": f"c{i}@example.com"} for i in range(3)
    ],
    # The org refuses it per record: INVALID_EMAIL_ADDRESS in a 200 answer.
    rejected_record={"External_Id__c": "bad", "LastName": "Bad", "Email": "not-an-email"},
)
