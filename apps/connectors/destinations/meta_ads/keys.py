"""Meta's customer-file keys, in the order a payload's schema lists them.

The key list is the /users edge's multi-key schema
(https://developers.facebook.com/docs/marketing-api/reference/custom-audience/users/); which keys
are hashed and which identify a person on their own is from the custom audiences guide
(https://developers.facebook.com/docs/marketing-api/audiences/guides/custom-audiences#hash).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Key:
    field: str  # Syncline field name (lower-case Meta key)
    schema: str  # Meta's schema key
    label: str
    hashed: bool = True
    identifier: bool = False  # enough on its own for Meta to match a person


# Meta's keys in the order a payload's schema lists them.
KEYS: tuple[Key, ...] = (
    Key("email", "EMAIL", "Email", identifier=True),
    Key("phone", "PHONE", "Phone number (with country code)", identifier=True),
    Key("fn", "FN", "First name"),
    Key("ln", "LN", "Last name"),
    Key("fi", "FI", "First initial"),
    Key("gen", "GEN", "Gender (m/f)"),
    Key("doby", "DOBY", "Birth year (YYYY)"),
    Key("dobm", "DOBM", "Birth month (MM)"),
    Key("dobd", "DOBD", "Birth day (DD)"),
    Key("ct", "CT", "City"),
    Key("st", "ST", "State / province"),
    Key("zip", "ZIP", "Postal code"),
    Key("country", "COUNTRY", "Country (ISO 3166-1 alpha-2)"),
    Key("madid", "MADID", "Mobile advertiser ID (IDFA/AAID)", hashed=False, identifier=True),
    Key("extern_id", "EXTERN_ID", "External ID", hashed=False, identifier=True),
)
BY_FIELD: dict[str, Key] = {k.field: k for k in KEYS}
SCHEMA_ORDER: dict[str, int] = {k.schema: i for i, k in enumerate(KEYS)}
IDENTIFIER_SCHEMA_KEYS = frozenset(k.schema for k in KEYS if k.identifier)
HASHED_SCHEMA_KEYS = frozenset(k.schema for k in KEYS if k.hashed)
DOB_FIELD = "dob"  # convenience: one date split into DOBY, DOBM and DOBD
