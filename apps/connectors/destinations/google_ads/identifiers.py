"""Customer Match identifiers: each record's values normalised as Google documents, then hashed.

Google matches hashed values only, so a value normalised differently from Google's own hashing
never matches anyone: these rules follow Google's documentation to the letter.

- Email: whitespace removed (leading, trailing and intermediate), lower-cased; for ``gmail.com`` and
  ``googlemail.com`` addresses every ``.`` of the local part is removed and a ``+tag`` dropped
  (``cloudy.sanfrancisco+shopping@gmail.com`` -> ``cloudysanfrancisco@gmail.com``); other domains
  keep their dots and plus signs. SHA-256.
- Phone: E.164 (``+18005550100``; see ``phones``). SHA-256.
- First and last name: lower-cased, leading and trailing whitespace removed (runs of inner
  whitespace become one space); no prefix such as "Mrs." and no suffix such as "Jr.". SHA-256.
- Country code (ISO 3166-1 alpha-2) and postal code: not hashed. A US postal code is 5 digits,
  optionally followed by a 4-digit extension. An address counts only with all four of first name,
  last name, country code and postal code.
- A value that already is a SHA-256 digest (64 hex digits) is passed through, lower-cased.
- CRM IDs (``third_party_user_id``) and mobile advertising IDs are sent as they are (not hashed).

Sources: https://developers.google.com/data-manager/api/devguides/concepts/formatting (current
formatting rules, incl. the gmail.com rule), https://developers.google.com/google-ads/api/docs/
remarketing/audience-segments/customer-match/get-started (hashing: "Remove leading and trailing
whitespaces", "Convert text to lowercase", phones in E.164) and
https://support.google.com/google-ads/answer/7474263 (customer data formatting guidelines).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from apps.connectors.destinations.google_ads.phones import PhoneError, to_e164
from apps.connectors.pii import already_hashed, basic_email, collapse_whitespace, sha256_hex

CONTACT_INFO = "CONTACT_INFO"
CRM_ID = "CRM_ID"
MOBILE_ADVERTISING_ID = "MOBILE_ADVERTISING_ID"

ADDRESS_FIELDS = ("first_name", "last_name", "country_code", "postal_code")
FIELDS_BY_KEY_TYPE: dict[str, tuple[str, ...]] = {
    CONTACT_INFO: ("email", "phone", *ADDRESS_FIELDS),
    CRM_ID: ("third_party_user_id",),
    MOBILE_ADVERTISING_ID: ("mobile_id",),
}
GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})

_PREFIX = re.compile(r"^(?:mr|mrs|ms|miss|mx|dr)\.?\s+(?=\S)")
_SUFFIX = re.compile(r"(?<=\S),?\s+(?:jr|sr|ii|iii|iv)\.?$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_US_POSTAL = re.compile(r"^\d{5}(?:-?\d{4})?$")
_MOBILE_ID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class InvalidIdentifier(ValueError):
    """A value that cannot be sent; the message says which field and why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def text_of(value: Any) -> str | None:
    """A warehouse value as text (numbers such as postal codes included); None when empty."""
    if value is None:
        return None
    # A postal code or phone read as a number must not come out as "94045.0".
    text = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    return text.strip() or None


# --- one value at a time -----------------------------------------------------------------------
def normalize_email(value: str) -> str:
    email = "".join(value.split()).lower()
    if basic_email(email) is None or email.count("@") != 1:
        raise InvalidIdentifier("email", f"'{value}' is not an email address")
    local, domain = email.split("@")
    if domain in GMAIL_DOMAINS:
        local = local.split("+", 1)[0].replace(".", "")
        if not local:
            raise InvalidIdentifier("email", f"'{value}' has no mailbox name before @{domain}")
    return f"{local}@{domain}"


def normalize_name(value: str, *, last: bool = False) -> str:
    name = collapse_whitespace(value).lower()
    name = _SUFFIX.sub("", name) if last else _PREFIX.sub("", name)
    return name


def normalize_country(value: str) -> str:
    country = value.strip().upper()
    if not _COUNTRY.match(country):
        raise InvalidIdentifier("country_code", f"'{value}' is not a two-letter ISO 3166-1 country code")
    return country


def normalize_postal_code(value: str, country: str) -> str:
    postal = collapse_whitespace(value)
    if country == "US" and not _US_POSTAL.match(postal):
        raise InvalidIdentifier("postal_code", f"'{value}' is not a US ZIP code (5 digits, or 5+4)")
    return postal


def hash_email(value: str) -> str:
    return already_hashed(value) or sha256_hex(normalize_email(value))


def hash_phone(value: str, default_country: str | None = None) -> str:
    digest = already_hashed(value)
    if digest:
        return digest
    try:
        return sha256_hex(to_e164(value, default_country))
    except PhoneError as exc:
        raise InvalidIdentifier("phone", str(exc)) from None


def hash_name(value: str, *, last: bool = False) -> str:
    digest = already_hashed(value)
    if digest:
        return digest
    name = normalize_name(value, last=last)
    if not name:
        raise InvalidIdentifier("last_name" if last else "first_name", f"'{value}' is empty once normalised")
    return sha256_hex(name)


# --- a whole record ---------------------------------------------------------------------------
def user_identifiers(
    record: Mapping[str, Any], upload_key_type: str, default_country: str | None = None
) -> list[dict[str, Any]]:
    """The ``UserIdentifier`` list of one record (REST field names), in a stable order.

    Raises ``InvalidIdentifier`` for a value that cannot be normalised, and when the record has
    no usable identifier at all. An address missing one of its four parts is not an identifier:
    it is left out when the record has another one, and named in the error when it has none.
    """
    values = {name: text_of(record.get(name)) for name in FIELDS_BY_KEY_TYPE.get(upload_key_type, ())}
    identifiers: list[dict[str, Any]] = []
    if upload_key_type == CRM_ID:
        if values["third_party_user_id"]:
            identifiers.append({"thirdPartyUserId": values["third_party_user_id"]})
    elif upload_key_type == MOBILE_ADVERTISING_ID:
        mobile_id = values["mobile_id"]
        if mobile_id:
            if not _MOBILE_ID.match(mobile_id):
                raise InvalidIdentifier("mobile_id", f"'{mobile_id}' is not an advertising ID (IDFA/AAID)")
            identifiers.append({"mobileId": mobile_id})
    else:
        if values["email"]:
            identifiers.append({"hashedEmail": hash_email(values["email"])})
        if values["phone"]:
            identifiers.append({"hashedPhoneNumber": hash_phone(values["phone"], default_country)})
        address = _address(values)
        if address is not None:
            identifiers.append({"addressInfo": address})
    if not identifiers:
        raise InvalidIdentifier(_missing_field(upload_key_type), _nothing_usable(upload_key_type, values))
    return identifiers


def _address(values: Mapping[str, str | None]) -> dict[str, str] | None:
    given = [name for name in ADDRESS_FIELDS if values.get(name)]
    if len(given) < len(ADDRESS_FIELDS):
        return None
    country = normalize_country(values["country_code"] or "")
    return {
        "hashedFirstName": hash_name(values["first_name"] or ""),
        "hashedLastName": hash_name(values["last_name"] or "", last=True),
        "countryCode": country,
        "postalCode": normalize_postal_code(values["postal_code"] or "", country),
    }


def _missing_field(upload_key_type: str) -> str:
    return {CRM_ID: "third_party_user_id", MOBILE_ADVERTISING_ID: "mobile_id"}.get(upload_key_type, "email")


def _nothing_usable(upload_key_type: str, values: Mapping[str, str | None]) -> str:
    if upload_key_type in (CRM_ID, MOBILE_ADVERTISING_ID):
        return f"no {_missing_field(upload_key_type)}: nothing to match this record on"
    partial = [name for name in ADDRESS_FIELDS if values.get(name)]
    if partial:
        missing = ", ".join(name for name in ADDRESS_FIELDS if not values.get(name))
        return f"no email or phone, and the address is incomplete (missing {missing})"
    return "no email, phone or address (first_name, last_name, country_code, postal_code)"
