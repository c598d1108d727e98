"""List memberships (subscribe / unsubscribe) and how Iterable's error answers are classified."""

import pytest

from apps.connectors.base import ConnectorError, ErrorCode, OutgoingBatch
from tests.connectors.iterable.conftest import make_destination


def members(*emails):
    return OutgoingBatch.of([{"email": e} for e in emails])


def test_add_subscribes_and_remove_unsubscribes(fake, iterable):
    added = iterable.write("list:101", "add", members("a@example.com", "b@example.com"), match_key="email")
    assert all(o.ok for o in added.outcomes)
    assert fake.writes()[-1].json == {
        "listId": 101,
        "subscribers": [{"email": "a@example.com"}, {"email": "b@example.com"}],
    }
    assert fake.members(101) == {"a@example.com", "b@example.com"} and fake.members(102) == set()
    removed = iterable.write("list:101", "remove", members("a@example.com"), match_key="email")
    assert removed.outcomes[0].ok and fake.writes()[-1].path == "/api/lists/unsubscribe"
    assert fake.members(101) == {"b@example.com"}


def test_mirror_arrives_as_upsert_and_delete(fake, iterable):
    iterable.write("list:102", "upsert", members("a@example.com", "b@example.com"), match_key="email")
    assert fake.members(102) == {"a@example.com", "b@example.com"}
    # Rows that left the query: only their key; one was never known to Iterable.
    gone = iterable.write(
        "list:102", "delete", members("a@example.com", "never@example.com"), match_key="email"
    )
    assert [o.ok for o in gone.outcomes] == [True, True]  # not found = not on the list: done
    assert fake.members(102) == {"b@example.com"}


def test_subscriber_failures_map_to_their_records(fake, iterable):
    fake.forgotten.add("gone@example.com")
    result = iterable.write(
        "list:101",
        "add",
        members("ok@example.com", "bad@@example.com", "gone@example.com"),
        match_key="email",
    )
    assert [o.ok for o in result.outcomes] == [True, False, False]
    assert result.outcomes[1].error_code == ErrorCode.INVALID_FIELD_VALUE
    assert "invalidEmails: 'bad@@example.com'" in result.outcomes[1].message
    assert "forgottenEmails" in result.outcomes[2].message
    unsub = iterable.write("list:101", "remove", members("bad@@example.com"), match_key="email")
    assert not unsub.outcomes[0].ok and "invalidEmails" in unsub.outcomes[0].message


def test_user_id_members_send_only_the_key(fake, iterable):
    batch = OutgoingBatch.of([{"userId": "U-1", "email": "u1@example.com"}])
    assert iterable.write("list:101", "add", batch, match_key="userId").outcomes[0].ok
    assert fake.writes()[-1].json["subscribers"] == [{"userId": "U-1", "preferUserId": True}]
    assert fake.members(101) == {"U-1"}
    iterable.write("list:101", "delete", OutgoingBatch.of([{"userId": "U-1"}]), match_key="userId")
    assert fake.writes()[-1].json["subscribers"] == [{"userId": "U-1"}] and fake.members(101) == set()


def test_a_deleted_list_is_schema_drift(fake, iterable):
    del fake.lists[102]
    with pytest.raises(ConnectorError) as raised:
        iterable.write("list:102", "add", members("a@example.com"), match_key="email")
    assert raised.value.code == ErrorCode.SCHEMA_DRIFT and raised.value.status == 400
    assert "error.lists.invalidListId(102)" in raised.value.message


@pytest.mark.parametrize(
    ("status", "body", "code", "retryable"),
    [
        (
            400,
            {"msg": "Invalid parameters", "code": "BadParams", "params": None},
            ErrorCode.INVALID_FIELD_VALUE,
            False,
        ),
        (400, {"msg": "Batch too large", "code": "BatchTooLarge"}, ErrorCode.PAYLOAD_TOO_LARGE, False),
        (
            400,
            {"msg": "Too many fields", "code": "UniqueFieldsLimitExceeded"},
            ErrorCode.DESTINATION_CONSTRAINT_VIOLATION,
            False,
        ),
        (401, {"msg": "Invalid API key", "code": "BadApiKey"}, ErrorCode.AUTH_FAILED, False),
        (
            403,
            {"msg": "Not allowed for this key type", "code": "Forbidden"},
            ErrorCode.PERMISSION_DENIED,
            False,
        ),
        (
            409,
            {"msg": "User is forgotten", "code": "ForgottenUserError"},
            ErrorCode.DESTINATION_REJECTED,
            False,
        ),
        (500, {"msg": "Database error", "code": "DatabaseError"}, ErrorCode.DESTINATION_UNAVAILABLE, True),
        (503, {"msg": "Try again", "code": "BadParams"}, ErrorCode.DESTINATION_UNAVAILABLE, True),
    ],
)
def test_whole_request_errors_are_classified_by_iterable_code(fake, iterable, status, body, code, retryable):
    fake.fail_next(status, body)
    with pytest.raises(ConnectorError) as raised:
        iterable.write("users", "upsert", members("a@example.com"), match_key="email")
    error = raised.value
    assert (error.code, error.retryable, error.status) == (code, retryable, status)
    assert body["msg"] in error.message and body["code"] in error.message
    assert "/api/users/bulkUpdate" in error.message


def test_rate_limit_waits_as_iterable_says(fake, iterable):
    fake.rate_limit_reset = 2
    fake.throttle(1)
    with pytest.raises(ConnectorError) as raised:
        iterable.write(
            "events",
            "insert",
            OutgoingBatch.of([{"eventName": "x", "email": "a@example.com"}]),
            match_key=None,
        )
    error = raised.value
    assert (error.code, error.status, error.retryable, error.retry_after) == (
        ErrorCode.RATE_LIMITED,
        429,
        True,
        2.0,
    )
    assert "Exceeded rate limit." in error.message
    # A Retry-After header, when present, wins over the body's reset.
    fake.fail_next(429, {"msg": "Exceeded rate limit.", "code": "RateLimitExceeded"}, {"Retry-After": "7"})
    with pytest.raises(ConnectorError) as again:
        iterable.write("users", "upsert", members("a@example.com"), match_key="email")
    assert again.value.retry_after == 7.0


def test_answers_not_in_iterables_shape_keep_the_status_reading(fake, iterable):
    fake.fail_next(502, b"<html><title>Bad Gateway</title></html>", {"Content-Type": "text/html"})
    with pytest.raises(ConnectorError) as raised:
        iterable.write("users", "upsert", members("a@example.com"), match_key="email")
    assert raised.value.code == ErrorCode.DESTINATION_UNAVAILABLE and raised.value.retryable
    assert "Bad Gateway" in raised.value.message


def test_a_wrong_key_fails_writes_as_auth_and_is_never_echoed(fake):
    wrong = "itbl-wrong-key-5555"
    fake.api_key = "itbl-right-key"
    with pytest.raises(ConnectorError) as raised:
        make_destination(fake, api_key=wrong).write(
            "list:101", "add", members("a@example.com"), match_key="email"
        )
    assert raised.value.code == ErrorCode.AUTH_FAILED and not raised.value.retryable
    assert wrong not in raised.value.message
    # Should Iterable ever echo the key, it is redacted.
    fake.api_key = wrong
    fake.fail_next(400, {"msg": f"Key {wrong} cannot write", "code": "BadParams"})
    with pytest.raises(ConnectorError) as echoed:
        make_destination(fake, api_key=wrong).write(
            "list:101", "add", members("a@example.com"), match_key="email"
        )
    assert wrong not in echoed.value.message and "[redacted]" in echoed.value.message
