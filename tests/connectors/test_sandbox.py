import pytest

from apps.connectors.base import ConnectorError, ErrorCode, OutgoingBatch
from apps.connectors.destinations.sandbox import SandboxDestination
from apps.connectors.registry import destination_class, parse_config


@pytest.fixture
def sandbox(sandbox_path) -> SandboxDestination:
    return SandboxDestination(parse_config("destination", "sandbox", {"path": sandbox_path}))


def contact(i: int, **extra) -> dict:
    return {"external_id": f"CUS-{i}", "email": f"user{i}@example.com", "first_name": f"U{i}", **extra}


def test_registered_under_its_type():
    assert destination_class("sandbox") is SandboxDestination


def test_catalog_has_typed_fields_with_flags(sandbox):
    assert {o.name for o in sandbox.list_objects()} >= {"contacts", "companies", "deals", "events"}
    fields = {f.name: f for f in sandbox.list_fields("contacts")}
    assert fields["email"].required and fields["email"].identifier and fields["email"].type == "email"
    assert not fields["id"].createable and not fields["id"].updateable
    assert fields["lifecycle_stage"].enum_values and "customer" in fields["lifecycle_stage"].enum_values
    assert fields["first_name"].max_length == 80
    with pytest.raises(ConnectorError) as exc:
        sandbox.list_fields("leads")
    assert exc.value.code == ErrorCode.SCHEMA_DRIFT


def test_upsert_creates_then_updates(sandbox):
    first = sandbox.write(
        "contacts", "upsert", OutgoingBatch.of([contact(1), contact(2)]), match_key="external_id"
    )
    assert [o.ok for o in first.outcomes] == [True, True]
    again = sandbox.write(
        "contacts", "upsert", OutgoingBatch.of([contact(1, first_name="Changed")]), match_key="external_id"
    )
    assert again.outcomes[0].record_id == first.outcomes[0].record_id
    assert sandbox.store.count("contacts") == 2
    stored = {r["external_id"]: r for r in sandbox.store.records("contacts")}
    assert stored["CUS-1"]["first_name"] == "Changed"


def test_partial_success_with_realistic_rejections(sandbox):
    batch = [
        contact(1),
        contact(2, email="bad@@example"),
        {"external_id": "CUS-3", "first_name": "NoEmail"},
        contact(4, lifecycle_stage="vip"),
        contact(5, lead_score="lots"),
        contact(6, id="forged"),
        contact(7, shoe_size=44),
        contact(8, first_name="x" * 81),
    ]
    result = sandbox.write("contacts", "upsert", OutgoingBatch.of(batch), match_key="external_id")
    codes = [o.error_code for o in result.outcomes]
    assert codes == [
        None,
        ErrorCode.INVALID_FIELD_VALUE,
        ErrorCode.MISSING_REQUIRED_FIELD,
        ErrorCode.INVALID_FIELD_VALUE,
        ErrorCode.INVALID_FIELD_VALUE,
        ErrorCode.INVALID_FIELD_VALUE,
        ErrorCode.SCHEMA_DRIFT,
        ErrorCode.INVALID_FIELD_VALUE,
    ]
    assert "bad@@example" in result.outcomes[1].message
    assert "read-only" in result.outcomes[5].message
    assert sandbox.store.count("contacts") == 1


def test_insert_refuses_duplicates_and_update_needs_a_record(sandbox):
    sandbox.write("contacts", "insert", OutgoingBatch.of([contact(1)]), match_key="external_id")
    dup = sandbox.write("contacts", "insert", OutgoingBatch.of([contact(1)]), match_key="external_id")
    assert dup.outcomes[0].error_code == ErrorCode.DESTINATION_CONSTRAINT_VIOLATION
    assert dup.outcomes[0].status == 409
    missing = sandbox.write("contacts", "update", OutgoingBatch.of([contact(9)]), match_key="external_id")
    assert missing.outcomes[0].error_code == ErrorCode.DESTINATION_REJECTED
    assert missing.outcomes[0].status == 404


def test_identifier_stays_unique_across_records(sandbox):
    sandbox.write("contacts", "upsert", OutgoingBatch.of([contact(1)]), match_key="external_id")
    clash = sandbox.write(
        "contacts",
        "upsert",
        OutgoingBatch.of([contact(2, email="user1@example.com")]),
        match_key="external_id",
    )
    assert clash.outcomes[0].error_code == ErrorCode.DESTINATION_CONSTRAINT_VIOLATION


def test_delete_by_key(sandbox):
    sandbox.write("contacts", "upsert", OutgoingBatch.of([contact(1), contact(2)]), match_key="external_id")
    result = sandbox.write(
        "contacts",
        "delete",
        OutgoingBatch.of([{"external_id": "CUS-1"}, {"external_id": "CUS-404"}]),
        match_key="external_id",
    )
    assert all(o.ok for o in result.outcomes)
    assert sandbox.store.count("contacts") == 1


def test_whole_request_failures_are_classified(sandbox):
    with pytest.raises(ConnectorError) as too_big:
        sandbox.write(
            "contacts", "upsert", OutgoingBatch.of([contact(i) for i in range(101)]), match_key="external_id"
        )
    assert too_big.value.code == ErrorCode.PAYLOAD_TOO_LARGE and not too_big.value.retryable
    with pytest.raises(ConnectorError) as bad_mode:
        sandbox.write("events", "upsert", OutgoingBatch.of([{}]), match_key="email")
    assert "not supported" in bad_mode.value.message
    with pytest.raises(ConnectorError) as bad_key:
        sandbox.write("contacts", "upsert", OutgoingBatch.of([contact(1)]), match_key="first_name")
    assert "identifier" in bad_key.value.message


def test_api_token_is_enforced_once_set(sandbox_path):
    owner = SandboxDestination(
        parse_config("destination", "sandbox", {"path": sandbox_path, "api_token": "t1"})
    )
    assert owner.check().ok
    intruder = SandboxDestination(
        parse_config("destination", "sandbox", {"path": sandbox_path, "api_token": "t2"})
    )
    check = intruder.check()
    assert not check.ok and "invalid" in check.message
    with pytest.raises(ConnectorError) as exc:
        intruder.write("contacts", "upsert", OutgoingBatch.of([contact(1)]), match_key="external_id")
    assert exc.value.code == ErrorCode.AUTH_FAILED and exc.value.status == 401


def test_config_marks_the_token_secret():
    assert destination_class("sandbox").Config.secret_field_names() == ("api_token",)
