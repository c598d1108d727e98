"""The fake Salesforce org: its objects and fields (describe shapes), value checks as Salesforce
applies them, the SOQL subset the connector sends, and Salesforce's error shapes.

Used by ``tests/fakes/salesforce.py`` (the server) and by tests that need the same constants.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.fakes.vendor_server import FakeResponse

CLIENT_ID = "3MVG9fake.consumer.key"
CLIENT_SECRET = "fake-consumer-secret-6c1f"
REFRESH_TOKEN = "5Aep861fake.refresh.token.93d2"
TOKEN_PATH = "/services/oauth2/token"
V = r"/services/data/v(?P<version>\d+)\.0"
LATEST_VERSION = 62
MAX_RECORDS = 200
SOQL_PATTERN = re.compile(
    r"^\s*SELECT\s+(?P<fields>[\w\s,]+?)\s+FROM\s+(?P<obj>\w+)"
    r"(?:\s+WHERE\s+(?P<key>\w+)\s+IN\s*\((?P<values>.*)\))?\s*$",
    re.IGNORECASE | re.DOTALL,
)


# --- the org's schema (shaped like real describe results) ----------------------------------------
def _field(
    name: str,
    type_: str,
    label: str | None = None,
    *,
    length: int = 0,
    required: bool = False,
    read_only: bool = False,
    updateable: bool | None = None,
    defaulted: bool = False,
    external: bool = False,
    lookup: bool = False,
    unique: bool = False,
    picklist: tuple[str, ...] = (),
    inactive: tuple[str, ...] = (),
    restricted: bool = False,
) -> dict[str, Any]:
    values = [{"value": v, "label": v, "active": True, "defaultValue": False} for v in picklist]
    values += [{"value": v, "label": v, "active": False, "defaultValue": False} for v in inactive]
    return {
        "name": name,
        "label": label or name.removesuffix("__c").replace("_", " "),
        "type": type_,
        "length": length,
        "nillable": not required,
        "createable": not read_only,
        "updateable": (not read_only) if updateable is None else updateable,
        "defaultedOnCreate": defaulted,
        "externalId": external,
        "idLookup": lookup or external,  # external IDs are idLookup fields too
        "unique": unique,
        "caseSensitive": False,
        "custom": name.endswith("__c"),
        "picklistValues": values,
        "restrictedPicklist": restricted,
        "deprecatedAndHidden": False,
    }


def _system() -> list[dict[str, Any]]:
    return [
        _field(
            "Id", "id", "Record ID", length=18, required=True, read_only=True, defaulted=True, lookup=True
        ),
        _field("IsDeleted", "boolean", "Deleted", required=True, read_only=True, defaulted=True),
        _field("CreatedDate", "datetime", "Created Date", required=True, read_only=True, defaulted=True),
        _field(
            "LastModifiedDate",
            "datetime",
            "Last Modified Date",
            required=True,
            read_only=True,
            defaulted=True,
        ),
    ]


def _object(name: str, prefix: str, fields: list[dict[str, Any]], *, modes: str = "cud") -> dict[str, Any]:
    label = name.removesuffix("__c").removesuffix("__e").replace("_", " ")
    return {
        "name": name,
        "label": label,
        "labelPlural": label + "s",
        "keyPrefix": prefix,
        "custom": name.endswith(("__c", "__e")),
        "createable": "c" in modes,
        "updateable": "u" in modes,
        "deletable": "d" in modes,
        "fields": _system() + fields,
    }


LEAD_SOURCES = ("Web", "Phone Inquiry", "Partner Referral", "Other")
OBJECTS: dict[str, dict[str, Any]] = {
    o["name"]: o
    for o in (
        _object(
            "Account",
            "001",
            [
                _field("Name", "string", "Account Name", length=255, required=True),
                _field("Industry", "picklist", picklist=("Agriculture", "Banking", "Technology", "Retail")),
                _field("AnnualRevenue", "currency", "Annual Revenue"),
                _field("NumberOfEmployees", "int", "Employees"),
                _field("Website", "url", length=255),
                _field("Phone", "phone", "Account Phone", length=40),
                _field("Description", "textarea", length=32000),
                _field("BillingAddress", "address", "Billing Address", read_only=True),
            ],
        ),
        _object(
            "Contact",
            "003",
            [
                _field("FirstName", "string", "First Name", length=40),
                _field("LastName", "string", "Last Name", length=80, required=True),
                _field("Name", "string", "Full Name", length=121, read_only=True),
                _field("Email", "email", length=80, lookup=True),
                _field("Phone", "phone", "Business Phone", length=40),
                _field("Birthdate", "date"),
                _field("HasOptedOutOfEmail", "boolean", "Email Opt Out", required=True, defaulted=True),
                _field(
                    "LeadSource",
                    "picklist",
                    "Lead Source",
                    picklist=LEAD_SOURCES,
                    inactive=("Trade Show",),
                    restricted=True,
                ),
                _field("AccountId", "reference", "Account ID", length=18),
                _field(
                    "Interests__c",
                    "multipicklist",
                    length=4099,
                    picklist=("Sports", "Music"),
                    restricted=True,
                ),
                _field("Score__c", "double"),
                _field("Last_Seen__c", "datetime", "Last Seen"),
                _field("External_Id__c", "string", "External ID", length=255, external=True, unique=True),
            ],
        ),
        _object(
            "Lead",
            "00Q",
            [
                _field("LastName", "string", "Last Name", length=80, required=True),
                _field("Company", "string", length=255, required=True),
                _field("Email", "email", length=80, lookup=True),
                _field(
                    "Status",
                    "picklist",
                    "Lead Status",
                    required=True,
                    defaulted=True,
                    restricted=True,
                    picklist=("Open - Not Contacted", "Working - Contacted", "Closed - Converted"),
                ),
                _field("Rating", "picklist", picklist=("Hot", "Warm", "Cold")),
            ],
        ),
        _object(
            "Subscription__c",
            "a01",
            [
                _field("Name", "string", "Subscription Name", length=80, required=True),
                _field("External_Id__c", "string", "External ID", length=64, external=True, unique=True),
                _field("Plan__c", "picklist", picklist=("Free", "Pro", "Enterprise"), restricted=True),
                _field("Seats__c", "double"),
                _field("Renews_On__c", "date", "Renews On"),
                _field("Active__c", "boolean", required=True, defaulted=True),
                _field("Account__c", "reference", "Account", length=18),
            ],
        ),
        _object(
            "Order_Placed__e",
            "e01",
            [
                _field("ReplayId", "string", "Replay ID", length=255, read_only=True),
                _field(
                    "Order_Number__c", "string", "Order Number", length=40, required=True, updateable=False
                ),
            ],
            modes="c",
        ),
        _object(
            "AccountHistory",
            "017",
            [_field("Field", "picklist", read_only=True, picklist=("Name",))],
            modes="",
        ),
        _object("LoginHistory", "0Ya", [_field("Status", "string", read_only=True, length=128)], modes=""),
    )
}

# --- values as Salesforce checks them ------------------------------------------------------------
_ID = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2})$")
_NUMBERS = frozenset({"int", "double", "currency", "percent"})
_TEXT = frozenset(
    {"string", "textarea", "url", "email", "phone", "picklist", "multipicklist", "reference", "id"}
)


def _number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return False
    try:
        float(value)
    except ValueError:
        return False
    return True


_SHAPES: dict[str, Callable[[Any], bool]] = {
    **dict.fromkeys(_NUMBERS, _number),
    "boolean": lambda v: isinstance(v, bool) or v in ("true", "false"),
    "date": lambda v: isinstance(v, str) and bool(_DATE.match(v)),
    "datetime": lambda v: isinstance(v, str) and bool(_DATETIME.match(v)),
}


def is_id(value: str) -> bool:
    return bool(_ID.match(value))


def _key(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def key_equal(spec: dict[str, Any], stored: Any, wanted: Any) -> bool:
    if stored is None or wanted is None:
        return False
    if spec["caseSensitive"]:
        return _key(stored) == _key(wanted)
    return _key(stored).casefold() == _key(wanted).casefold()


def check_value(spec: dict[str, Any], value: Any) -> tuple[str, str, list[str]] | None:
    """(statusCode, message, fields) when Salesforce would refuse ``value`` for the field."""
    if value is None:
        return None
    name, label, kind = spec["name"], spec["label"], spec["type"]
    wrong_type = ("INVALID_TYPE_ON_FIELD_IN_RECORD", f"{label}: value not of required type: {value}", [name])
    if kind in _SHAPES and not _SHAPES[kind](value):
        return wrong_type
    if kind in _TEXT:
        text = str(value)
        if spec["length"] and len(text) > spec["length"]:
            return (
                "STRING_TOO_LONG",
                f"{label}: data value too large: {text[:40]} (max length={spec['length']})",
                [name],
            )
        if kind == "email" and not _EMAIL.match(text):
            return "INVALID_EMAIL_ADDRESS", f"{label}: invalid email address: {text}", [name]
        if kind in ("picklist", "multipicklist") and spec["restrictedPicklist"]:
            active = {v["value"] for v in spec["picklistValues"] if v["active"]}
            chosen = text.split(";") if kind == "multipicklist" else [text]
            if any(c not in active for c in chosen):
                message = f"{label}: bad value for restricted picklist field: {text}"
                return "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", message, [name]
    return None


_TOKEN = re.compile(r"\s*(?:'((?:[^'\\]|\\.)*)'|([^,\s)]+))\s*(?:,|$)", re.DOTALL)
_UNESCAPE = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}


def soql_values(text: str) -> list[Any]:
    """The literals of a SOQL ``IN (…)`` list: quoted strings (with escapes), numbers, booleans."""
    values: list[Any] = []
    position = 0
    while position < len(text.rstrip()):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise ValueError(f"unexpected token at position {position}")
        quoted, bare = match.groups()
        if quoted is not None:
            values.append(re.sub(r"\\(.)", lambda m: _UNESCAPE.get(m.group(1), m.group(1)), quoted))
        elif bare in ("true", "false"):
            values.append(bare == "true")
        else:
            values.append(float(bare) if "." in bare else int(bare))
        position = match.end()
    return values


def errors(status: int, code: str, message: str) -> FakeResponse:
    return FakeResponse(status, [{"message": message, "errorCode": code}])


def failure(code: str, message: str, fields: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    return {"success": False, "errors": [{"statusCode": code, "message": message, "fields": list(fields)}]}


@dataclass
class Rule:
    """A validation rule: records of ``sobject`` for which ``when(record)`` holds are refused."""

    sobject: str
    when: Callable[[dict[str, Any]], bool]
    message: str
    status_code: str = "FIELD_CUSTOM_VALIDATION_EXCEPTION"
    fields: tuple[str, ...] = ()
