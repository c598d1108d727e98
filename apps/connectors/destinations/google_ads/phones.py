"""Phone numbers to E.164 (``+`` country code and subscriber digits), as Customer Match asks.

Google: "Use the E.164 format. Include the plus sign (+) and the country code. All characters
after the plus sign must be digits", e.g. US ``(800)555-0100`` -> ``+18005550100``
(https://developers.google.com/data-manager/api/devguides/concepts/formatting, and
https://developers.google.com/google-ads/api/docs/remarketing/audience-segments/customer-match/get-started).

A number written internationally (``+44 20 …``, ``0044 20 …``) needs nothing else. A number written
nationally (``020 7946 0018``) only becomes E.164 with its country, which a warehouse row rarely
holds: the connection's ``default_phone_country`` supplies it. That needs the country's calling
code and national trunk prefix (the ``0`` of ``020 …`` that is dropped internationally), listed
below for the countries we support as a default. Numbers from anywhere else must be written with
their ``+`` country code; without a dependency on a full numbering-plan library that is the honest
limit. The result is checked only for E.164's shape (7 to 15 digits, no leading 0), not against
each country's numbering plan.
"""

from __future__ import annotations

import re

from apps.connectors.pii import digits

# ISO 3166-1 alpha-2 -> (country calling code, national trunk prefix dropped in E.164).
# Italy, San Marino and the Vatican keep their leading 0 internationally: no trunk prefix.
# North America (NANP) dials a trunk "1" before 10-digit national numbers.
REGIONS: dict[str, tuple[str, str]] = {
    "US": ("1", "1"), "CA": ("1", "1"), "PR": ("1", "1"),
    "GB": ("44", "0"), "IE": ("353", "0"), "FR": ("33", "0"), "DE": ("49", "0"), "NL": ("31", "0"),
    "BE": ("32", "0"), "LU": ("352", ""), "CH": ("41", "0"), "AT": ("43", "0"), "ES": ("34", ""),
    "PT": ("351", ""), "IT": ("39", ""), "SM": ("378", ""), "VA": ("379", ""), "MT": ("356", ""),
    "DK": ("45", ""), "SE": ("46", "0"), "NO": ("47", ""), "FI": ("358", "0"), "IS": ("354", ""),
    "PL": ("48", ""), "CZ": ("420", ""), "SK": ("421", "0"), "HU": ("36", "06"), "RO": ("40", "0"),
    "BG": ("359", "0"), "GR": ("30", ""), "HR": ("385", "0"), "SI": ("386", "0"), "EE": ("372", ""),
    "LV": ("371", ""), "CY": ("357", ""), "RS": ("381", "0"), "UA": ("380", "0"), "TR": ("90", "0"),
    "IL": ("972", "0"), "AE": ("971", "0"), "SA": ("966", "0"), "EG": ("20", "0"), "ZA": ("27", "0"),
    "NG": ("234", "0"), "KE": ("254", "0"), "MA": ("212", "0"), "IN": ("91", "0"), "PK": ("92", "0"),
    "BD": ("880", "0"), "CN": ("86", "0"), "HK": ("852", ""), "TW": ("886", "0"), "JP": ("81", "0"),
    "KR": ("82", "0"), "SG": ("65", ""), "MY": ("60", "0"), "TH": ("66", "0"), "VN": ("84", "0"),
    "ID": ("62", "0"), "PH": ("63", "0"), "AU": ("61", "0"), "NZ": ("64", "0"), "MX": ("52", ""),
    "BR": ("55", "0"), "CL": ("56", ""), "CO": ("57", ""), "PE": ("51", "0"),
}  # fmt: skip
NANP_CODE = "1"

# An extension cannot be matched against a Google account: it is dropped, not refused.
_EXTENSION = re.compile(r"\s*(?:ext\.?|extension|x|#)\s*\d{1,6}\s*$", re.IGNORECASE)
# "+44 (0)20 …": the national trunk digit some countries print inside international numbers.
_TRUNK_IN_PARENS = re.compile(r"\(\s*0\s*\)")
_ALLOWED = re.compile(r"^\+?[0-9\s().\-/]+$")


class PhoneError(ValueError):
    """Why a value cannot become an E.164 number (the message names the value)."""


def to_e164(value: str, default_region: str | None = None) -> str:
    """``value`` as ``+<country code><number>``; raises ``PhoneError`` when it cannot be."""
    text = _EXTENSION.sub("", value.strip())
    if not text or not _ALLOWED.match(text):
        raise PhoneError(f"'{value}' is not a phone number (only digits, spaces, + ( ) . - / allowed)")
    if text.startswith("+"):
        number = digits(_TRUNK_IN_PARENS.sub("", text))
    else:
        number = _international(digits(text), default_region, value)
    if not 7 <= len(number) <= 15 or number.startswith("0"):
        raise PhoneError(f"'{value}' is not a valid international number (E.164: +, then 7 to 15 digits)")
    return "+" + number


def _international(number: str, region: str | None, original: str) -> str:
    """Country code + national number, for a number written without a ``+``."""
    code, trunk = REGIONS.get(region or "", ("", ""))
    if code == NANP_CODE and number.startswith("011"):
        return number[3:]  # NANP's international call prefix
    if code != NANP_CODE and number.startswith("00"):
        return number[2:]  # the international call prefix used outside North America
    if not code:
        raise PhoneError(
            f"'{original}' has no country code: write it as +<country code>… or set the connection's "
            "default_phone_country"
        )
    if code == NANP_CODE:
        if len(number) == 11 and number.startswith(trunk):
            number = number[1:]
        if len(number) != 10:
            raise PhoneError(f"'{original}' is not a {region} number (10 digits after the country code 1)")
        return code + number
    if trunk and number.startswith(trunk):
        number = number[len(trunk) :]
    return code + number
