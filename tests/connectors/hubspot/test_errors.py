"""HubSpot's partial successes and failures, mapped to records and classified."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from apps.connectors.base import ConnectorError, ErrorCode, OutgoingBatch
from tests.fakes.hubspot import BATCH_PATH, TOKEN, FakeHubSpot
from tests.fakes.vendor_server import FakeRequest, FakeResponse, route


def batch(*records: dict[str, Any]) -> OutgoingBatch:
    return OutgoingBatch.of(list(records))


def contacts(count: int) -> OutgoingBatch:
    return OutgoingBatch.of([{"email": f"c{i}@example.com", "firstname": f"C{i}"} for i in range(count)])


def test_a_207_maps_each_error_to_its_record(fake, hubspot):
    result = hubspot.write(
        "contacts",
        "upsert",
        batch(
            {"email": "ok0@example.com"},
            {"email": "not-an-email"},
            {"email": "ok2@example.com", "date_of_birth": "yesterday"},
            {"email": "ok3@example.com", "shoe_size": "42"},
            {"email": "ok4@example.com", "lifecyclestage": "customer"},
        ),
        match_key="email",
    )
    assert [o.index for o in result.outcomes] == [0, 1, 2, 3, 4]
    assert [o.ok for o in result.outcomes] == [True, False, False, False, True]
    email, date, drift = result.outcomes[1:4]
    assert email.error_code == ErrorCode.INVALID_FIELD_VALUE and email.status == 400 and not email.retryable
    # HubSpot's property-validation list is unwrapped into its own messages
    assert email.message == "Property values were not valid: email: Email address not-an-email is invalid"
    assert date.message.endswith("date_of_birth: yesterday is not a valid date")
    assert (
        drift.error_code == ErrorCode.SCHEMA_DRIFT and 'Property "shoe_size" does not exist' in drift.message
    )
    assert {r["email"] for r in fake.stored("contacts")} == {"ok0@example.com", "ok4@example.com"}


def test_a_400_naming_inputs_fails_those_and_resends_the_others(fake, hubspot):
    result = hubspot.write(
        "contacts",
        "upsert",
        batch({"email": "a@example.com"}, {"email": "dup@example.com"}, {"email": "DUP@example.com"}),
        match_key="email",
    )
    assert [o.ok for o in result.outcomes] == [True, False, False] and result.requests == 2
    assert "Duplicate IDs found in batch input" in result.outcomes[1].message
    assert result.outcomes[1].status == 400 and result.outcomes[1].error_code == ErrorCode.INVALID_FIELD_VALUE
    assert [len(orjson.loads(r.body)["inputs"]) for r in fake.writes()] == [3, 1]
    assert [r["email"] for r in fake.stored("contacts")] == ["a@example.com"]


def test_a_400_naming_no_input_fails_every_record_with_hubspots_message(fake, hubspot):
    fake.fail_next(
        400,
        {
            "status": "error",
            "message": "Invalid input JSON on line 1, column 12",
            "correlationId": "c0ffee",
            "category": "VALIDATION_ERROR",
        },
    )
    result = hubspot.write("contacts", "upsert", contacts(3), match_key="email")
    assert not any(o.ok for o in result.outcomes) and result.requests == 1
    assert all(
        o.error_code == ErrorCode.INVALID_FIELD_VALUE and o.status == 400 and not o.retryable
        for o in result.outcomes
    )
    assert "Invalid input JSON on line 1" in result.outcomes[0].message


def test_results_without_trace_ids_count_as_written_when_the_counts_agree(fake, hubspot):
    fake.fail_next(200, {"status": "COMPLETE", "results": [{"id": "7"}, {"id": "8"}]})
    written = hubspot.write("contacts", "insert", contacts(2), match_key=None)
    assert all(o.ok for o in written.outcomes)
    fake.fail_next(200, {"status": "COMPLETE", "results": [{"id": "9"}]})
    short = hubspot.write("contacts", "insert", contacts(2), match_key=None)
    # one result for two inputs: which one was written cannot be told, so neither is claimed
    assert not any(o.ok for o in short.outcomes)
    assert "neither a result nor an error" in short.outcomes[0].message


def test_results_are_matched_by_key_when_trace_ids_are_missing(fake, hubspot):
    fake.fail_next(
        207,
        {
            "status": "COMPLETE",
            "results": [{"id": "11", "properties": {"email": "c1@example.com"}}],
            "errors": [{"status": "error", "category": "VALIDATION_ERROR", "message": "bad", "context": {}}],
        },
    )
    result = hubspot.write("contacts", "upsert", contacts(2), match_key="email")
    assert result.outcomes[1].ok and result.outcomes[1].record_id == "11"
    assert not result.outcomes[0].ok and result.outcomes[0].message == "bad"


def test_ten_secondly_429_is_retryable_after_hubspots_window(fake, hubspot):
    fake.throttle(1)
    with pytest.raises(ConnectorError) as raised:
        hubspot.write("contacts", "upsert", contacts(2), match_key="email")
    error = raised.value
    assert error.code == ErrorCode.RATE_LIMITED and error.retryable and error.status == 429
    assert error.retry_after == 10.0  # X-HubSpot-RateLimit-Interval-Milliseconds
    assert "You have reached your ten_secondly_rolling limit." in error.message
    fake.fail_next(
        429, {"status": "error", "message": "slow down", "category": "RATE_LIMITS"}, {"Retry-After": "3"}
    )
    with pytest.raises(ConnectorError) as raised:
        hubspot.write("contacts", "upsert", contacts(2), match_key="email")
    assert raised.value.retry_after == 3.0


def test_the_daily_limit_is_not_retried(fake, hubspot):
    fake.rate_limit_policy = "DAILY"
    fake.throttle(1)
    with pytest.raises(ConnectorError) as raised:
        hubspot.write("contacts", "upsert", contacts(1), match_key="email")
    assert raised.value.code == ErrorCode.RATE_LIMITED and not raised.value.retryable
    assert "daily API limit" in raised.value.message


def test_bad_token_raises_auth_failed(connect):
    with pytest.raises(ConnectorError) as raised:
        connect(access_token="pat-na1-wrong").write("contacts", "upsert", contacts(1), match_key="email")
    assert raised.value.code == ErrorCode.AUTH_FAILED and raised.value.status == 401
    assert "INVALID_AUTHENTICATION" in raised.value.message and not raised.value.retryable


def test_missing_scopes_raise_permission_denied_naming_the_scopes(fake, hubspot):
    fake.denied.add("deals")
    with pytest.raises(ConnectorError) as raised:
        hubspot.write("deals", "insert", batch({"dealname": "D"}), match_key=None)
    assert raised.value.code == ErrorCode.PERMISSION_DENIED and raised.value.status == 403
    assert "MISSING_SCOPES" in raised.value.message and "crm.objects.deals.write" in raised.value.message


@pytest.mark.parametrize(
    ("status", "headers", "retry_after"),
    [
        (408, {}, None),
        (425, {}, None),
        (502, {}, None),
        (503, {}, None),
        (423, {}, 2.0),
        (477, {"Retry-After": "30"}, 30.0),
    ],
)
def test_transient_statuses_are_retryable(fake, hubspot, status, headers, retry_after):
    fake.fail_next(status, {"status": "error", "message": f"status {status}"}, headers)
    with pytest.raises(ConnectorError) as raised:
        hubspot.write("contacts", "upsert", contacts(1), match_key="email")
    assert raised.value.retryable and raised.value.code == ErrorCode.DESTINATION_UNAVAILABLE
    assert raised.value.status == status and raised.value.retry_after == retry_after


class SecondWriteThrottled(FakeHubSpot):
    @route("POST", BATCH_PATH)
    def batch(self, request: FakeRequest) -> FakeResponse:
        if len(self.writes()) == 2:
            return self.rate_limited(request)
        return super().batch(request)


def test_a_failure_after_a_written_chunk_fails_only_the_rest(connect):
    records = [{"email": f"u{i}@example.com"} for i in range(150)]
    with SecondWriteThrottled() as fake:
        result = connect(base_url=fake.url).write(
            "contacts", "upsert", OutgoingBatch.of(records), match_key="email"
        )
    # the first 100 were written: raising would make the engine send them again
    assert all(o.ok for o in result.outcomes[:100]) and result.requests == 2
    rest = result.outcomes[100:]
    assert all(not o.ok and o.retryable and o.error_code == ErrorCode.RATE_LIMITED for o in rest)
    assert len(fake.records["contacts"]) == 100


def test_the_token_never_appears_in_messages(fake, hubspot):
    fake.fail_next(400, {"status": "error", "message": f"token {TOKEN} is not allowed here", "category": "X"})
    result = hubspot.write("contacts", "upsert", contacts(1), match_key="email")
    assert TOKEN not in result.outcomes[0].message and "[redacted]" in result.outcomes[0].message
