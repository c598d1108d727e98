"""HubSpot's objects, properties and custom object schemas as Syncline's catalog; the check."""

from __future__ import annotations

import socket

import pytest

from apps.connectors.base import WRITE_MODES, ConnectorError, ErrorCode
from tests.fakes.hubspot import FakeHubSpot, prop


def test_standard_and_custom_objects_are_listed(fake, hubspot):
    fake.add_custom_object("car", [prop("vin", "string", "text", "unique")])
    objects = {o.name: o for o in hubspot.list_objects()}
    assert list(objects) == ["contacts", "companies", "deals", "tickets", "car"]
    assert objects["car"].custom and objects["car"].label == "Cars"
    assert not objects["contacts"].custom and objects["deals"].label == "Deals"
    assert all(o.supported_modes == WRITE_MODES for o in objects.values())


def test_custom_objects_need_a_scope_but_their_absence_is_not_an_error(connect):
    with FakeHubSpot(schemas_denied=True) as denied:
        destination = connect(base_url=denied.url)
        assert [o.name for o in destination.list_objects()] == ["contacts", "companies", "deals", "tickets"]


def test_a_bad_token_fails_the_listing_as_auth_failed(connect):
    with pytest.raises(ConnectorError) as raised:
        connect(access_token="pat-na1-nope").list_objects()
    assert raised.value.code == ErrorCode.AUTH_FAILED and raised.value.status == 401
    assert "Authentication credentials not found" in raised.value.message


def test_property_types_map_to_field_types(hubspot):
    fields = {f.name: f for f in hubspot.list_fields("contacts")}
    assert fields["email"].type == "email" and fields["email"].identifier
    assert fields["phone"].type == "phone"  # string + phonenumber field
    assert fields["mobilephone"].type == "phone"  # phone_number type
    assert fields["date_of_birth"].type == "date" and fields["createdate"].type == "datetime"
    assert fields["hs_email_optout"].type == "boolean"
    lifecycle = fields["lifecyclestage"]
    assert lifecycle.type == "enum" and lifecycle.enum_values == (
        "subscriber",
        "lead",
        "opportunity",
        "customer",
    )
    # Multiple checkboxes take "a;b" and owners come from elsewhere: neither is a closed enum.
    assert fields["hs_buying_role"].type == "string" and fields["hs_buying_role"].enum_values is None
    assert fields["hubspot_owner_id"].type == "string"
    assert fields["firstname"].type == "string" and fields["firstname"].max_length == 65_536


def test_read_only_unique_and_record_id_properties(hubspot):
    fields = {f.name: f for f in hubspot.list_fields("contacts")}
    assert not fields["createdate"].createable and not fields["createdate"].updateable  # readOnlyValue
    assert not fields["hubspotscore"].updateable  # calculated
    assert fields["external_id"].identifier and fields["external_id"].createable  # hasUniqueValue
    record_id = fields["hs_object_id"]
    assert record_id.identifier and record_id.type == "string" and not record_id.createable
    assert not fields["firstname"].identifier


def test_required_properties_follow_hubspots_documentation(hubspot):
    deals = {f.name: f for f in hubspot.list_fields("deals")}
    assert {n for n, f in deals.items() if f.required} == {"dealname", "dealstage", "pipeline"}
    tickets = {f.name: f for f in hubspot.list_fields("tickets")}
    assert {n for n, f in tickets.items() if f.required} == {"subject", "hs_pipeline", "hs_pipeline_stage"}
    contacts = hubspot.list_fields("contacts")
    assert not any(f.required for f in contacts)
    # email is only an identifier on contacts; companies' domain is not unique in HubSpot
    companies = {f.name: f for f in hubspot.list_fields("companies")}
    assert not companies["domain"].identifier


def test_custom_object_fields_come_from_its_type_id(fake, hubspot):
    schema = fake.add_custom_object(
        "car",
        [prop("vin", "string", "text", "unique"), prop("year", "number", "number"), prop("model")],
        required=["vin", "model"],
    )
    fields = {f.name: f for f in hubspot.list_fields("car")}
    assert fields["vin"].identifier and fields["vin"].required and fields["model"].required
    assert fields["year"].type == "number" and not fields["year"].required
    assert fake.requests[-1].path == f"/crm/v3/properties/{schema['objectTypeId']}"


def test_unknown_objects_are_schema_drift(hubspot):
    with pytest.raises(ConnectorError) as raised:
        hubspot.list_fields("spaceships")
    assert raised.value.code == ErrorCode.SCHEMA_DRIFT and "spaceships" in raised.value.message


def test_check_accepts_a_good_token(fake, hubspot):
    result = hubspot.check()
    assert result.ok and fake.url in result.message
    assert fake.requests[-1].path == "/crm/v3/objects/contacts" and fake.requests[-1].param("limit") == "1"


def test_check_explains_a_bad_token(connect):
    result = connect(access_token="pat-na1-revoked").check()
    assert not result.ok and "refused the access token" in result.message
    assert "pat-na1-revoked" not in result.message


def test_check_passes_with_some_scopes_and_fails_without_any(connect):
    with FakeHubSpot(denied={"contacts", "companies"}) as partial:
        result = connect(base_url=partial.url).check()
        assert result.ok and "no read access to 2" in result.message
    with FakeHubSpot(denied={"contacts", "companies", "deals", "tickets"}) as none:
        result = connect(base_url=none.url).check()
        assert not result.ok and "lacks the scopes" in result.message
        assert "crm.objects.contacts" in result.message  # HubSpot's required scopes are quoted


def test_check_reports_an_unreachable_host(connect):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = connect(base_url=f"http://127.0.0.1:{port}", timeout_seconds=2).check()
    assert not result.ok and "not reachable" in result.message


def test_config_keeps_the_token_secret_and_defaults_to_hubapi(connect):
    destination = connect(base_url=None)
    public, secrets = destination.config.split()
    assert "access_token" not in public and secrets == {
        "access_token": destination.config.access_token.get_secret_value()
    }
    assert destination.base_url == "https://api.hubapi.com"
    assert destination.rate_limit() == (9.0, 10) and destination.max_batch_size == 100
    assert connect(rate_limit_per_second=19).rate_limit() == (19, 19)


def test_check_reports_an_error_answer(fake, connect):
    result = connect(base_url=f"{fake.url}/not-hubspot").check()
    assert not result.ok and "answered the check with an error" in result.message and "404" in result.message
