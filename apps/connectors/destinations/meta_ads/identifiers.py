"""Meta's customer-file keys: how each is normalised, and which are SHA-256 hashed.

The rules are Meta's "Hashing and Normalizing Data" table for Customer File Custom Audiences
(https://developers.facebook.com/docs/marketing-api/audiences/guides/custom-audiences#hash) and
the key list of the /users edge
(https://developers.facebook.com/docs/marketing-api/reference/custom-audience/users/):

==========  =========================  ===========================================================
field       Meta key                   normalisation (then SHA-256, lower-case hex, unless noted)
==========  =========================  ===========================================================
email       EMAIL                      trimmed, lower case; must look like an address
phone       PHONE                      digits only, no leading zeros, with the country code (a
                                       10-digit number whose country is ``us`` gets its ``1``;
                                       a "(0)" trunk prefix is dropped)
fn, ln      FN, LN                     lower case, letters only (no punctuation, spaces or
                                       digits); accented and non-Latin letters kept, as UTF-8
fi          FI                         the first letter of the first name, same rules
gen         GEN                        ``m`` or ``f`` (male/female accepted)
doby        DOBY                       YYYY, 1900 to this year
dobm, dobd  DOBM, DOBD                 MM (01-12), DD (01-31)
dob         DOBY + DOBM + DOBD         a date, split into the three keys (a convenience field:
                                       Meta has no DOB key)
ct          CT                         lower case, a-z only (accents folded), no spaces
st          ST                         lower case, a-z only; U.S. states as the 2-letter code
                                       (full names translated when the country is ``us`` or
                                       unknown; an unknown state of a ``us`` row is invalid)
zip         ZIP                        lower case, no spaces; U.S.: the first 5 digits (a ``us``
                                       zip that lost its leading zeros is padded); U.K.: area,
                                       district and sector (``sw1a 1aa`` -> ``sw1a1``)
country     COUNTRY                    ISO 3166-1 alpha-2, lower case (alpha-3 translated)
madid       MADID                      NOT hashed: lower case, hyphens kept (an IDFA/AAID UUID)
extern_id   EXTERN_ID                  NOT hashed: trimmed, as it is
==========  =========================  ===========================================================

A value of a hashed key that is already a SHA-256 digest (64 hex digits) is passed through as it
is (lower-cased), so warehouses that hash upstream are not hashed twice. Every other value that
breaks its key's rules makes the whole record invalid (it is reported, never silently dropped), and
a record needs at least one identifier Meta can match on: email, phone, madid or extern_id.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from apps.connectors import pii
from apps.connectors.destinations.meta_ads.keys import BY_FIELD, DOB_FIELD, IDENTIFIER_SCHEMA_KEYS, Key
from apps.connectors.destinations.meta_ads.regions import (
    ALPHA3_TO_ALPHA2,
    COUNTRIES,
    COUNTRY_ALIASES,
    US_STATE_CODES,
    US_STATE_NAMES,
)

_UUID = re.compile(r"^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$")
_US_ZIP = re.compile(r"^(\d{5})(?:-?\d{4})?$")
# A full U.K. postcode without its space: outward code (area + district), then the inward code
# (sector digit + unit letters). Meta wants area, district and sector.
_UK_POSTCODE = re.compile(r"^([a-z]{1,2}\d[a-z\d]?)(\d)[a-z]{2}$")
_SHOWN = 80


class InvalidValue(ValueError):
    """A value that breaks its key's rules; ``str()`` is the per-record message."""

    def __init__(self, field: str, raw: str | None, reason: str) -> None:
        shown = "" if raw is None else f"'{raw[:_SHOWN]}{'…' if len(raw) > _SHOWN else ''}' "
        super().__init__(f"{field}: {shown}{reason}")
        self.field = field


def _letters(value: str) -> str:
    """Lower case, letters only (any script), composed as UTF-8 expects (é is one character)."""
    return "".join(ch for ch in unicodedata.normalize("NFC", value.lower()) if ch.isalpha())


def _ascii_letters(value: str) -> str:
    """Lower case a-z only: accents folded first, so São Paulo gives saopaulo."""
    return "".join(ch for ch in pii.strip_accents(value.lower()) if "a" <= ch <= "z")


# --- one normaliser per key: (raw text, row's country or None) -> normalised text --------------
def email(raw: str, country: str | None = None) -> str:
    value = pii.basic_email(raw)
    if value is None:
        raise InvalidValue("email", raw, "is not an email address")
    return value


def phone(raw: str, country: str | None = None) -> str:
    # "(0)" marks a trunk prefix dialled only at home (+44 (0)20 ...): not part of the number.
    value = pii.digits(raw.replace("(0)", "")).lstrip("0")
    if country == "us" and len(value) == 10:
        value = "1" + value  # Meta: U.S. numbers must start with the country code 1
    if not 7 <= len(value) <= 15:  # E.164 numbers have at most 15 digits, country code included
        raise InvalidValue("phone", raw, "is not a phone number with its country code (7 to 15 digits)")
    return value


def name(raw: str, country: str | None = None, *, field: str = "fn") -> str:
    value = _letters(raw)
    if not value:
        raise InvalidValue(field, raw, "has no letters")
    return value


def first_initial(raw: str, country: str | None = None) -> str:
    return name(raw, field="fi")[0]


def gender(raw: str, country: str | None = None) -> str:
    value = raw.strip().lower()
    if value in ("m", "male"):
        return "m"
    if value in ("f", "female"):
        return "f"
    raise InvalidValue("gen", raw, "is not a gender Meta accepts (m or f)")


def _number(raw: str, field: str, low: int, high: int, width: int) -> str:
    text = raw.strip()
    if not text.isdigit() or not low <= int(text) <= high:
        raise InvalidValue(field, raw, f"is not a number from {low:0{width}d} to {high}")
    return f"{int(text):0{width}d}"


def birth_year(raw: str, country: str | None = None) -> str:
    if len(raw.strip()) != 4:
        raise InvalidValue("doby", raw, "is not a year (YYYY)")
    return _number(raw, "doby", 1900, date.today().year, 4)


def birth_month(raw: str, country: str | None = None) -> str:
    return _number(raw, "dobm", 1, 12, 2)


def birth_day(raw: str, country: str | None = None) -> str:
    return _number(raw, "dobd", 1, 31, 2)


def birth_date(raw: str) -> tuple[str, str, str]:
    """(DOBY, DOBM, DOBD) of an ISO date (the engine sends date fields as YYYY-MM-DD)."""
    try:
        day = date.fromisoformat(raw.strip()[:10])
    except ValueError:
        raise InvalidValue(DOB_FIELD, raw, "is not a date (YYYY-MM-DD)") from None
    if not 1900 <= day.year <= date.today().year:
        raise InvalidValue(DOB_FIELD, raw, "is not a birth date (year 1900 to this year)")
    return f"{day.year:04d}", f"{day.month:02d}", f"{day.day:02d}"


def city(raw: str, country: str | None = None) -> str:
    value = _ascii_letters(raw)
    if not value:
        raise InvalidValue("ct", raw, "has no letters a-z")
    return value


def state(raw: str, country: str | None = None) -> str:
    value = _ascii_letters(raw)
    if not value:
        raise InvalidValue("st", raw, "has no letters a-z")
    if country in (None, "us"):
        value = US_STATE_NAMES.get(value, value)
    if country == "us" and value not in US_STATE_CODES:
        raise InvalidValue("st", raw, "is not a U.S. state (2-letter code or full name)")
    return value


def postal_code(raw: str, country: str | None = None) -> str:
    value = "".join(raw.lower().split())
    if not value:
        raise InvalidValue("zip", raw, "is empty")
    if country == "us" and value.isdigit() and 3 <= len(value) <= 4:
        value = value.zfill(5)  # a U.S. zip read from a number column lost its leading zeros
    us = _US_ZIP.match(value)
    if us and country in (None, "us"):
        return us.group(1)
    if country == "us":
        raise InvalidValue("zip", raw, "is not a U.S. zip code (5 digits, or ZIP+4)")
    if country == "gb":
        uk = _UK_POSTCODE.match(value)
        if uk:
            return uk.group(1) + uk.group(2)
    return value


def country_code(raw: str, country: str | None = None) -> str:
    value = _ascii_letters(raw)
    value = COUNTRY_ALIASES.get(value, value)
    value = ALPHA3_TO_ALPHA2.get(value, value)
    if value not in COUNTRIES:
        raise InvalidValue("country", raw, "is not an ISO 3166-1 country code")
    return value


def mobile_advertiser_id(raw: str, country: str | None = None) -> str:
    value = raw.strip().lower()
    if not _UUID.match(value):
        raise InvalidValue("madid", raw, "is not a mobile advertiser ID (an IDFA or AAID UUID)")
    if "-" not in value:
        value = f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"
    return value


def extern_id(raw: str, country: str | None = None) -> str:
    value = raw.strip()
    if not value:
        raise InvalidValue("extern_id", raw, "is empty")
    return value


NORMALISERS: dict[str, Callable[[str, str | None], str]] = {
    "email": email,
    "phone": phone,
    "fn": lambda raw, country=None: name(raw, field="fn"),
    "ln": lambda raw, country=None: name(raw, field="ln"),
    "fi": first_initial,
    "gen": gender,
    "doby": birth_year,
    "dobm": birth_month,
    "dobd": birth_day,
    "ct": city,
    "st": state,
    "zip": postal_code,
    "country": country_code,
    "madid": mobile_advertiser_id,
    "extern_id": extern_id,
}


# --- a whole record ---------------------------------------------------------------------------
def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # 1990.0 from a float column is the year 1990
    text = str(value).strip()
    return text or None


def _encode(key: Key, raw: str, country: str | None) -> str:
    digest = pii.already_hashed(raw) if key.hashed else None
    if digest is not None:
        return digest
    value = NORMALISERS[key.field](raw, country)
    return pii.sha256_hex(value) if key.hashed else value


def prepare(record: Mapping[str, Any]) -> dict[str, str]:
    """The record as Meta's schema keys -> values to send (hashed where Meta hashes).

    Raises ``InvalidValue`` for the first value that breaks its key's rules, an unknown field, or
    a record without any identifier Meta can match on.
    """
    texts: dict[str, str] = {}
    for field, value in record.items():
        if field != DOB_FIELD and field not in BY_FIELD:
            raise InvalidValue(field, None, "is not a Meta customer-file key")
        text = _text(value)
        if text is not None:
            texts[field] = text
    # The row's country decides how phone, state and zip are read; a hashed one cannot.
    raw_country = texts.get("country")
    country = None
    if raw_country is not None and not pii.is_sha256_hex(raw_country):
        country = country_code(raw_country)
    row: dict[str, str] = {}
    if DOB_FIELD in texts:
        for key, part in zip(("DOBY", "DOBM", "DOBD"), birth_date(texts[DOB_FIELD]), strict=True):
            row[key] = pii.sha256_hex(part)
    for field, text in texts.items():
        if field != DOB_FIELD:
            key = BY_FIELD[field]
            row[key.schema] = _encode(key, text, country)  # an explicit doby/dobm/dobd wins over dob
    if not IDENTIFIER_SCHEMA_KEYS & row.keys():
        raise InvalidValue(
            "record", None, "has no identifier Meta can match on (email, phone, madid or extern_id)"
        )
    return row
