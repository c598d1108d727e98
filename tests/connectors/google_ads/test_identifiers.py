"""Normalisation and hashing against Google's documented examples.

Examples come from https://developers.google.com/data-manager/api/devguides/concepts/formatting
(gmail rule, (800)555-0100 -> +18005550100) and Google's Customer Match code example
(https://developers.google.com/google-ads/api/docs/remarketing/audience-segments/customer-match/get-started:
dana@example.com, +1 800 5550101, alex.2@example.com / Alex / Quinn / US / 94045). The digests are
literal (computed once with ``sha256sum``), so a change in how values are encoded or hashed fails.
"""

import pytest

from apps.connectors.destinations.google_ads.identifiers import (
    InvalidIdentifier,
    hash_email,
    hash_name,
    hash_phone,
    normalize_country,
    normalize_email,
    normalize_name,
    normalize_postal_code,
    user_identifiers,
)
from apps.connectors.destinations.google_ads.phones import PhoneError, to_e164
from apps.connectors.pii import sha256_hex

DANA = "07e2f1394b0ea80e2adca010ea8318df697001a005ba7452720edda4b0ce57b3"  # dana@example.com
CLOUDY = "223ebda6f6889b1494551ba902d9d381daf2f642bae055888e96343d53e9f9c4"  # cloudysanfrancisco@gmail.com
PHONE_800 = "fb4f73a6ec5fdb7077d564cdd22c3554b43ce49168550c3b12c547b78c517b30"  # +18005550100
ALEX = "4135aa9dc1b842a653dea846903ddb95bfb8c5a10c504a7fa16e10bc31d1fdf0"  # alex
QUINN = "c512ca0c5c1e71be19f3356821e56732b5fb3ac894b0dbc5846d0b6920106fb3"  # quinn


# --- email ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("cloudy.sanfrancisco+shopping@gmail.com", "cloudysanfrancisco@gmail.com"),  # Google's example
        ("user.name+NYC@Example.com", "user.name+nyc@example.com"),  # Google's example: kept
        ("Cloudy.SanFrancisco@GoogleMail.com", "cloudysanfrancisco@googlemail.com"),
        ("  Dana@Example.com\t", "dana@example.com"),
        ("dana @example.com", "dana@example.com"),  # intermediate whitespace removed too
        ("alex.2@example.com", "alex.2@example.com"),  # a dot before a non-gmail domain stays
    ],
)
def test_email_normalisation_follows_google(raw, normalised):
    assert normalize_email(raw) == normalised


def test_email_digests_are_lower_hex_sha256_of_the_normalised_text():
    assert hash_email(" DANA@example.com ") == DANA
    assert hash_email("cloudy.sanfrancisco+shopping@gmail.com") == CLOUDY


@pytest.mark.parametrize("raw", ["broken@@", "not-an-email", "a@b", "two@at@example.com", "+tag@gmail.com"])
def test_invalid_emails_are_refused(raw):
    with pytest.raises(InvalidIdentifier) as raised:
        hash_email(raw)
    assert raised.value.field == "email" and "email" in str(raised.value)


def test_already_hashed_values_pass_through_lower_cased():
    assert hash_email(DANA.upper()) == DANA
    assert hash_phone(f"  {PHONE_800}  ") == PHONE_800
    assert hash_name(ALEX.upper()) == ALEX


# --- phone ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("(800)555-0100", "US", "+18005550100"),  # Google's example
        ("+1 800 5550101", None, "+18005550101"),  # Google's code example
        ("1-800-555-0100", "US", "+18005550100"),  # NANP trunk 1
        ("800.555.0100 ext. 12", "US", "+18005550100"),  # extensions cannot match: dropped
        ("020 7946 0018", "GB", "+442079460018"),  # trunk 0 dropped
        ("+44 (0)20 7946 0018", None, "+442079460018"),  # trunk printed inside the international form
        ("0044 20 7946 0018", None, "+442079460018"),
        ("011 44 20 7946 0018", "US", "+442079460018"),
        ("06 6982 1234", "IT", "+390669821234"),  # Italy keeps its leading 0
        ("030 1234567", "DE", "+49301234567"),
    ],
)
def test_phones_become_e164(raw, region, e164):
    assert to_e164(raw, region) == e164


def test_phone_digest_is_sha256_of_e164():
    assert hash_phone("(800)555-0100", "US") == PHONE_800


@pytest.mark.parametrize(
    ("raw", "region", "reason"),
    [
        ("555-0100", None, "default_phone_country"),  # national, no country known
        ("call me", "US", "not a phone number"),
        ("+0 123 456 789", None, "E.164"),
        ("+1 234", None, "E.164"),
        ("555 0100 12", "US", "10 digits"),
    ],
)
def test_phones_that_cannot_become_e164_are_refused(raw, region, reason):
    with pytest.raises(PhoneError) as raised:
        to_e164(raw, region)
    assert reason in str(raised.value)
    with pytest.raises(InvalidIdentifier):
        hash_phone(raw, region)


# --- names and address ---------------------------------------------------------------------------
def test_names_are_lower_cased_trimmed_and_hashed():
    assert hash_name(" Alex ") == ALEX and hash_name("QUINN", last=True) == QUINN
    assert normalize_name("  Mary   Ann ") == "mary ann"
    assert normalize_name("Zoë") == "zoë"  # accents are part of the name


def test_prefixes_and_suffixes_are_dropped_as_google_asks():
    assert normalize_name("Mrs. Jane") == "jane" and normalize_name("Dr John") == "john"
    assert normalize_name("Smith Jr.", last=True) == "smith"
    assert normalize_name("Smith, III", last=True) == "smith"
    assert normalize_name("Ms") == "ms"  # nothing after it: a name, not a prefix
    assert normalize_name("Jr.", last=True) == "jr."


def test_country_and_postal_code_are_checked_not_hashed():
    assert normalize_country(" us ") == "US"
    with pytest.raises(InvalidIdentifier):
        normalize_country("USA")
    assert normalize_postal_code("94045-1234", "US") == "94045-1234"
    assert normalize_postal_code("WC2H  8LG", "GB") == "WC2H 8LG"
    with pytest.raises(InvalidIdentifier):
        normalize_postal_code("9404", "US")


# --- whole records -------------------------------------------------------------------------------
def test_googles_example_record_gives_email_phone_and_address_identifiers():
    record = {
        "email": "alex.2@example.com",
        "first_name": "Alex",
        "last_name": "Quinn",
        "country_code": "US",
        "postal_code": 94045,  # numbers from the warehouse are text to Google
        "phone": "+1 800 5550102",
    }
    assert user_identifiers(record, "CONTACT_INFO") == [
        {"hashedEmail": sha256_hex("alex.2@example.com")},
        {"hashedPhoneNumber": sha256_hex("+18005550102")},
        {
            "addressInfo": {
                "hashedFirstName": ALEX,
                "hashedLastName": QUINN,
                "countryCode": "US",
                "postalCode": "94045",
            }
        },
    ]


def test_an_incomplete_address_is_left_out_when_another_identifier_exists():
    record = {"email": "dana@example.com", "first_name": "Dana", "last_name": None, "country_code": "US"}
    assert user_identifiers(record, "CONTACT_INFO") == [{"hashedEmail": DANA}]


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"first_name": "Dana", "country_code": "US"}, "missing last_name, postal_code"),
        ({"email": None, "phone": ""}, "no email, phone or address"),
        ({"email": "dana@example.com", "phone": "call me"}, "phone:"),  # one bad value fails the record
    ],
)
def test_records_without_a_usable_identifier_are_refused(record, reason):
    with pytest.raises(InvalidIdentifier) as raised:
        user_identifiers(record, "CONTACT_INFO", "US")
    assert reason in str(raised.value)


def test_crm_ids_and_mobile_ids_are_sent_as_they_are():
    assert user_identifiers({"third_party_user_id": " C-0042 "}, "CRM_ID") == [{"thirdPartyUserId": "C-0042"}]
    idfa = "6D92078A-8246-4BA4-AE5B-76104861E7DC"
    assert user_identifiers({"mobile_id": idfa}, "MOBILE_ADVERTISING_ID") == [{"mobileId": idfa}]
    with pytest.raises(InvalidIdentifier, match="advertising ID"):
        user_identifiers({"mobile_id": "not-an-idfa"}, "MOBILE_ADVERTISING_ID")
    with pytest.raises(InvalidIdentifier, match="third_party_user_id"):
        user_identifiers({"third_party_user_id": None}, "CRM_ID")
