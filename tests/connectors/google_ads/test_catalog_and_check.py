"""Config, catalog (one object per CRM-based list) and check, against the fake Google Ads API."""

import pytest

from apps.connectors.base import ConnectorError, ErrorCode
from apps.connectors.destinations.google_ads import GoogleAdsDestination
from apps.connectors.registry import ConfigError, parse_config
from tests.connectors.google_ads.conftest import config_for
from tests.fakes.google_ads import FakeGoogleAds

# --- config --------------------------------------------------------------------------------------
OFFLINE = FakeGoogleAds()  # never started: only its credentials are used


def settings_for(**overrides):
    return {**config_for(OFFLINE, base_url=None, token_url="https://oauth2.example/token"), **overrides}


def test_config_normalises_ids_and_marks_the_secrets():
    fake = OFFLINE
    config = parse_config("destination", "google_ads", settings_for(login_customer_id="987 654 3210"))
    assert config.customer_id == "1234567890" and config.login_customer_id == "9876543210"
    assert config.api_version == "v26" and config.token_url.endswith("/token")
    assert set(config.secret_field_names()) == {"developer_token", "client_secret", "refresh_token"}
    public, secrets = config.split()
    assert fake.refresh_token not in str(public) and secrets["refresh_token"] == fake.refresh_token


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"customer_id": "123-456-789"}, "customer_id"),
        ({"login_customer_id": "abc"}, "login_customer_id"),
        ({"api_version": "latest"}, "api_version"),
        ({"default_phone_country": "AQ"}, "default_phone_country"),
        ({"ad_user_data_consent": "YES"}, "ad_user_data_consent"),
        ({"token_url": "ftp://example.com/token"}, "token_url"),
    ],
)
def test_bad_settings_are_refused_with_the_field_named(override, field):
    with pytest.raises(ConfigError) as raised:
        parse_config("destination", "google_ads", settings_for(**override))
    assert field in raised.value.details


# --- catalog -------------------------------------------------------------------------------------
def test_each_crm_based_list_is_an_object_with_fields_for_its_upload_key(fake, make):
    contacts = fake.add_user_list("Newsletter subscribers")
    crm = fake.add_user_list("Loyalty members", "CRM_ID")
    mobile = fake.add_user_list("App users", "MOBILE_ADVERTISING_ID")
    fake.add_user_list("Site visitors", type="RULE_BASED")
    destination = make()
    objects = {o.name: o for o in destination.list_objects()}
    assert set(objects) == {contacts, crm, mobile}
    assert objects[contacts].label == "Newsletter subscribers"
    assert objects[contacts].supported_modes == ("add", "remove", "mirror")
    fields = {f.name: f for f in destination.list_fields(contacts)}
    assert list(fields) == ["email", "phone", "first_name", "last_name", "country_code", "postal_code"]
    assert [n for n, f in fields.items() if f.identifier] == ["email", "phone"]
    assert fields["email"].type == "string"  # takes SHA-256 digests too
    assert [f.name for f in destination.list_fields(crm)] == ["third_party_user_id"]
    assert [f.name for f in destination.list_fields(mobile)] == ["mobile_id"]
    assert destination.get_object("404") is None


def test_catalog_follows_pages_and_is_read_once(fake, make):
    fake.page_size = 2
    ids = {fake.add_user_list(f"List {i}") for i in range(5)}
    destination = make()
    assert {o.name for o in destination.list_objects()} == ids
    searches = len(fake.requests) - fake.token_requests
    assert searches == 3  # 5 rows in pages of 2
    destination.list_fields(next(iter(ids)))
    assert len(fake.requests) - fake.token_requests == 3  # cached


def test_an_unknown_list_is_schema_drift(make, contacts):
    with pytest.raises(ConnectorError) as raised:
        make().list_fields("999")
    assert raised.value.code == ErrorCode.SCHEMA_DRIFT and "999" in raised.value.message


# --- check ---------------------------------------------------------------------------------------
def test_check_connects_and_counts_the_lists(fake, make, contacts):
    result = make().check()
    assert result.ok and "1234567890" in result.message and "1 Customer Match list" in result.message
    sent = fake.requests[-1]
    assert sent.path == "/v26/customers/1234567890/googleAds:search"
    assert sent.header("authorization").startswith("Bearer ya29.fake-")
    assert sent.header("developer-token") is None and sent.header("login-customer-id") is None


def test_check_on_an_account_without_lists_says_what_to_do(make):
    result = make().check()
    assert result.ok and "no Customer Match list yet" in result.message


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ({"refresh_token": "1//revoked"}, "invalid_grant"),
        ({"client_secret": "wrong-secret"}, "invalid_client"),
        ({"customer_id": "111-111-1111"}, "USER_PERMISSION_DENIED"),
        ({"api_version": "v19"}, "v19 is not available"),
    ],
)
def test_check_explains_what_is_wrong(make, override, expected):
    result = make(**override).check()
    assert not result.ok and expected in result.message


def test_check_through_a_manager_account_needs_login_customer_id():
    with FakeGoogleAds(manager_id="5550001111") as fake:
        without = GoogleAdsDestination(parse_config("destination", "google_ads", config_for(fake))).check()
        assert not without.ok and "set login_customer_id" in without.message
        config = config_for(fake, login_customer_id="555-000-1111")
        with_manager = GoogleAdsDestination(parse_config("destination", "google_ads", config)).check()
        assert with_manager.ok and "through manager 5550001111" in with_manager.message
        assert fake.requests[-1].header("login-customer-id") == "5550001111"


def test_a_legacy_developer_token_is_sent_and_a_wrong_one_explained():
    with FakeGoogleAds(developer_token="DEVTOKEN-legacy-0001") as fake:

        def check(token):
            config = parse_config("destination", "google_ads", config_for(fake, developer_token=token))
            return GoogleAdsDestination(config).check()

        assert check("DEVTOKEN-legacy-0001").ok
        assert fake.requests[-1].header("developer-token") == "DEVTOKEN-legacy-0001"
        wrong = check("DEVTOKEN-wrong-0002")
        assert not wrong.ok and "DEVELOPER_TOKEN_INVALID" in wrong.message and "sunset" in wrong.message
        assert "DEVTOKEN-wrong-0002" not in wrong.message
