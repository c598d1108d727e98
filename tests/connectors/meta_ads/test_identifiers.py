"""Meta's normalisation and hashing rules, key by key, and whole records.

Rules from https://developers.facebook.com/docs/marketing-api/audiences/guides/custom-audiences#hash.
Digests are literal constants (computed once, outside the code under test), so a change in what is
hashed fails here even if the code and the test would agree with each other.
"""

from __future__ import annotations

import hashlib
from datetime import date

import pytest

from apps.connectors.destinations.meta_ads import identifiers as ids
from apps.connectors.destinations.meta_ads.identifiers import InvalidValue, prepare

# Meta's own examples: first name "John" and last name "Smith" normalise to john / smith.
JOHN = "96d9632f363564cc3032521409cf22a852f2032eec099ed5967c0d000cec607a"
SMITH = "6627835f988e2c5e50533d491163072d3f4f41f5c8b04630150debb3722ca2dd"
PHONE_16505551212 = "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176"
EMAIL_JOHNSMITH = "77c15cba88f92469128047a9abfce151e12bba6aea47d36b7388c3540880e291"  # johnsmith@example.com
US = "79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a904621"
CA = "6959097001d10501ac7d54c0bdb8db61420f658f2922cc26e46d536119a31126"
ZIP_94025 = "b9a9cf3cd3723a2e91b7c23ecf68456e872b6e5d86e5cab7f3d45a7302da32c7"
MENLOPARK = "0007a3d64c01e23d5075203c5977c14e4f7e01a3fc570686fcc50b5e1dd42685"
GEN_M = "62c66a7a5dd70c3146618063c344e531e6d4b59e379808443ce962b3abd63c5a"
YEAR_1990 = "a7be8e1fe282a37cd666e0632b17d933fa13f21addf4798fc0455bc166e2488c"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_meta_examples_hash_to_the_documented_digests():
    row = prepare(
        {
            "email": "  JohnSmith@Example.com ",
            "phone": "+1 (650) 555-1212",
            "fn": "John",
            "ln": "Smith",
            "gen": "Male",
            "doby": "1990",
            "ct": "Menlo Park",
            "st": "CA",
            "zip": "94025",
            "country": "US",
        }
    )
    assert row == {
        "EMAIL": EMAIL_JOHNSMITH,
        "PHONE": PHONE_16505551212,
        "FN": JOHN,
        "LN": SMITH,
        "GEN": GEN_M,
        "DOBY": YEAR_1990,
        "CT": MENLOPARK,
        "ST": CA,
        "ZIP": ZIP_94025,
        "COUNTRY": US,
    }


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("+1 (650) 555-1212", None, "16505551212"),
        ("1-650-555-1212", None, "16505551212"),
        ("0044 20 7946 0958", None, "442079460958"),  # leading zeros (international prefix) go
        ("+44 (0)20 7946 0958", None, "442079460958"),  # "(0)" is dialled at home only
        ("(650) 555-1212", "us", "16505551212"),  # a U.S. number gets its country code
        ("(650) 555-1212", None, "6505551212"),  # without a country nothing is guessed
    ],
)
def test_phone_is_digits_with_country_code_and_no_leading_zeros(raw, country, expected):
    assert ids.phone(raw, country) == expected


@pytest.mark.parametrize("raw", ["123", "call me", "1234567890123456"])
def test_phone_without_enough_or_with_too_many_digits_is_invalid(raw):
    with pytest.raises(InvalidValue, match=r"^phone: "):
        ids.phone(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  JOHN.Smith+tag@Example.COM\t", "john.smith+tag@example.com"),
        ("a@b.co", "a@b.co"),
    ],
)
def test_email_is_trimmed_and_lower_cased(raw, expected):
    assert ids.email(raw) == expected


@pytest.mark.parametrize("raw", ["broken@@", "no-at-sign.example.com", "a b@example.com"])
def test_not_an_email_is_invalid_and_says_why(raw):
    with pytest.raises(InvalidValue) as raised:
        ids.email(raw)
    assert str(raised.value) == f"email: '{raw}' is not an email address"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("John", "john"),
        ("  Mary-Jane  ", "maryjane"),
        ("O'Neil-Smith Jr.", "oneilsmithjr"),
        ("Valéry", "valéry"),  # UTF-8 special characters are kept
        ("Vale\u0301ry", "valéry"),  # decomposed input hashes like the composed form
        ("Zoë", "zoë"),
        ("Jürgen2", "jürgen"),
    ],
)
def test_names_are_lower_case_letters_only_keeping_utf8_letters(raw, expected):
    assert ids.name(raw) == expected
    assert ids.NORMALISERS["ln"](raw, None) == expected


def test_utf8_name_hash_is_of_its_utf8_bytes():
    assert prepare({"email": "a@b.co", "fn": "Valéry"})["FN"] == hashlib.sha256("valéry".encode()).hexdigest()


def test_name_without_letters_is_invalid():
    with pytest.raises(InvalidValue, match=r"^ln: '42' has no letters"):
        ids.NORMALISERS["ln"]("42", None)


def test_first_initial_is_the_first_letter():
    assert ids.first_initial("J.") == "j"
    assert ids.first_initial("Émile") == "é"


@pytest.mark.parametrize(("raw", "expected"), [("Male", "m"), ("m", "m"), (" F ", "f"), ("female", "f")])
def test_gender_is_m_or_f(raw, expected):
    assert ids.gender(raw) == expected


def test_other_gender_values_are_invalid():
    with pytest.raises(InvalidValue, match=r"^gen: 'x'"):
        ids.gender("x")


def test_birth_date_parts_are_zero_padded():
    assert ids.birth_year("1990") == "1990"
    assert ids.birth_month("5") == "05"
    assert ids.birth_day("07") == "07"
    assert ids.birth_date("1990-05-07") == ("1990", "05", "07")


@pytest.mark.parametrize(
    ("normaliser", "raw"),
    [
        (ids.birth_year, "90"),
        (ids.birth_year, "1899"),
        (ids.birth_year, str(date.today().year + 1)),
        (ids.birth_month, "13"),
        (ids.birth_month, "0"),
        (ids.birth_day, "32"),
        (ids.birth_day, "first"),
    ],
)
def test_birth_date_parts_out_of_range_are_invalid(normaliser, raw):
    with pytest.raises(InvalidValue):
        normaliser(raw)


def test_dob_fills_the_three_keys_and_explicit_ones_win():
    row = prepare({"email": "a@b.co", "dob": "1990-05-07"})
    assert (row["DOBY"], row["DOBM"], row["DOBD"]) == (YEAR_1990, sha("05"), sha("07"))
    row = prepare({"email": "a@b.co", "dob": "1990-05-07", "dobd": "9"})
    assert row["DOBD"] == sha("09") and row["DOBM"] == sha("05")
    with pytest.raises(InvalidValue, match=r"^dob: "):
        prepare({"email": "a@b.co", "dob": "07/05/1990"})


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Menlo Park", "menlopark"),
        ("São Paulo", "saopaulo"),
        ("St. Louis", "stlouis"),
        ("NEW YORK", "newyork"),
    ],
)
def test_city_is_lower_case_a_to_z_without_spaces(raw, expected):
    assert ids.city(raw) == expected


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("CA", "us", "ca"),
        ("California", "us", "ca"),
        ("New York", None, "ny"),
        ("Bavaria", "de", "bavaria"),
        ("Île-de-France", "fr", "iledefrance"),
    ],
)
def test_state_is_the_two_letter_us_code_or_letters_elsewhere(raw, country, expected):
    assert ids.state(raw, country) == expected


def test_unknown_us_state_is_invalid():
    with pytest.raises(InvalidValue, match=r"^st: 'Narnia' is not a U.S. state"):
        ids.state("Narnia", "us")


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("94025-1234", "us", "94025"),
        ("940251234", None, "94025"),
        ("2134", "us", "02134"),  # read from a number column
        ("SW1A 1AA", "gb", "sw1a1"),  # U.K.: area, district and sector
        ("K1A 0B1", "ca", "k1a0b1"),
        ("75008", "fr", "75008"),
    ],
)
def test_zip_is_lower_case_without_spaces_and_five_digits_in_the_us(raw, country, expected):
    assert ids.postal_code(raw, country) == expected


def test_non_us_zip_for_a_us_row_is_invalid():
    with pytest.raises(InvalidValue, match=r"^zip: 'SW1A 1AA' is not a U.S. zip code"):
        ids.postal_code("SW1A 1AA", "us")


@pytest.mark.parametrize(("raw", "expected"), [("US", "us"), ("usa", "us"), ("GBR", "gb"), ("uk", "gb")])
def test_country_is_iso_alpha_2_lower_case(raw, expected):
    assert ids.country_code(raw) == expected


@pytest.mark.parametrize("raw", ["ZZ", "United States of Nowhere", "1"])
def test_unknown_country_is_invalid(raw):
    with pytest.raises(InvalidValue, match=r"^country: "):
        ids.country_code(raw)


def test_madid_and_extern_id_are_not_hashed():
    row = prepare(
        {"madid": "AECE52E7-03EE-455A-B3C4-E57283966239", "extern_id": "  CRM-0042 ", "email": "a@b.co"}
    )
    assert row["MADID"] == "aece52e7-03ee-455a-b3c4-e57283966239"
    assert row["EXTERN_ID"] == "CRM-0042"
    unhyphenated = ids.mobile_advertiser_id("BEBE52E703EE455AB3C4E57283966239")
    assert unhyphenated == "bebe52e7-03ee-455a-b3c4-e57283966239"
    with pytest.raises(InvalidValue, match=r"^madid: "):
        ids.mobile_advertiser_id("not-a-device-id")


def test_already_hashed_values_pass_through_once():
    digest = sha("johnsmith@example.com")
    row = prepare({"email": digest.upper(), "phone": PHONE_16505551212, "country": US})
    assert row == {"EMAIL": digest, "PHONE": PHONE_16505551212, "COUNTRY": US}


def test_the_row_country_decides_phone_state_and_zip():
    row = prepare({"phone": "(650) 555-1212", "st": "California", "zip": "2134", "country": "USA"})
    assert row["PHONE"] == PHONE_16505551212
    assert row["ST"] == CA and row["ZIP"] == sha("02134")


def test_empty_values_are_left_out_and_numbers_are_read_as_text():
    row = prepare({"email": "a@b.co", "fn": None, "ln": "  ", "doby": 1990, "dobm": 5.0})
    assert set(row) == {"EMAIL", "DOBY", "DOBM"}
    assert row["DOBY"] == YEAR_1990 and row["DOBM"] == sha("05")


def test_a_record_needs_an_identifier():
    with pytest.raises(InvalidValue, match="no identifier Meta can match on"):
        prepare({"fn": "John", "ln": "Smith", "zip": "94025"})
    with pytest.raises(InvalidValue, match="no identifier"):
        prepare({"email": None})


def test_unknown_fields_and_the_first_bad_value_fail_the_record():
    with pytest.raises(InvalidValue, match=r"^shoe_size: is not a Meta customer-file key"):
        prepare({"email": "a@b.co", "shoe_size": "44"})
    with pytest.raises(InvalidValue, match=r"^gen: "):
        prepare({"email": "a@b.co", "gen": "unknown"})
