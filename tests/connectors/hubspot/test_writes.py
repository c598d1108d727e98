"""Each write mode against the HubSpot fake: what HubSpot stores, and one outcome per record."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from apps.connectors.base import ConnectorError, ErrorCode, OutgoingBatch
from apps.connectors.destinations.hubspot.inputs import hubspot_value
from tests.fakes.hubspot import prop


def batch(*records: dict[str, Any]) -> OutgoingBatch:
    return OutgoingBatch.of(list(records))


def inputs_of(request) -> list[dict[str, Any]]:
    return orjson.loads(request.body)["inputs"]


def test_upsert_by_email_creates_then_updates(fake, hubspot):
    first = hubspot.write(
        "contacts",
        "upsert",
        batch(
            {"email": "Ada@Example.com", "firstname": "Ada"}, {"email": "bob@example.com", "firstname": "Bob"}
        ),
        match_key="email",
    )
    assert [o.ok for o in first.outcomes] == [True, True] and first.requests == 1
    ada = fake.find("contacts", "email", "ada@example.com")
    assert ada["properties"]["firstname"] == "Ada" and first.outcomes[0].record_id == ada["id"]
    sent = inputs_of(fake.writes("batch/upsert")[0])[0]
    assert sent["idProperty"] == "email" and sent["id"] == "Ada@Example.com"
    assert sent["objectWriteTraceId"] == "syncline-0"
    again = hubspot.write(
        "contacts", "upsert", batch({"email": "ada@example.com", "firstname": "Ada L."}), match_key="email"
    )
    assert again.outcomes[0].ok and again.outcomes[0].record_id == ada["id"]
    assert len(fake.records["contacts"]) == 2 and ada["properties"]["firstname"] == "Ada L."


def test_values_are_written_as_hubspot_formats_them(fake, connect):
    fake.add_property("contacts", "score", "number", "number")
    fake.add_property("contacts", "vip", "bool", "booleancheckbox", "-", "true,false")
    hubspot = connect()
    hubspot.write(
        "contacts",
        "upsert",
        batch(
            {
                "email": "a@example.com",
                "score": 42.0,
                "vip": True,
                "firstname": "A",
                "date_of_birth": "1990-05-01",
            }
        ),
        match_key="email",
    )
    stored = fake.find("contacts", "email", "a@example.com")["properties"]
    assert (stored["score"], stored["vip"], stored["date_of_birth"]) == ("42", "true", "1990-05-01")
    hubspot.write(
        "contacts",
        "upsert",
        batch({"email": "a@example.com", "score": 0.1, "firstname": None}),
        match_key="email",
    )
    assert stored["score"] == "0.1" and "firstname" not in stored  # null clears the value


def test_insert_creates_and_reports_duplicates_as_constraint_violations(fake, hubspot):
    result = hubspot.write(
        "contacts",
        "insert",
        batch({"email": "a@example.com", "lastname": None}, {"email": "b@example.com"}),
        match_key=None,
    )
    assert all(o.ok and o.record_id for o in result.outcomes)
    assert "lastname" not in inputs_of(fake.writes("batch/create")[0])[0]["properties"]  # nothing to clear
    again = hubspot.write(
        "contacts", "insert", batch({"email": "c@example.com"}, {"email": "a@example.com"}), match_key=None
    )
    assert again.outcomes[0].ok
    duplicate = again.outcomes[1]
    assert not duplicate.ok and duplicate.error_code == ErrorCode.DESTINATION_CONSTRAINT_VIOLATION
    assert (
        duplicate.status == 409 and "Contact already exists" in duplicate.message and not duplicate.retryable
    )
    assert len(fake.records["contacts"]) == 3


def test_update_by_record_id_and_by_unique_property(fake, hubspot):
    created = hubspot.write(
        "contacts", "insert", batch({"email": "a@example.com", "external_id": "X1"}), match_key=None
    )
    record_id = created.outcomes[0].record_id
    by_id = hubspot.write(
        "contacts", "update", batch({"hs_object_id": record_id, "firstname": "Ada"}), match_key="hs_object_id"
    )
    assert by_id.outcomes[0].ok and by_id.outcomes[0].record_id == record_id
    sent = inputs_of(fake.writes("batch/update")[0])[0]
    assert sent["id"] == record_id and "idProperty" not in sent and "hs_object_id" not in sent["properties"]
    by_key = hubspot.write(
        "contacts", "update", batch({"external_id": "X1", "lastname": "Lovelace"}), match_key="external_id"
    )
    assert by_key.outcomes[0].ok
    assert fake.records["contacts"][record_id]["properties"]["lastname"] == "Lovelace"


def test_update_of_a_missing_record_is_rejected_for_that_record(fake, hubspot):
    hubspot.write(
        "contacts", "insert", batch({"email": "a@example.com", "external_id": "X1"}), match_key=None
    )
    result = hubspot.write(
        "contacts",
        "update",
        batch({"external_id": "X1", "firstname": "A"}, {"external_id": "NOPE", "firstname": "B"}),
        match_key="external_id",
    )
    assert result.outcomes[0].ok
    missing = result.outcomes[1]
    assert not missing.ok and missing.error_code == ErrorCode.DESTINATION_REJECTED and missing.status == 404
    assert "NOPE" in missing.message
    assert len(fake.records["contacts"]) == 1  # update never creates


def test_delete_by_record_id_archives(fake, hubspot):
    created = hubspot.write("contacts", "insert", batch({"email": "a@example.com"}), match_key=None)
    record_id = created.outcomes[0].record_id
    result = hubspot.write(
        "contacts",
        "delete",
        batch({"hs_object_id": record_id}, {"hs_object_id": "999999"}),
        match_key="hs_object_id",
    )
    assert [o.ok for o in result.outcomes] == [True, True] and result.requests == 1
    assert fake.records["contacts"] == {}
    assert inputs_of(fake.writes("batch/archive")[0]) == [{"id": record_id}, {"id": "999999"}]


def test_delete_by_email_reads_the_ids_first_and_skips_absent_keys(fake, hubspot):
    hubspot.write(
        "contacts", "insert", batch({"email": "a@example.com"}, {"email": "b@example.com"}), match_key=None
    )
    keep = fake.find("contacts", "email", "b@example.com")
    result = hubspot.write(
        "contacts",
        "delete",
        batch({"email": "A@example.com"}, {"email": "gone@example.com"}),
        match_key="email",
    )
    assert [o.ok for o in result.outcomes] == [True, True] and result.requests == 2
    assert result.outcomes[1].record_id is None  # nothing to archive: already what a delete wants
    assert list(fake.records["contacts"].values()) == [keep]
    read = orjson.loads(fake.writes("batch/read")[0].body)
    assert read["idProperty"] == "email" and read["properties"] == ["email"]


def test_mirror_called_directly_means_upsert(fake, hubspot):
    result = hubspot.write("contacts", "mirror", batch({"email": "m@example.com"}), match_key="email")
    assert result.outcomes[0].ok and fake.writes("batch/upsert")


def test_upsert_by_record_id_is_refused_without_a_request(fake, hubspot):
    with pytest.raises(ConnectorError) as raised:
        hubspot.write("contacts", "upsert", batch({"hs_object_id": "1"}), match_key="hs_object_id")
    assert raised.value.code == ErrorCode.DESTINATION_REJECTED and "update mode" in raised.value.message
    assert not fake.writes()


def test_upsert_by_a_non_unique_property_fails_every_record_with_hubspots_message(hubspot):
    result = hubspot.write(
        "contacts", "upsert", batch({"firstname": "A"}, {"firstname": "B"}), match_key="firstname"
    )
    assert not any(o.ok for o in result.outcomes)
    assert all("not a unique identifier" in o.message and o.status == 400 for o in result.outcomes)


def test_a_record_without_key_value_fails_alone(fake, hubspot):
    result = hubspot.write(
        "contacts",
        "upsert",
        batch({"email": None, "firstname": "A"}, {"email": "b@example.com"}),
        match_key="email",
    )
    assert result.outcomes[0].error_code == ErrorCode.VALIDATION_FAILED and result.outcomes[1].ok
    assert len(inputs_of(fake.writes()[0])) == 1


def test_batches_over_100_records_are_split(fake, hubspot):
    records = [{"email": f"u{i}@example.com", "firstname": f"U{i}"} for i in range(250)]
    records[120]["lifecyclestage"] = "bogus"
    result = hubspot.write("contacts", "upsert", OutgoingBatch.of(records), match_key="email")
    assert result.requests == 3
    assert [len(inputs_of(r)) for r in fake.writes("batch/upsert")] == [100, 100, 50]
    assert [o.index for o in result.outcomes] == list(range(250))
    assert [i for i, o in enumerate(result.outcomes) if not o.ok] == [120]
    assert len(fake.records["contacts"]) == 249


def test_the_fake_refuses_more_than_100_inputs_like_hubspot(fake, hubspot):
    response = hubspot.request(
        "POST",
        "/crm/v3/objects/contacts/batch/create",
        json={"inputs": [{"properties": {"email": f"x{i}@example.com"}} for i in range(101)]},
        accept=(400,),
    )
    body = response.json()
    assert (
        response.status_code == 400 and body["category"] == "VALIDATION_ERROR" and body["status"] == "error"
    )
    assert fake.records["contacts"] == {}


def test_custom_objects_are_written_by_type_id(fake, hubspot):
    schema = fake.add_custom_object(
        "car", [prop("vin", "string", "text", "unique"), prop("year", "number", "number")], required=["vin"]
    )
    result = hubspot.write(
        "car", "upsert", batch({"vin": "V1", "year": 2020}, {"vin": "V2", "year": "soon"}), match_key="vin"
    )
    assert fake.writes()[0].path == f"/crm/v3/objects/{schema['objectTypeId']}/batch/upsert"
    assert result.outcomes[0].ok and fake.find("car", "vin", "V1")["properties"]["year"] == "2020"
    assert not result.outcomes[1].ok and "year: soon is not a valid number" in result.outcomes[1].message


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (True, "true"),
        (False, "false"),
        (7, "7"),
        (1e20, "100000000000000000000"),
        (1e-7, "0.0000001"),
        (2.5, "2.5"),
        ({"a": 1}, '{"a":1}'),
        ("x", "x"),
    ],
)
def test_values_become_hubspot_property_strings(value, text):
    assert hubspot_value(value) == text
