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
from typing import Any
from urllib.parse import parse_qs

from tests.fakes.salesforce_org import (
    CLIENT_ID,
    CLIENT_SECRET,
    LATEST_VERSION,
    MAX_RECORDS,
    OBJECTS,
    REFRESH_TOKEN,
    SOQL_PATTERN,
    TOKEN_PATH,
    Rule,
    V,
    check_value,
    errors,
    failure,
    is_id,
    key_equal,
    soql_values,
)
from tests.fakes.vendor_server import FakeRequest, FakeResponse, FakeVendorApi, route

# Tests import the org's names from here too.
__all__ = [
    "CLIENT_ID",
    "CLIENT_SECRET",
    "OBJECTS",
    "REFRESH_TOKEN",
    "FakeSalesforce",
    "errors",
    "soql_values",
]


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
        match = SOQL_PATTERN.match(request.param("q") or "")
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
