"""Iterable's config, check and catalog, against the fake project."""

import pytest

from apps.connectors.base import ConnectorError, ErrorCode
from apps.connectors.destinations.iterable import IterableDestination
from apps.connectors.registry import ConfigError, destination_class, parse_config
from tests.connectors.iterable.conftest import make_destination
from tests.fakes.iterable import API_KEY


def test_registered_with_the_api_key_as_its_only_secret():
    assert destination_class("iterable") is IterableDestination
    config = parse_config("destination", "iterable", {"api_key": API_KEY})
    public, secrets = config.split()
    assert secrets == {"api_key": API_KEY} and API_KEY not in str(public)
    destination = IterableDestination(config)
    assert destination.base_url == "https://api.iterable.com"
    assert destination.auth_headers() == {"Api-Key": API_KEY}
    assert destination.rate_limit() == (5.0, 5)  # bulkUpdate's documented 5 requests/second
    eu = parse_config(
        "destination", "iterable", {"api_key": API_KEY, "base_url": "https://api.eu.iterable.com/"}
    )
    assert IterableDestination(eu).base_url == "https://api.eu.iterable.com"
    with pytest.raises(ConfigError) as bad:
        parse_config("destination", "iterable", {"api_key": API_KEY, "base_url": "ftp://api.iterable.com"})
    assert "base_url" in bad.value.details
    with pytest.raises(ConfigError) as missing:
        parse_config("destination", "iterable", {})
    assert "api_key" in missing.value.details


def test_check_reads_the_lists_and_explains_a_refused_key(fake, iterable):
    good = iterable.check()
    assert good.ok and "4 lists" in good.message
    assert fake.requests[-1].path == "/api/lists" and fake.requests[-1].header("Api-Key") == API_KEY
    bad = make_destination(fake, api_key="itbl-someone-elses-key").check()
    assert not bad.ok
    assert "BadApiKey" in bad.message and "Invalid API key" in bad.message
    assert "https://api.eu.iterable.com" in bad.message  # the usual cause: the other data center
    assert "itbl-someone-elses-key" not in bad.message


def test_objects_are_users_events_and_each_static_list(iterable):
    objects = {o.name: o for o in iterable.list_objects()}
    assert list(objects) == ["users", "events", "list:101", "list:102", "list:104"]  # 103 is dynamic
    assert objects["users"].supported_modes == ("upsert",) and objects["users"].freeform_fields
    assert objects["events"].supported_modes == ("insert",)
    assert objects["list:101"].label == "Newsletter" and objects["list:101"].custom
    assert objects["list:101"].supported_modes == ("add", "remove", "mirror")
    assert objects["list:104"].label == "Do not mail (suppression list)"


def test_users_and_events_are_known_without_a_request(fake, iterable):
    before = len(fake.requests)
    assert iterable.get_object("users").name == "users"
    assert iterable.get_object("events").name == "events"
    assert iterable.get_object("contacts") is None
    assert len(fake.requests) == before
    assert iterable.get_object("list:102").label == "VIP"
    assert iterable.get_object("list:103") is None and iterable.get_object("list:999") is None


def test_user_fields_come_from_the_project_with_iterable_types_mapped(fake, iterable):
    fields = {f.name: f for f in iterable.list_fields("users")}
    assert fields["email"].identifier and fields["email"].type == "email"
    assert fields["userId"].identifier and fields["userId"].type == "string"
    types = {name: fields[name].type for name in ("firstName", "score", "ltv", "vip", "birthday", "address")}
    assert types == {
        "firstName": "string",
        "score": "integer",
        "ltv": "number",
        "vip": "boolean",
        "birthday": "datetime",
        "address": "json",
    }
    assert fields["address.city"].type == "string" and fields["address.city"].label == "Address / City"
    assert fields["purchases"].type == "json" and "purchases.sku" not in fields  # inside an array
    for system in ("signupDate", "emailListIds", "itblInternal.emailDomain", "devices", "devices.token"):
        assert system not in fields
    fake.fields["tier"] = "geo_location"
    fake.fields["mystery"] = "somethingNew"
    refreshed = {f.name: f.type for f in iterable.list_fields("users")}
    assert refreshed["tier"] == "json" and refreshed["mystery"] == "string"


def test_event_and_list_fields(iterable):
    events = {f.name: f for f in iterable.list_fields("events")}
    assert events["eventName"].required and events["createdAt"].type == "datetime"
    assert events["id"].max_length == 512
    lists = {f.name: f for f in iterable.list_fields("list:101")}
    assert set(lists) == {"email", "userId"} and all(f.identifier for f in lists.values())
    with pytest.raises(ConnectorError) as unknown:
        iterable.list_fields("campaigns")
    assert unknown.value.code == ErrorCode.SCHEMA_DRIFT
