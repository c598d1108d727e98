"""Writes through sObject Collections against the fake org: each mode, partial failure, 200-record
requests and the classification of whole-request errors."""

from __future__ import annotations

import pytest

from apps.connectors.base import ConnectorError, ErrorCode, OutgoingBatch
from tests.fakes.salesforce import FakeSalesforce, errors

KEY = "External_Id__c"


def contacts(count: int, start: int = 0, **fields) -> list[dict]:
    return [{KEY: f"k{i}", "LastName": f"Last {i}", **fields} for i in range(start, start + count)]


def write(sf, mode: str, records: list[dict], key: str | None = KEY, sobject: str = "Contact"):
    return sf.write(sobject, mode, OutgoingBatch.of(records), match_key=key)


def stored(org: FakeSalesforce, key: str) -> dict:
    record = org.find("Contact", **{KEY: key})
    assert record is not None, key
    return record


def test_upsert_creates_then_updates_by_external_id(org, sf):
    first = write(sf, "upsert", contacts(2, Email="a@example.com"))
    assert [o.ok for o in first.outcomes] == [True, True] and first.requests == 1
    ids = [o.record_id for o in first.outcomes]
    assert all(i and i.startswith("003") for i in ids)
    second = write(sf, "upsert", [{KEY: "k1", "LastName": "Renamed"}, {KEY: "k2", "LastName": "New"}])
    assert second.outcomes[0].record_id == ids[1] and second.outcomes[1].ok
    assert stored(org, "k1")["LastName"] == "Renamed" and stored(org, "k1")["Email"] == "a@example.com"
    assert len(org.records["Contact"]) == 3
    request = org.collection_writes()[-1]
    assert (request.method, request.path) == (
        "PATCH",
        "/services/data/v62.0/composite/sobjects/Contact/External_Id__c",
    )
    body = request.json
    assert body["allOrNone"] is False
    assert body["records"][0] == {"attributes": {"type": "Contact"}, KEY: "k1", "LastName": "Renamed"}


def test_mirror_writes_as_an_upsert(org, sf):
    assert write(sf, "mirror", contacts(1)).outcomes[0].ok
    assert org.collection_writes()[0].path.endswith("/composite/sobjects/Contact/External_Id__c")


def test_insert_creates_records_and_reports_duplicates(org, sf):
    result = write(sf, "insert", [*contacts(2), {KEY: "k0", "LastName": "Twin"}], key=None)
    assert [o.ok for o in result.outcomes] == [True, True, False]
    twin = result.outcomes[2]
    assert twin.error_code == ErrorCode.DESTINATION_CONSTRAINT_VIOLATION and not twin.retryable
    assert twin.message.startswith("DUPLICATE_VALUE: duplicate value found: External_Id__c")
    request = org.collection_writes()[0]
    assert (request.method, request.path) == ("POST", "/services/data/v62.0/composite/sobjects")
    assert all(r["attributes"] == {"type": "Contact"} for r in request.json["records"])


def test_update_by_record_id(org, sf):
    record_id = org.seed("Contact", LastName="Old", Email="old@example.com")
    result = write(
        sf,
        "update",
        [{"Id": record_id, "LastName": "New"}, {"Id": "003FAKE99999999AAA", "LastName": "X"}, {"Id": "bad"}],
        key="Id",
    )
    ok, unknown, malformed = result.outcomes
    assert ok.ok and ok.record_id == record_id
    assert org.records["Contact"][record_id] == {
        "Id": record_id,
        "LastName": "New",
        "Email": "old@example.com",
    }
    assert (
        unknown.error_code == ErrorCode.DESTINATION_REJECTED
        and "INVALID_CROSS_REFERENCE_KEY" in unknown.message
    )
    assert malformed.error_code == ErrorCode.INVALID_FIELD_VALUE and "MALFORMED_ID" in malformed.message
    body = org.collection_writes()[0].json["records"][0]
    assert body == {"attributes": {"type": "Contact"}, "id": record_id, "LastName": "New"}


def test_update_by_external_id_looks_the_ids_up(org, sf):
    record_id = org.seed("Contact", LastName="Old", **{KEY: "K-1"})
    result = write(
        sf, "update", [{KEY: "k-1", "LastName": "New"}, {KEY: "nobody", "LastName": "X"}, {KEY: None}]
    )
    found, missing, empty = result.outcomes
    assert found.ok and found.record_id == record_id  # external IDs match ignoring case
    assert org.records["Contact"][record_id]["LastName"] == "New"
    assert org.records["Contact"][record_id][KEY] == "K-1"  # the key only found the record
    assert missing.error_code == ErrorCode.DESTINATION_REJECTED and "nobody" in missing.message
    assert empty.error_code == ErrorCode.MISSING_REQUIRED_FIELD
    [query] = [r for r in org.requests if r.path.endswith("/query")]
    assert (
        query.param("q") == "SELECT Id, External_Id__c FROM Contact WHERE External_Id__c IN ('k-1', 'nobody')"
    )
    assert result.requests == 2  # the query and one PATCH


def test_delete_by_id_is_idempotent(org, sf):
    ids = [org.seed("Contact", LastName=f"L{i}") for i in range(3)]
    result = write(sf, "delete", [{"Id": i} for i in ids[:2]], key="Id")
    assert [o.ok for o in result.outcomes] == [True, True] and list(org.records["Contact"]) == [ids[2]]
    request = org.collection_writes()[0]
    assert request.method == "DELETE" and request.param("ids") == ",".join(ids[:2])
    assert request.param("allOrNone") == "false"
    again = write(sf, "delete", [{"Id": ids[0]}, {"Id": "003FAKE99999999AAA"}], key="Id")
    assert again.outcomes[0].ok  # ENTITY_IS_DELETED: already done
    assert again.outcomes[1].error_code == ErrorCode.DESTINATION_REJECTED


def test_delete_by_external_id_with_escaped_and_paged_lookups():
    with FakeSalesforce(query_page_size=2) as org:
        from tests.connectors.salesforce.conftest import connect

        sf = connect(org)
        keys = ["o'neil", "back\\slash", "plain", "k3", "k4"]
        for key in keys:
            org.seed("Contact", LastName="L", **{KEY: key})
        result = write(sf, "delete", [{KEY: k} for k in [*keys, "never-existed"]])
        assert all(o.ok for o in result.outcomes) and org.records["Contact"] == {}
        assert result.outcomes[-1].record_id is None
        # one query, two more pages of 2 records, one DELETE
        assert result.requests == 4
        query = next(r for r in org.requests if r.path.endswith("/query")).param("q")
        assert "'o\\'neil'" in query and "'back\\\\slash'" in query
        sf.close()


def test_one_outcome_per_record_with_salesforce_errors_classified(org, sf):
    org.add_rule("Contact", lambda r: r.get("LastName") == "Blocked", "Blocked people cannot be contacts")
    org.add_rule(
        "Contact",
        lambda r: r.get("LastName") == "Busy",
        "unable to obtain exclusive access to this record",
        status_code="UNABLE_TO_LOCK_ROW",
    )
    records = [
        {KEY: "ok1", "LastName": "Fine"},
        {KEY: "no-name"},
        {KEY: "email", "LastName": "E", "Email": "not-an-email"},
        {KEY: "long", "LastName": "L", "FirstName": "x" * 41},
        {KEY: "pick", "LastName": "P", "LeadSource": "Trade Show"},
        {KEY: "rule", "LastName": "Blocked"},
        {KEY: "lock", "LastName": "Busy"},
        {KEY: "ro", "LastName": "R", "Name": "Full Name"},
        {KEY: "num", "LastName": "N", "Score__c": "lots"},
        {KEY: "ok2", "LastName": "Fine"},
    ]
    result = write(sf, "upsert", records)
    outcomes = result.outcomes
    assert [o.index for o in outcomes] == list(range(len(records)))
    assert [o.ok for o in outcomes] == [True] + [False] * 8 + [True]
    expected = [
        (
            ErrorCode.MISSING_REQUIRED_FIELD,
            "REQUIRED_FIELD_MISSING: Required fields are missing: [LastName] (fields: LastName)",
        ),
        (
            ErrorCode.INVALID_FIELD_VALUE,
            "INVALID_EMAIL_ADDRESS: Email: invalid email address: not-an-email (fields: Email)",
        ),
        (ErrorCode.INVALID_FIELD_VALUE, "STRING_TOO_LONG: First Name: data value too large"),
        (ErrorCode.INVALID_FIELD_VALUE, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST: Lead Source: bad value"),
        (
            ErrorCode.DESTINATION_CONSTRAINT_VIOLATION,
            "FIELD_CUSTOM_VALIDATION_EXCEPTION: Blocked people cannot",
        ),
        (ErrorCode.DESTINATION_UNAVAILABLE, "UNABLE_TO_LOCK_ROW: unable to obtain exclusive access"),
        (
            ErrorCode.INVALID_FIELD_VALUE,
            "INVALID_FIELD_FOR_INSERT_UPDATE: Unable to create/update fields: Name.",
        ),
        (ErrorCode.INVALID_FIELD_VALUE, "INVALID_TYPE_ON_FIELD_IN_RECORD: Score: value not of required type"),
    ]
    for outcome, (code, message) in zip(outcomes[1:9], expected, strict=True):
        assert outcome.error_code == code and outcome.message.startswith(message), outcome
        assert outcome.retryable == (code == ErrorCode.DESTINATION_UNAVAILABLE)
        assert outcome.status == 200  # the request succeeded; the record did not
    assert {r[KEY] for r in org.records["Contact"].values()} == {"ok1", "ok2"}


def test_batches_over_200_records_are_split(org, sf):
    records = contacts(450)
    records[300]["Email"] = "broken"
    result = write(sf, "upsert", records)
    assert result.requests == 3
    assert [len(r.json["records"]) for r in org.collection_writes()] == [200, 200, 50]
    assert [o.index for o in result.outcomes] == list(range(450))
    assert [i for i, o in enumerate(result.outcomes) if not o.ok] == [300]
    assert len(org.records["Contact"]) == 449


def test_a_failed_request_after_the_first_fails_only_the_records_not_sent(org, sf):
    original, patches = org.handle, []

    def handle(request):
        if request.method == "PATCH":
            patches.append(request)
            if len(patches) == 2:
                return errors(503, "SERVER_UNAVAILABLE", "Server temporarily unavailable")
        return original(request)

    org.handle = handle
    result = write(sf, "upsert", contacts(450))
    assert all(o.ok for o in result.outcomes[:200]) and len(org.records["Contact"]) == 200
    rest = result.outcomes[200:]
    assert all(not o.ok and o.retryable and o.status == 503 for o in rest)
    assert {o.error_code for o in rest} == {ErrorCode.DESTINATION_UNAVAILABLE}
    assert "SERVER_UNAVAILABLE" in rest[0].message and result.requests == 2


@pytest.mark.parametrize(
    ("fault", "code", "retryable", "status", "said"),
    [
        (
            "throttle",
            ErrorCode.RATE_LIMITED,
            True,
            403,
            "REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded.",
        ),
        (
            (503, [{"message": "down", "errorCode": "SERVER_UNAVAILABLE"}]),
            ErrorCode.DESTINATION_UNAVAILABLE,
            True,
            503,
            "SERVER_UNAVAILABLE: down",
        ),
        (
            (403, [{"message": "API is disabled", "errorCode": "API_DISABLED_FOR_ORG"}]),
            ErrorCode.PERMISSION_DENIED,
            False,
            403,
            "API_DISABLED_FOR_ORG",
        ),
        (
            (400, [{"message": "bad json", "errorCode": "JSON_PARSER_ERROR"}]),
            ErrorCode.DESTINATION_REJECTED,
            False,
            400,
            "JSON_PARSER_ERROR: bad json",
        ),
    ],
)
def test_whole_request_errors_are_classified(org, sf, fault, code, retryable, status, said):
    if fault == "throttle":
        org.throttle()
    else:
        org.fail_next(*fault)
    with pytest.raises(ConnectorError) as raised:
        write(sf, "upsert", contacts(2))
    error = raised.value
    assert (error.code, error.retryable, error.status) == (code, retryable, status)
    assert said in error.message and "/composite/sobjects/Contact/External_Id__c" in error.message
    assert org.records["Contact"] == {}


def test_schema_errors(org, sf):
    with pytest.raises(ConnectorError) as unknown_field:
        write(sf, "upsert", [{KEY: "k", "LastName": "L", "Shoe_Size__c": 44}])
    assert (
        unknown_field.value.code == ErrorCode.SCHEMA_DRIFT and "Shoe_Size__c" in unknown_field.value.message
    )
    with pytest.raises(ConnectorError) as not_external:
        write(sf, "upsert", contacts(1), key="LastName")
    assert (
        not_external.value.status == 404
        and "Provided external ID field does not exist" in not_external.value.message
    )
    with pytest.raises(ConnectorError) as unknown_object:
        write(sf, "insert", [{"Name": "x"}], key=None, sobject="Gadget__c")
    assert unknown_object.value.code == ErrorCode.SCHEMA_DRIFT and "Gadget__c" in unknown_object.value.message


@pytest.mark.parametrize(
    ("sobject", "mode", "key", "said"),
    [
        ("Contact", "upsert", "Id", "external ID field"),
        ("Contact", "upsert", None, "external ID field"),
        ("Contact", "update", None, "needs a match key"),
        ("Contact", "merge", KEY, "not supported"),
        ("Contact/../../x", "upsert", KEY, "not a Salesforce API name"),
        ("Contact", "delete", "Id) OR (Id", "not a Salesforce API name"),
    ],
)
def test_requests_that_cannot_be_sent_fail_before_any_request(org, sf, sobject, mode, key, said):
    with pytest.raises(ConnectorError, match=said) as raised:
        write(sf, mode, contacts(1), key=key, sobject=sobject)
    assert raised.value.code == ErrorCode.DESTINATION_REJECTED and not raised.value.retryable
    assert not [r for r in org.requests if r.path.startswith("/services/data/")]


def test_an_empty_batch_sends_nothing(org, sf):
    result = write(sf, "upsert", [])
    assert result.outcomes == [] and result.requests == 0 and org.requests == []


def test_custom_object_upsert_with_typed_values(org, sf):
    record = {
        KEY: "s-1",
        "Name": "Gold",
        "Plan__c": "Pro",
        "Seats__c": 12,
        "Renews_On__c": "2026-05-01",
        "Active__c": True,
    }
    result = write(sf, "upsert", [record], sobject="Subscription__c")
    assert result.outcomes[0].ok and result.outcomes[0].record_id.startswith("a01")
    saved = org.find("Subscription__c", **{KEY: "s-1"})
    assert saved is not None and saved["Seats__c"] == 12 and saved["Active__c"] is True
