"""The Salesforce config: validation, secrets kept apart and merged back, base_url as an alias."""

from __future__ import annotations

import orjson
import pytest

from apps.connectors.destinations.salesforce.config import (
    DEFAULT_API_VERSION,
    DEFAULT_LOGIN_URL,
    RefreshTokenAuth,
    SalesforceConfig,
)
from apps.connectors.registry import ConfigError, all_connectors, parse_config

REFRESH = {
    "type": "refresh_token",
    "client_id": "key",
    "client_secret": "s3cret-a",
    "refresh_token": "r3fresh-b",
}
CLIENT = {"type": "client_credentials", "client_id": "key", "client_secret": "s3cret-a"}


def parse(**data) -> SalesforceConfig:
    return parse_config("destination", "salesforce", data)  # type: ignore[return-value]


def test_defaults_and_normalised_values():
    config = parse(auth=CLIENT, api_version="61.0", login_url="https://acme.my.salesforce.com/")
    assert config.api_version == "v61.0" and DEFAULT_API_VERSION.startswith("v")
    assert config.login_url == "https://acme.my.salesforce.com"
    assert parse(auth=CLIENT).login_url == DEFAULT_LOGIN_URL
    assert parse(auth=CLIENT).instance_url is None


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"auth": CLIENT, "api_version": "latest"}, "api_version"),
        ({"auth": CLIENT, "login_url": "ftp://login.salesforce.com"}, "login_url"),
        ({"auth": CLIENT, "instance_url": "https://user:pw@acme.my.salesforce.com"}, "instance_url"),
        ({"auth": {**REFRESH, "refresh_token": None}}, "auth.refresh_token.refresh_token"),
        (
            {"auth": {"type": "client_credentials", "client_id": "key"}},
            "auth.client_credentials.client_secret",
        ),
        ({"auth": {**CLIENT, "type": "password"}}, "auth"),
        ({"auth": CLIENT, "unknown": 1}, "unknown"),
    ],
)
def test_invalid_configs_name_the_field(data, field):
    with pytest.raises(ConfigError) as raised:
        parse(**data)
    assert field in raised.value.details, raised.value.details


def test_secrets_are_stored_apart_and_merge_back():
    config = parse(auth=REFRESH, instance_url="https://acme.my.salesforce.com")
    public, secrets = config.split()
    assert secrets == {"auth.client_secret": "s3cret-a", "auth.refresh_token": "r3fresh-b"}
    assert b"s3cret-a" not in orjson.dumps(public) and b"r3fresh-b" not in orjson.dumps(public)
    assert public["auth"] == {"type": "refresh_token", "client_id": "key"}
    merged = parse(**public, **secrets)
    assert merged.split() == (public, secrets)
    assert isinstance(merged.auth, RefreshTokenAuth)
    assert sorted(merged.secret_values()) == ["r3fresh-b", "s3cret-a"]


def test_a_resent_auth_keeps_stored_secrets_unless_it_brings_new_ones():
    public, secrets = parse(auth=REFRESH).split()
    kept = parse(**{**public, **secrets, "auth": {"type": "refresh_token", "client_id": "key2"}})
    assert kept.auth.client_id == "key2"
    assert kept.auth.refresh_token.get_secret_value() == "r3fresh-b"  # type: ignore[union-attr]
    replaced = parse(**{**public, **secrets, "auth": {**REFRESH, "refresh_token": "new-r"}})
    assert replaced.auth.refresh_token.get_secret_value() == "new-r"  # type: ignore[union-attr]
    # Switching flows takes only the secrets the new flow has.
    switched = parse(**{**public, **secrets, "auth": {"type": "client_credentials", "client_id": "key"}})
    assert switched.split()[1] == {"auth.client_secret": "s3cret-a"}


def test_client_secret_is_optional_for_the_refresh_token_flow():
    config = parse(auth={k: v for k, v in REFRESH.items() if k != "client_secret"})
    assert config.split()[1] == {"auth.refresh_token": "r3fresh-b"}


def test_base_url_is_an_alias_of_instance_url():
    assert parse(auth=CLIENT, base_url="https://acme.my.salesforce.com").instance_url == (
        "https://acme.my.salesforce.com"
    )
    same = parse(
        auth=CLIENT, base_url="https://a.my.salesforce.com", instance_url="https://a.my.salesforce.com"
    )
    assert same.instance_url == "https://a.my.salesforce.com"
    with pytest.raises(ConfigError, match="alias of instance_url"):
        parse(auth=CLIENT, base_url="https://a.my.salesforce.com", instance_url="https://b.my.salesforce.com")


def test_registered_with_its_secret_fields():
    info = next(i for i in all_connectors() if i.type == "salesforce")
    assert info.role == "destination" and info.label == "Salesforce"
    assert set(info.secret_fields) == {"auth.client_secret", "auth.refresh_token"}
