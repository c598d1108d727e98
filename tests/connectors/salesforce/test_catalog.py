"""The catalog: describe results mapped to objects with their modes and typed fields."""

from __future__ import annotations

import pytest

from apps.connectors.base import ConnectorError, ErrorCode
from apps.connectors.destinations.salesforce.catalog import field_spec, object_modes
from tests.fakes.salesforce import OBJECTS


def describe_paths(org) -> list[str]:
    return [r.path for r in org.requests if "/sobjects" in r.path]


def test_objects_are_the_writable_ones_with_the_modes_their_describe_allows(org, sf):
    objects = {o.name: o for o in sf.list_objects()}
    assert set(objects) == {"Account", "Contact", "Lead", "Order_Placed__e", "Subscription__c"}
    assert objects["Contact"].supported_modes == ("upsert", "insert", "update", "delete", "mirror")
    assert objects["Order_Placed__e"].supported_modes == ("insert",)  # a platform event
    assert objects["Subscription__c"].custom and not objects["Contact"].custom
    assert objects["Subscription__c"].label == "Subscription"
    assert not any(o.freeform_fields for o in objects.values())


def test_get_object_reads_one_describe_and_caches_it(org, sf):
    contact = sf.get_object("Contact")
    assert contact is not None and "mirror" in contact.supported_modes
    assert sf.list_fields("Contact")
    assert describe_paths(org) == ["/services/data/v62.0/sobjects/Contact/describe"]


@pytest.mark.parametrize("name", ["Nope__c", "Contact; DELETE", ""])
def test_unknown_or_malformed_objects_are_not_found(org, sf, name):
    assert sf.get_object(name) is None
    with pytest.raises(ConnectorError) as raised:
        sf.list_fields(name)
    assert raised.value.code == ErrorCode.SCHEMA_DRIFT
    assert all("DELETE" not in p for p in describe_paths(org))


def test_read_only_objects_are_not_offered(sf):
    assert sf.get_object("AccountHistory") is None
    assert [f.name for f in sf.list_fields("AccountHistory")][-1] == "Field"  # described, not writable


def test_contact_fields(sf):
    fields = {f.name: f for f in sf.list_fields("Contact")}
    last = fields["LastName"]
    assert (last.type, last.required, last.max_length, last.label) == ("string", True, 80, "Last Name")
    assert fields["Email"].type == "email" and fields["Email"].identifier  # idLookup
    assert fields["Email"].max_length == 80 and not fields["Email"].required
    assert fields["Phone"].type == "phone"
    external = fields["External_Id__c"]
    assert external.identifier and external.createable and external.updateable
    record_id = fields["Id"]
    assert record_id.identifier and not (record_id.createable or record_id.updateable or record_id.required)
    assert fields["Name"].createable is False and fields["Name"].updateable is False
    # Not nillable, but Salesforce supplies a default: not required.
    assert fields["HasOptedOutOfEmail"].type == "boolean" and not fields["HasOptedOutOfEmail"].required
    assert fields["LeadSource"].type == "enum"
    assert fields["LeadSource"].enum_values == ("Web", "Phone Inquiry", "Partner Referral", "Other")
    assert fields["Interests__c"].type == "string"  # multipicklist: values joined with ';'
    assert fields["Score__c"].type == "number"
    assert fields["Birthdate"].type == "date" and fields["Last_Seen__c"].type == "datetime"
    assert fields["AccountId"].type == "string" and fields["AccountId"].max_length == 18  # reference
    assert fields["CreatedDate"].type == "datetime" and not fields["CreatedDate"].createable
    assert not [n for n, f in fields.items() if f.identifier and n not in ("Id", "Email", "External_Id__c")]


def test_other_objects_fields(sf):
    account = {f.name: f for f in sf.list_fields("Account")}
    assert "BillingAddress" not in account  # compound address: not writable as one value
    assert account["Industry"].type == "string"  # unrestricted picklist: any value is accepted
    assert account["AnnualRevenue"].type == "number" and account["NumberOfEmployees"].type == "integer"
    assert account["Website"].type == "string" and account["Website"].max_length == 255  # url
    lead = {f.name: f for f in sf.list_fields("Lead")}
    assert lead["Status"].type == "enum" and not lead["Status"].required
    assert lead["Company"].required
    subscription = {f.name: f for f in sf.list_fields("Subscription__c")}
    assert subscription["Plan__c"].enum_values == ("Free", "Pro", "Enterprise")
    assert subscription["External_Id__c"].identifier and subscription["Seats__c"].type == "number"


def test_every_fake_field_maps_to_a_valid_spec_or_is_left_out():
    kinds = set()
    for spec in OBJECTS.values():
        for field in spec["fields"]:
            mapped = field_spec(field)
            kinds.add(field["type"])
            assert (mapped is None) == (field["type"] == "address"), field["name"]
    assert {"picklist", "multipicklist", "reference", "currency", "int", "id", "textarea", "url"} <= kinds


def test_field_mapping_edge_cases():
    base = {"name": "X__c", "label": "X", "createable": True, "updateable": True, "nillable": True}
    restricted_without_active_values = {
        **base,
        "type": "picklist",
        "restrictedPicklist": True,
        "picklistValues": [{"value": "Old", "active": False}],
    }
    assert field_spec(restricted_without_active_values).type == "string"  # type: ignore[union-attr]
    assert field_spec({**base, "type": "string", "deprecatedAndHidden": True}) is None
    assert field_spec({**base, "type": "base64"}) is None
    percent = field_spec({**base, "type": "percent", "nillable": False, "length": 0})
    assert (
        percent is not None and percent.type == "number" and percent.required and percent.max_length is None
    )
    read_only = field_spec({**base, "type": "long", "nillable": False, "createable": False})
    assert read_only is not None and read_only.type == "integer" and not read_only.required


def test_object_modes():
    assert object_modes(createable=True, updateable=False, deletable=True) == ("insert", "delete")
    assert object_modes(createable=False, updateable=True, deletable=False) == ("update",)
    assert object_modes(createable=True, updateable=True, deletable=False) == ("upsert", "insert", "update")
