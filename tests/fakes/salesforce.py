"""A local fake of Salesforce's OAuth token endpoint and REST API (the parts the connector uses).

Shapes follow the REST API Developer Guide
(https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/): global and sObject
describe, SOQL query (``SELECT Id, <field> FROM <SObject> [WHERE <field> IN (…)]`` only),
sObject Collections create / update / upsert / delete with per-record ``{id, success, errors}``
results, errors as ``[{"message", "errorCode"}]``, 401 ``INVALID_SESSION_ID`` for a bad or expired
session and 403 ``REQUEST_LIMIT_EXCEEDED`` as the rate-limit answer. The org has Account, Contact,
Lead, a custom object ``Subscription__c`` and some read-only objects; Contact and Subscription__c
carry a unique external ID ``External_Id__c``. Records live in ``records[sobject][id]``.

    with FakeSalesforce() as sf:
        config = {"login_url": sf.url, "auth": sf.client_credentials()}
        sf.expire_sessions()            # the next API call answers 401 INVALID_SESSION_ID
        sf.add_rule("Contact", lambda r: ..., "Validation message")  # a validation rule
        sf.find("Contact", External_Id__c="c1")
"""

from __future__ import annotations

import itertools
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from tests.fakes.vendor_server import FakeRequest, FakeResponse, FakeVendorApi, route

CLIENT_ID = "3MVG9fake.consumer.key"
CLIENT_SECRET = "fake-consumer-secret-6c1f"
REFRESH_TOKEN = "5Aep861fake.refresh.token.93d2"
TOKEN_PATH = "/services/oauth2/token"
V = r"/services/data/v(?P<version>\d+)\.0"
LATEST_VERSION = 62
MAX_RECORDS = 200
_SOQL = re.compile(
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


class FakeSalesforce(FakeVendorApi):
    def __init__(self, *, rotate_refresh_tokens: bool = False, query_page_size: int = 2000) -> None:
        super().__init__()
        self.records: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in OBJECTS}
        self.deleted: set[str] = set()
        self.sessions: set[str] = set()
        self.refresh_tokens = {REFRESH_TOKEN}
        self.rotate_refresh_tokens = rotate_refresh_tokens
        self.token_requests: list[dict[str, str]] = []
        self.rules: list[Rule] = []
        self.api_calls = 0
        self.query_page_size = query_page_size
        self._pages: dict[str, tuple[list[dict[str, Any]], int]] = {}  # locator -> (rest, total)
        self._ids = itertools.count(1)

    # --- helpers for tests ---------------------------------------------------------------------
    def client_credentials(self, secret: str = CLIENT_SECRET) -> dict[str, str]:
        return {"type": "client_credentials", "client_id": CLIENT_ID, "client_secret": secret}

    def refresh_token_auth(self, token: str = REFRESH_TOKEN) -> dict[str, str]:
        return {
            "type": "refresh_token",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "refresh_token": token,
        }

    def expire_sessions(self) -> None:
        with self.lock:
            self.sessions.clear()

    def add_rule(
        self, sobject: str, when: Callable[[dict[str, Any]], bool], message: str, **kwargs: Any
    ) -> None:
        with self.lock:
            self.rules.append(Rule(sobject, when, message, **kwargs))

    def find(self, sobject: str, **where: Any) -> dict[str, Any] | None:
        return next(
            (r for r in self.records[sobject].values() if all(r.get(k) == v for k, v in where.items())), None
        )

    def collection_writes(self) -> list[FakeRequest]:
        return self.writes(r"/composite/sobjects")

    def seed(self, sobject: str, **fields: Any) -> str:
        record_id = self._new_id(sobject)
        self.records[sobject][record_id] = {"Id": record_id, **fields}
        return record_id

    # --- FakeVendorApi hooks ------------------------------------------------------------------
    def handle(self, request: FakeRequest) -> FakeResponse:
        if request.path == TOKEN_PATH:  # the login host: not metered like the API, never throttled
            with self.lock:
                self.requests.append(request)
                return self._token(request)
        response = super().handle(request)
        if request.path.startswith("/services/data/"):
            self.api_calls += 1
            response.headers.setdefault("Sforce-Limit-Info", f"api-usage={self.api_calls}/15000")
        return response

    def authenticate(self, request: FakeRequest) -> FakeResponse | None:
        header = request.header("Authorization") or ""
        if not header.startswith("Bearer ") or header[7:] not in self.sessions:
            return errors(401, "INVALID_SESSION_ID", "Session expired or invalid")
        version = re.match(V, request.path)
        if version and not 31 <= int(version["version"]) <= LATEST_VERSION:
            return errors(404, "NOT_FOUND", "The requested resource does not exist")
        return None

    def rate_limited(self, request: FakeRequest) -> FakeResponse:
        return errors(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")

    def not_found(self, request: FakeRequest) -> FakeResponse:
        return errors(404, "NOT_FOUND", "The requested resource does not exist")

    # --- OAuth --------------------------------------------------------------------------------
    def _token(self, request: FakeRequest) -> FakeResponse:
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        self.token_requests.append(form)

        def refuse(error: str, description: str) -> FakeResponse:
            return FakeResponse(400, {"error": error, "error_description": description})

        if request.header("Content-Type") != "application/x-www-form-urlencoded":
            return refuse("invalid_request", "unsupported content type")
        grant = form.get("grant_type")
        if form.get("client_id") != CLIENT_ID:
            return refuse("invalid_client_id", "client identifier invalid")
        if grant == "client_credentials":
            if form.get("client_secret") != CLIENT_SECRET:
                return refuse("invalid_client", "invalid client credentials")
        elif grant == "refresh_token":
            if "client_secret" in form and form["client_secret"] != CLIENT_SECRET:
                return refuse("invalid_client", "invalid client credentials")
            if form.get("refresh_token") not in self.refresh_tokens:
                return refuse("invalid_grant", "expired access/refresh token")
        else:
            return refuse("unsupported_grant_type", "grant type not supported")
        token = "00DFAKE0000001!" + secrets.token_urlsafe(24)
        self.sessions.add(token)
        body = {
            "access_token": token,
            "instance_url": self.url,
            "id": f"{self.url}/id/00DFAKE0000001AAA/005FAKE0000001AAA",
            "token_type": "Bearer",
            "issued_at": "1767225600000",
            "signature": secrets.token_urlsafe(16),
            "scope": "api",
        }
        if grant == "refresh_token" and self.rotate_refresh_tokens:
            self.refresh_tokens.discard(form["refresh_token"])
            body["refresh_token"] = "5Aep861rotated." + secrets.token_urlsafe(12)
            self.refresh_tokens.add(body["refresh_token"])
        return FakeResponse(200, body)

    # --- describe and query -------------------------------------------------------------------
    @route("GET", V + r"/sobjects/?")
    def describe_global(self, request: FakeRequest) -> FakeResponse:
        keys = (
            "name",
            "label",
            "labelPlural",
            "keyPrefix",
            "custom",
            "createable",
            "updateable",
            "deletable",
        )
        entries = [{k: spec[k] for k in keys} | {"queryable": True} for spec in OBJECTS.values()]
        return FakeResponse(200, {"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": entries})

    @route("GET", V + r"/sobjects/(?P<name>\w+)/describe/?")
    def describe(self, request: FakeRequest) -> FakeResponse:
        spec = OBJECTS.get(request.groups["name"])
        return FakeResponse(200, spec) if spec is not None else self.not_found(request)

    @route("GET", V + r"/query/?")
    def query(self, request: FakeRequest) -> FakeResponse:
        match = _SOQL.match(request.param("q") or "")
        if match is None:
            return errors(400, "MALFORMED_QUERY", "unexpected token in the query")
        name = match["obj"]
        if name not in OBJECTS:
            return errors(400, "INVALID_TYPE", f"sObject type '{name}' is not supported.")
        fields = {f["name"]: f for f in OBJECTS[name]["fields"]}
        selected = [f.strip() for f in match["fields"].split(",")]
        for field in [*selected, *([match["key"]] if match["key"] else [])]:
            if field not in fields:
                return errors(400, "INVALID_FIELD", f"No such column '{field}' on entity '{name}'.")
        rows = list(self.records[name].values())
        if match["key"]:
            try:
                wanted = soql_values(match["values"])
            except ValueError as exc:
                return errors(400, "MALFORMED_QUERY", str(exc))
            spec = fields[match["key"]]
            rows = [r for r in rows if any(key_equal(spec, r.get(spec["name"]), w) for w in wanted)]
        found = [
            {
                "attributes": {
                    "type": name,
                    "url": f"/services/data/v{request.groups['version']}.0/sobjects/{name}/{r['Id']}",
                }
            }
            | {f: r.get(f) for f in selected}
            for r in rows
        ]
        return self._page(found, request.groups["version"], len(found))

    @route("GET", V + r"/query/(?P<locator>[\w-]+)")
    def query_more(self, request: FakeRequest) -> FakeResponse:
        rest, total = self._pages.pop(request.groups["locator"], (None, 0))
        if rest is None:
            return errors(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._page(rest, request.groups["version"], total)

    def _page(self, rows: list[dict[str, Any]], version: str, total: int) -> FakeResponse:
        page, rest = rows[: self.query_page_size], rows[self.query_page_size :]
        body: dict[str, Any] = {"totalSize": total, "done": not rest, "records": page}
        if rest:
            locator = f"01gFAKE{next(self._ids):06d}-{len(page)}"
            self._pages[locator] = (rest, total)
            body["nextRecordsUrl"] = f"/services/data/v{version}.0/query/{locator}"
        return FakeResponse(200, body)

    # --- sObject Collections ------------------------------------------------------------------
    def _collection(
        self, request: FakeRequest, sobject: str | None = None
    ) -> list[dict[str, Any]] | FakeResponse:
        body = request.json
        records = body.get("records") if isinstance(body, dict) else None
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            return errors(400, "JSON_PARSER_ERROR", 'The request body must be {"records": [...]}')
        if len(records) > MAX_RECORDS:
            return errors(
                400,
                "EXCEEDED_ID_LIMIT",
                "record limit reached. cannot submit more than 200 records into this call",
            )
        if body.get("allOrNone") not in (None, False):
            return errors(400, "INVALID_FIELD", "this fake only supports allOrNone=false")
        for record in records:
            kind = (record.get("attributes") or {}).get("type")
            if not kind:
                return errors(400, "INVALID_TYPE", "Must send a concrete entity type.")
            if kind not in OBJECTS or (sobject is not None and kind != sobject):
                return errors(400, "INVALID_TYPE", f"sObject type '{kind}' is not supported.")
            names = {f["name"] for f in OBJECTS[kind]["fields"]}
            for field in record:
                if field not in names and field not in ("attributes", "id"):
                    return errors(400, "INVALID_FIELD", f"No such column '{field}' on sobject of type {kind}")
        return records

    @route("POST", V + r"/composite/sobjects/?")
    def create(self, request: FakeRequest) -> FakeResponse:
        records = self._collection(request)
        if isinstance(records, FakeResponse):
            return records
        return FakeResponse(200, [self._create(r["attributes"]["type"], _fields(r)) for r in records])

    @route("PATCH", V + r"/composite/sobjects/?")
    def update(self, request: FakeRequest) -> FakeResponse:
        records = self._collection(request)
        if isinstance(records, FakeResponse):
            return records
        results = []
        for record in records:
            record_id, kind = record.get("id") or record.get("Id"), record["attributes"]["type"]
            problem = self._lookup_problem(kind, record_id)
            fields = {k: v for k, v in _fields(record).items() if k != "Id"}
            results.append(problem or self._update(kind, str(record_id), fields))
        return FakeResponse(200, results)

    @route("PATCH", V + r"/composite/sobjects/(?P<name>\w+)/(?P<field>\w+)/?")
    def upsert(self, request: FakeRequest) -> FakeResponse:
        name, key = request.groups["name"], request.groups["field"]
        if name not in OBJECTS:
            return self.not_found(request)
        spec = next((f for f in OBJECTS[name]["fields"] if f["name"] == key), None)
        if spec is None or not (spec["externalId"] or spec["idLookup"]) or key == "Id":
            return errors(
                404, "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {key}"
            )
        records = self._collection(request, name)
        if isinstance(records, FakeResponse):
            return records
        values = [str(r.get(key)).casefold() for r in records if r.get(key) not in (None, "")]
        results = []
        for record in records:
            value, fields = record.get(key), _fields(record)
            if value in (None, ""):
                results.append(failure("MISSING_ARGUMENT", f"{key} not specified"))
            elif values.count(str(value).casefold()) > 1:
                results.append(
                    failure("DUPLICATE_EXTERNAL_ID", f"Duplicate external id specified: {value}", [key])
                )
            else:
                matches = [i for i, r in self.records[name].items() if key_equal(spec, r.get(key), value)]
                if len(matches) > 1:
                    message = f"{key}: more than one record found for external id field: {matches}"
                    results.append(failure("DUPLICATE_EXTERNAL_ID", message, [key]))
                elif matches:
                    results.append(self._update(name, matches[0], fields) | {"created": False})
                else:
                    results.append(self._create(name, fields) | {"created": True})
        return FakeResponse(200, results)

    @route("DELETE", V + r"/composite/sobjects/?")
    def delete(self, request: FakeRequest) -> FakeResponse:
        ids = [i for i in (request.param("ids") or "").split(",") if i]
        if not ids:
            return errors(400, "MISSING_ARGUMENT", "ids is required")
        if len(ids) > MAX_RECORDS:
            return errors(
                400,
                "EXCEEDED_ID_LIMIT",
                "record limit reached. cannot submit more than 200 records into this call",
            )
        results = []
        for record_id in ids:
            kind = next((k for k, rows in self.records.items() if record_id in rows), None)
            problem = self._lookup_problem(kind, record_id)
            if problem is None:
                del self.records[str(kind)][record_id]
                self.deleted.add(record_id)
            results.append(problem or {"id": record_id, "success": True, "errors": []})
        return FakeResponse(200, results)

    # --- record rules -------------------------------------------------------------------------
    def _new_id(self, sobject: str) -> str:
        return f"{OBJECTS[sobject]['keyPrefix']}FAKE{next(self._ids):08d}AAA"

    def _lookup_problem(self, sobject: str | None, record_id: Any) -> dict[str, Any] | None:
        if not record_id:
            return failure("MISSING_ARGUMENT", "Id not specified in an update call")
        if not is_id(str(record_id)):
            return failure("MALFORMED_ID", f"malformed id {record_id}")
        if record_id in self.deleted:
            return failure("ENTITY_IS_DELETED", "entity is deleted")
        if sobject is None or record_id not in self.records.get(sobject, {}):
            return failure("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
        return None

    def _create(self, sobject: str, fields: dict[str, Any]) -> dict[str, Any]:
        if "id" in fields or "Id" in fields:
            return failure("INVALID_FIELD_FOR_INSERT_UPDATE", "cannot specify Id in an insert call", ["Id"])
        defaults = {f["name"]: False for f in OBJECTS[sobject]["fields"] if f["type"] == "boolean"}
        problem = self._invalid(sobject, fields, creating=True, merged={**defaults, **fields})
        if problem is not None:
            return problem
        record_id = self._new_id(sobject)
        self.records[sobject][record_id] = {**defaults, **fields, "Id": record_id}
        return {"id": record_id, "success": True, "errors": []}

    def _update(self, sobject: str, record_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        merged = {**self.records[sobject][record_id], **fields}
        problem = self._invalid(sobject, fields, creating=False, merged=merged, record_id=record_id)
        if problem is not None:
            return problem
        self.records[sobject][record_id] = merged
        return {"id": record_id, "success": True, "errors": []}

    def _invalid(
        self,
        sobject: str,
        fields: dict[str, Any],
        *,
        creating: bool,
        merged: dict[str, Any],
        record_id: str = "",
    ) -> dict[str, Any] | None:
        specs = {f["name"]: f for f in OBJECTS[sobject]["fields"]}
        for name, value in fields.items():
            spec = specs[name]
            if not (spec["createable"] if creating else spec["updateable"]):
                message = (
                    f"Unable to create/update fields: {name}. Please check the security settings of this "
                    "field and verify that it is read/write for your profile or permission set."
                )
                return failure("INVALID_FIELD_FOR_INSERT_UPDATE", message, [name])
            problem = check_value(spec, value)
            if problem is not None:
                return failure(*problem)
            if (
                value is not None
                and spec["type"] == "reference"
                and not any(value in r for r in self.records.values())
            ):
                return failure(
                    "INVALID_CROSS_REFERENCE_KEY",
                    f"{spec['label']}: id value of incorrect type: {value}",
                    [name],
                )
        missing = [
            n
            for n, s in specs.items()
            if s["createable"]
            and not s["nillable"]
            and not s["defaultedOnCreate"]
            and merged.get(n) in (None, "")
        ]
        if missing and (creating or any(n in fields for n in missing)):
            return failure(
                "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing
            )
        for name, spec in specs.items():
            value = merged.get(name)
            if spec.get("unique") and value not in (None, ""):
                clash = next(
                    (
                        i
                        for i, r in self.records[sobject].items()
                        if i != record_id and key_equal(spec, r.get(name), value)
                    ),
                    None,
                )
                if clash is not None:
                    message = f"duplicate value found: {name} duplicates value on record with id: {clash}"
                    return failure("DUPLICATE_VALUE", message, [])
        for rule in self.rules:
            if rule.sobject == sobject and rule.when(merged):
                return failure(rule.status_code, rule.message, rule.fields)
        return None


def _fields(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in ("attributes", "id")}
