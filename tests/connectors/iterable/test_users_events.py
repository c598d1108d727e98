"""Writing users (bulkUpdate) and events (trackBulk): bodies, per-record failures, batch splitting."""

import pytest

from apps.connectors.base import ConnectorError, ErrorCode, OutgoingBatch
from apps.connectors.destinations.iterable import writes
from apps.connectors.destinations.iterable.writes import Item, chunks


def write_users(iterable, records, match_key="email"):
    return iterable.write("users", "upsert", OutgoingBatch.of(records), match_key=match_key)


def test_users_go_in_one_bulk_update_with_data_fields_nested(fake, iterable):
    result = write_users(
        iterable,
        [
            {"email": "ada@example.com", "firstName": "Ada", "score": 7, "address.city": "London"},
            {"email": "bob@example.com", "dataFields.plan": "pro", "vip": True},
        ],
    )
    assert [o.ok for o in result.outcomes] == [True, True] and result.requests == 1
    (sent,) = fake.writes("/api/users/bulkUpdate")
    first = sent.json["users"][0]
    assert first == {
        "email": "ada@example.com",
        "dataFields": {"firstName": "Ada", "score": 7, "address": {"city": "London"}},
        "mergeNestedObjects": True,
    }
    assert fake.user("bob@example.com")["dataFields"] == {"plan": "pro", "vip": True}
    # A later write of one nested field keeps the others (mergeNestedObjects).
    fake.users["ada@example.com"]["dataFields"]["address"]["zip"] = "N1"
    write_users(iterable, [{"email": "ada@example.com", "address.city": "Leeds"}])
    assert fake.user("ada@example.com")["dataFields"]["address"] == {"city": "Leeds", "zip": "N1"}


def test_user_id_key_creates_users_by_user_id(fake, iterable):
    result = write_users(iterable, [{"userId": "U-1", "firstName": "Uma"}], match_key="userId")
    assert result.outcomes[0].ok and result.outcomes[0].record_id == "U-1"
    assert fake.writes()[-1].json["users"][0]["preferUserId"] is True
    assert fake.user(user_id="U-1")["dataFields"] == {"firstName": "Uma"}


def test_each_failure_list_maps_back_to_its_records(fake, iterable):
    fake.forgotten.add("gone@example.com")
    write_users(iterable, [{"email": "owner@example.com", "userId": "U-9"}])
    records = [
        {"email": "ok@example.com", "score": 1},
        {"email": "a..b@example.com", "score": 2},  # malformed for Iterable
        {"email": "typed@example.com", "score": "high"},  # score is a long field
        {"email": "gone@example.com", "score": 3},
        {"email": "thief@example.com", "userId": "U-9"},  # U-9 belongs to owner@
        {"email": "OK2@Example.com", "score": 4},
        {"email": "ok2@example.com", "score": 5},  # same person, other case
        {"email": "spaced@example.com", "userId": "trailing "},
    ]
    result = write_users(iterable, records)
    outcomes = result.outcomes
    assert [o.index for o in outcomes] == list(range(len(records)))
    assert [o.ok for o in outcomes] == [True, False, False, False, False, True, True, False]
    assert outcomes[1].error_code == ErrorCode.INVALID_FIELD_VALUE
    assert (
        outcomes[1].message
        == "Iterable refused it: malformed email address (invalidEmails: 'a..b@example.com')"
    )
    assert (
        outcomes[2].error_code == ErrorCode.INVALID_FIELD_VALUE and "invalidDataEmails" in outcomes[2].message
    )
    assert outcomes[3].error_code == ErrorCode.DESTINATION_REJECTED and "forgotten" in outcomes[3].message
    assert outcomes[4].error_code == ErrorCode.DESTINATION_CONSTRAINT_VIOLATION
    assert "conflictUserIds: 'U-9'" in outcomes[4].message
    assert "invalidUserIds" in outcomes[7].message
    assert all(o.status == 200 and not o.retryable for o in outcomes if not o.ok)
    assert fake.user("typed@example.com") is None and fake.user("ok@example.com") is not None


def test_records_without_an_identifier_fail_alone_without_a_request(fake, iterable):
    result = write_users(iterable, [{"email": None, "firstName": "Nobody"}, {"email": "x@example.com"}])
    assert result.outcomes[0].error_code == ErrorCode.MISSING_REQUIRED_FIELD
    assert result.outcomes[1].ok
    assert [len(w.json["users"]) for w in fake.writes()] == [1]
    alone = write_users(iterable, [{"firstName": "Nobody"}])
    assert not alone.outcomes[0].ok and alone.requests == 0 and len(fake.writes()) == 1


def test_big_batches_are_split_at_1000_users(fake, iterable):
    records = [{"email": f"u{i}@example.com", "score": i} for i in range(2500)]
    result = write_users(iterable, records)
    assert result.requests == 3 and all(o.ok for o in result.outcomes)
    assert [len(w.json["users"]) for w in fake.writes()] == [1000, 1000, 500]
    assert len(fake.users) == 2500 and fake.user("u2499@example.com")["dataFields"]["score"] == 2499


def test_chunks_respect_the_body_size_too():
    items = [Item(i, {"email": "x"}, size) for i, size in enumerate([400, 400, 300, 900, 10])]
    parts = [[i.index for i in part] for part in chunks(items, max_items=3, max_bytes=1000)]
    assert parts == [[0, 1], [2], [3, 4]]
    assert writes.MAX_BODY_BYTES < 4 * 1024 * 1024


def test_a_failed_part_of_a_split_batch_fails_the_whole_write(fake, iterable):
    fake.fail_next(200, {"successCount": 1000, "failCount": 0})  # the first part
    records = [{"email": f"u{i}@example.com"} for i in range(1001)]
    fake.fail_next(503, {"msg": "Service unavailable", "code": "GenericError"})
    with pytest.raises(ConnectorError) as raised:
        write_users(iterable, records)
    assert raised.value.retryable and raised.value.code == ErrorCode.DESTINATION_UNAVAILABLE
    assert [len(w.json["users"]) for w in fake.writes()] == [1000, 1]


def test_unitemized_failures_leave_the_rest_unconfirmed(fake, iterable):
    fake.fail_next(200, {"successCount": 1, "failCount": 2, "failedUpdates": {"invalidEmails": ["b@x.io"]}})
    records = [{"email": "a@x.io"}, {"email": "b@x.io"}, {"email": "c@x.io"}]
    outcomes = write_users(iterable, records).outcomes
    assert not outcomes[1].ok and not outcomes[1].retryable
    assert not outcomes[0].ok and outcomes[0].retryable and "without naming them" in outcomes[0].message
    assert not outcomes[2].ok and outcomes[2].retryable


def test_events_are_tracked_in_bulk_with_unix_time_and_data_fields(fake, iterable):
    records = [
        {
            "eventName": "purchase",
            "email": "ada@example.com",
            "createdAt": "2026-01-01T01:00:00.000Z",
            "amount": 9.5,
        },
        {"eventName": "purchase", "userId": "U-1", "id": "order-7", "dataFields.items.count": 2},
    ]
    write_users(iterable, [{"userId": "U-1"}], match_key="userId")
    result = iterable.write("events", "insert", OutgoingBatch.of(records), match_key=None)
    assert [o.ok for o in result.outcomes] == [True, True]
    first, second = fake.writes("/api/events/trackBulk")[0].json["events"]
    assert first["createdAt"] == 1767229200 and first["dataFields"] == {"amount": 9.5}
    assert first["id"].startswith("syncline-") and result.outcomes[0].record_id == first["id"]
    assert second == {
        "eventName": "purchase",
        "userId": "U-1",
        "id": "order-7",
        "dataFields": {"items": {"count": 2}},
    }
    # The same batch sent again (a retried timeout) updates the events instead of adding more.
    iterable.write("events", "insert", OutgoingBatch.of(records), match_key=None)
    assert len(fake.events) == 2


def test_event_failures_by_name_and_user(fake, iterable):
    fake.disallowed_event_names.add("debug")
    records = [
        {"eventName": "debug", "email": "a@example.com"},
        {"eventName": "open", "email": "not-an-email"},
        {"eventName": "open", "userId": "U-unknown"},
        {"eventName": None, "email": "a@example.com"},
        {"eventName": "open", "email": "a@example.com", "createdAt": "yesterday"},
        {"eventName": "open", "email": "a@example.com"},
    ]
    outcomes = iterable.write("events", "insert", OutgoingBatch.of(records), match_key=None).outcomes
    assert [o.ok for o in outcomes] == [False, False, False, False, False, True]
    assert "disallowedEventNames: 'debug'" in outcomes[0].message
    assert "invalidEmails" in outcomes[1].message
    assert "notFoundUserIds: 'U-unknown'" in outcomes[2].message
    assert outcomes[3].error_code == ErrorCode.MISSING_REQUIRED_FIELD
    assert outcomes[4].error_code == ErrorCode.INVALID_FIELD_VALUE and "createdAt" in outcomes[4].message
    assert len(fake.writes("/api/events/trackBulk")[0].json["events"]) == 4  # two refused before sending


def test_unsupported_modes_and_objects_are_refused(iterable):
    for object_name, mode in (
        ("users", "delete"),
        ("users", "update"),
        ("events", "upsert"),
        ("list:101", "insert"),
    ):
        with pytest.raises(ConnectorError) as raised:
            iterable.write(
                object_name, mode, OutgoingBatch.of([{"email": "a@example.com"}]), match_key="email"
            )
        assert raised.value.code == ErrorCode.DESTINATION_REJECTED and mode in raised.value.message
    with pytest.raises(ConnectorError) as unknown:
        iterable.write(
            "campaigns", "upsert", OutgoingBatch.of([{"email": "a@example.com"}]), match_key="email"
        )
    assert unknown.value.code == ErrorCode.SCHEMA_DRIFT
