"""A local fake of HubSpot's CRM v3 API: objects, batch writes, properties, schemas and errors.

It answers the way HubSpot's documentation says HubSpot does
(https://developers.hubspot.com/docs/guides/crm/using-object-apis,
https://developers.hubspot.com/docs/api-reference/error-handling): Bearer private-app tokens (401
``INVALID_AUTHENTICATION`` otherwise), 403 ``MISSING_SCOPES`` for objects the token may not touch,
at most 100 inputs per batch, property values checked against their property (existence,
read-only, number, bool, enumeration options, dates, contact emails), a 207 Multi-Status with
per-input errors naming ``context.objectWriteTraceId`` when every input carries one (a 400 for
the whole batch, nothing applied, when they do not), upsert by ``idProperty``, archive by ID (204
whatever the record's state) and 429 with HubSpot's rate-limit body. Records are plain dicts in
``records[object]`` so tests can assert what was stored.
"""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import orjson

from tests.fakes.vendor_server import FakeRequest, FakeResponse, FakeVendorApi, route

TOKEN = "pat-na1-11111111-2222-3333-4444-555555555555"
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
NUMBER = re.compile(r"-?\d+(\.\d+)?")
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})")
BATCH_PATH = r"/crm/v3/objects/(?P<object>[^/]+)/batch/(?P<action>create|upsert|update|archive|read)"
TYPE_IDS = {"contacts": "0-1", "companies": "0-2", "deals": "0-3", "tickets": "0-5"}
SINGULAR = {"contacts": "Contact", "companies": "Company", "deals": "Deal", "tickets": "Ticket"}


# object (* = every object), property, type, fieldType, flags (-, readonly, calculated, unique,
# external), options. Names, types and field types as HubSpot's default properties have them.
CATALOG = """
*          hs_object_id         number       number          readonly
*          createdate           datetime     date            readonly
*          hs_lastmodifieddate  datetime     date            readonly
contacts   email                string       text
contacts   firstname            string       text
contacts   lastname             string       text
contacts   phone                string       phonenumber
contacts   mobilephone          phone_number phonenumber
contacts   lifecyclestage       enumeration  radio           -           subscriber,lead,opportunity,customer
contacts   hs_buying_role       enumeration  checkbox        -           BUDGET_HOLDER,DECISION_MAKER,END_USER
contacts   hubspot_owner_id     enumeration  select          external
contacts   date_of_birth        date         date
contacts   hs_email_optout      bool         booleancheckbox -           true,false
contacts   hubspotscore         number       number          calculated
contacts   external_id          string       text            unique
companies  name                 string       text
companies  domain               string       text
companies  numberofemployees    number       number
companies  industry             enumeration  select          -           SOFTWARE,RETAIL
deals      dealname             string       text
deals      amount               number       number
deals      pipeline             enumeration  select          -           default
deals      dealstage            enumeration  radio           -           appointmentscheduled,closedwon
deals      closedate            datetime     date
deals      deal_ref             string       text            unique
tickets    subject              string       text
tickets    content              string       textarea
tickets    hs_pipeline          enumeration  select          -           0
tickets    hs_pipeline_stage    enumeration  radio           -           1,2,3,4
tickets    hs_ticket_priority   enumeration  select          -           LOW,MEDIUM,HIGH
"""


def prop(
    name: str, type: str = "string", field_type: str = "text", flags: str = "-", options: str = ""
) -> dict:
    """A property definition as GET /crm/v3/properties/{objectType} lists it."""
    read_only = flags == "readonly"
    return {
        "name": name,
        "label": name.replace("_", " ").title(),
        "type": type,
        "fieldType": field_type,
        "groupName": "syncline_fake",
        "options": [
            {"label": o.title(), "value": o, "displayOrder": n, "hidden": False}
            for n, o in enumerate(filter(None, options.split(",")))
        ],
        "hasUniqueValue": flags == "unique",
        "calculated": flags == "calculated",
        "externalOptions": flags == "external",
        "hidden": False,
        "archived": False,
        "modificationMetadata": {"archivable": not read_only, "readOnlyValue": read_only},
    }


def catalog(object_name: str) -> dict[str, dict]:
    rows = [line.split() for line in CATALOG.strip().splitlines()]
    return {row[1]: prop(*row[1:]) for row in rows if row[0] in ("*", object_name)}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class FakeHubSpot(FakeVendorApi):
    def __init__(
        self, token: str = TOKEN, *, denied: Iterable[str] = (), schemas_denied: bool = False
    ) -> None:
        super().__init__()
        self.token = token
        self.portal_id = 24681357
        self.properties = {o: catalog(o) for o in TYPE_IDS}
        self.records: dict[str, dict[str, dict]] = {o: {} for o in self.properties}
        self.schemas: list[dict] = []
        self.required: dict[str, list[str]] = {}
        self.denied = set(denied)  # objects the token has no scope for
        self.schemas_denied = schemas_denied
        self.rate_limit_policy = "TEN_SECONDLY_ROLLING"
        self.rate_limit_interval_ms = 10_000
        self._ids = 5100

    # --- set-up and inspection helpers ---------------------------------------------------------
    def add_property(self, object_name: str, name: str, *spec: str, label: str | None = None) -> dict:
        """Add a property: ``spec`` is (type, fieldType, flags, options) as in CATALOG."""
        definition = prop(name, *spec)
        definition["label"] = label or definition["label"]
        self.properties[self._key(object_name)][name] = definition
        return definition

    def add_custom_object(self, name: str, properties: list[dict], *, required: Iterable[str] = ()) -> dict:
        number = 2_000_000 + len(self.schemas) + 1
        schema = {
            "id": str(number),
            "objectTypeId": f"2-{number}",
            "name": name,
            "fullyQualifiedName": f"p{self.portal_id}_{name}",
            "labels": {"singular": name.title(), "plural": f"{name.title()}s"},
            "requiredProperties": list(required),
            "primaryDisplayProperty": properties[0]["name"],
            "archived": False,
            "metaType": "PORTAL_SPECIFIC",
        }
        self.schemas.append(schema)
        key = schema["objectTypeId"]
        self.properties[key] = {**catalog(key), **{p["name"]: p for p in properties}}
        self.records[key], self.required[key] = {}, list(required)
        return schema

    def stored(self, object_name: str) -> list[dict[str, str]]:
        """The properties of every stored record of an object."""
        return [r["properties"] for r in self.records[self._key(object_name)].values()]

    def find(self, object_name: str, name: str, value: str) -> dict | None:
        key = self._key(object_name)
        wanted = value.lower() if name == "email" else value
        return next((r for r in self.records[key].values() if r["properties"].get(name) == wanted), None)

    def _key(self, name: str) -> str:
        """An object's key in ``records`` from any of its names (custom objects' short name too)."""
        schema = next((s for s in self.schemas if s["name"] == name), None)
        return schema["objectTypeId"] if schema else self._resolve(name) or name

    def _resolve(self, segment: str) -> str | None:
        for name, type_id in TYPE_IDS.items():
            if segment in (name, type_id):
                return name
        for schema in self.schemas:
            if segment in (schema["objectTypeId"], schema["fullyQualifiedName"]):
                return schema["objectTypeId"]
        return None

    # --- HubSpot's answers ---------------------------------------------------------------------
    def error(self, status: int, message: str, category: str, **extra: Any) -> FakeResponse:
        body = {
            "status": "error",
            "message": message,
            "correlationId": str(uuid.uuid4()),
            "category": category,
        }
        return FakeResponse(status, {**body, **extra})

    def authenticate(self, request: FakeRequest) -> FakeResponse | None:
        if request.header("authorization") == f"Bearer {self.token}":
            return None
        return self.error(
            401,
            "Authentication credentials not found. This API supports OAuth 2.0 authentication "
            "and you can find more details at https://developers.hubspot.com/docs/methods/auth/"
            "oauth-overview",
            "INVALID_AUTHENTICATION",
        )

    def rate_limited(self, request: FakeRequest) -> FakeResponse:
        name = self.rate_limit_policy.lower()
        response = self.error(
            429,
            f"You have reached your {name} limit.",
            "RATE_LIMITS",
            errorType="RATE_LIMIT",
            policyName=self.rate_limit_policy,
        )
        response.headers = {
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(self.rate_limit_interval_ms),
            "X-HubSpot-RateLimit-Max": "100",
            "X-HubSpot-RateLimit-Remaining": "0",
        }
        return response

    def _missing_scope(self, object_name: str) -> FakeResponse:
        return self.error(
            403,
            "This app hasn't been granted all required scopes to make this call. Read more about required "
            "scopes here: https://developers.hubspot.com/scopes.",
            "MISSING_SCOPES",
            errors=[
                {
                    "message": "One or more of the following scopes are required.",
                    "context": {"requiredGranularScopes": [f"crm.objects.{object_name}.write"]},
                }
            ],
            links={"scopes": "https://developers.hubspot.com/scopes"},
        )

    def _object(self, request: FakeRequest) -> tuple[str | None, FakeResponse | None]:
        name = self._resolve(request.groups["object"])
        if name is None:
            return None, self.error(
                400, f"Unable to infer object type from: {request.groups['object']}", "VALIDATION_ERROR"
            )
        return name, self._missing_scope(name) if name in self.denied else None

    # --- catalog -------------------------------------------------------------------------------
    @route("GET", r"/crm/v3/schemas")
    def list_schemas(self, request: FakeRequest) -> FakeResponse:
        if self.schemas_denied:
            return self._missing_scope("schemas.custom.read")
        return FakeResponse(
            200,
            {
                "results": [
                    {**s, "properties": list(self.properties[s["objectTypeId"]].values())}
                    for s in self.schemas
                ]
            },
        )

    @route("GET", r"/crm/v3/properties/(?P<object>[^/]+)")
    def list_properties(self, request: FakeRequest) -> FakeResponse:
        name, denied = self._object(request)
        return denied or FakeResponse(200, {"results": copy.deepcopy(list(self.properties[name].values()))})

    @route("GET", r"/crm/v3/objects/(?P<object>[^/]+)")
    def list_records(self, request: FakeRequest) -> FakeResponse:
        name, denied = self._object(request)
        limit = int(request.param("limit", "10") or 10)
        return denied or FakeResponse(200, {"results": list(self.records[name].values())[:limit]})

    # --- batch writes --------------------------------------------------------------------------
    @route("POST", BATCH_PATH)
    def batch(self, request: FakeRequest) -> FakeResponse:
        name, denied = self._object(request)
        if denied:
            return denied
        body = request.json if request.body else None
        inputs = body.get("inputs") if isinstance(body, dict) else None
        if not isinstance(inputs, list):
            return self.error(400, "Invalid input JSON on line 1: inputs must be a list", "VALIDATION_ERROR")
        if len(inputs) > 100:
            return self.error(
                400,
                f"Batch input limit exceeded: {len(inputs)} inputs received, the limit is 100",
                "VALIDATION_ERROR",
            )
        action = request.groups["action"]
        if action == "archive":
            for item in inputs:
                self.records[name].pop(str(item.get("id")), None)
            return FakeResponse(204, None)
        if action == "read":
            return self._read(name, body, inputs)
        ids = [str(i.get("id")).lower() for i in inputs if action != "create"]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            return self.error(
                400,
                f"Duplicate IDs found in batch input: {duplicates}. IDs must be unique",
                "VALIDATION_ERROR",
                context={"ids": duplicates},
            )
        return self._write(name, action, inputs)

    def _read(self, name: str, body: dict, inputs: list[dict]) -> FakeResponse:
        id_property = body.get("idProperty") or "hs_object_id"
        results, missing = [], []
        for item in inputs:
            record = self.find(name, id_property, str(item.get("id")))
            (results.append(record) if record else missing.append(str(item.get("id"))))
        errors = [
            {
                "status": "error",
                "category": "OBJECT_NOT_FOUND",
                "message": f"Could not get some {name} objects, they may be deleted or not exist.",
                "context": {"ids": missing},
            }
        ]
        return self._answer(results, errors if missing else [], 200)

    def _write(self, name: str, action: str, inputs: list[dict]) -> FakeResponse:
        traced = all(i.get("objectWriteTraceId") for i in inputs)
        results, errors, plans = [], [], []
        for item in inputs:
            target, problem = self._plan(name, action, item)
            if problem is None:
                plans.append((item, target))
                continue
            if not traced:  # without trace IDs HubSpot cannot say which input failed: all fail
                category, message = problem
                return self.error(400 if category != "CONFLICT" else 409, message, category)
            errors.append(
                {
                    "status": "error",
                    "category": problem[0],
                    "message": problem[1],
                    "context": {"objectWriteTraceId": [item["objectWriteTraceId"]]},
                }
            )
        for item, target in plans:
            results.append(self._apply(name, action, item, target))
        return self._answer(results, errors, 201 if action == "create" else 200)

    def _answer(self, results: list[dict], errors: list[dict], ok_status: int) -> FakeResponse:
        body = {"status": "COMPLETE", "results": results, "startedAt": _now(), "completedAt": _now()}
        if errors:
            body.update(numErrors=len(errors), errors=errors)
        return FakeResponse(207 if errors else ok_status, body)

    def _plan(self, name: str, action: str, item: dict) -> tuple[dict | None, tuple[str, str] | None]:
        """(the existing record written to, or None to create; (category, message) if refused)."""
        properties = {k: _text(v) for k, v in (item.get("properties") or {}).items()}
        id_property = item.get("idProperty")
        target = None
        if action == "upsert" and not id_property:
            return None, ("VALIDATION_ERROR", "idProperty is required to upsert")
        if action in ("upsert", "update"):
            key = str(item.get("id"))
            spec = self.properties[name].get(id_property or "hs_object_id")
            if id_property and (
                spec is None or not (spec["hasUniqueValue"] or (name, id_property) == ("contacts", "email"))
            ):
                return None, ("VALIDATION_ERROR", f'Property "{id_property}" is not a unique identifier')
            target = self.find(name, id_property, key) if id_property else self.records[name].get(key)
            if target is None and action == "update":
                return None, (
                    "OBJECT_NOT_FOUND",
                    f"Could not find {name} record with {id_property or 'id'} "
                    f"{key}. It may be deleted or not exist.",
                )
            if target is None:
                properties = {id_property: key, **properties}
        invalid = [self._check(name, k, v) for k, v in properties.items()]
        invalid = [i for i in invalid if i is not None]
        if target is None and not invalid:
            invalid += [
                self._result_item(p, "REQUIRED_PROPERTY", f'Property "{p}" is required')
                for p in self.required.get(name, ())
                if not properties.get(p)
            ]
        if invalid:
            return None, (
                "VALIDATION_ERROR",
                "Property values were not valid: " + orjson.dumps(invalid).decode(),
            )
        for key, value in properties.items():
            unique = self.properties[name][key]["hasUniqueValue"] or (name, key) == ("contacts", "email")
            other = self.find(name, key, value) if unique and value else None
            if other is not None and other is not target:
                label = SINGULAR.get(name, "Object")
                return None, ("CONFLICT", f"{label} already exists. Existing ID: {other['id']}")
        item["properties"] = properties
        return target, None

    def _result_item(self, name: str, code: str, message: str) -> dict:
        return {
            "isValid": False,
            "message": message,
            "error": code,
            "name": name,
            "localizedErrorMessage": message,
            "portalId": self.portal_id,
        }

    def _check(self, object_name: str, name: str, value: str) -> dict | None:
        spec = self.properties[object_name].get(name)
        if spec is None:
            return self._result_item(name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist')
        if spec["modificationMetadata"]["readOnlyValue"] or spec["calculated"]:
            return self._result_item(
                name, "READ_ONLY_VALUE", f'"{name}" is a read only property; its value cannot be set.'
            )
        kind, options = spec["type"], {o["value"] for o in spec["options"]}
        if value == "":
            return None
        if (object_name, name) == ("contacts", "email") and not EMAIL.fullmatch(value):
            return self._result_item(name, "INVALID_EMAIL", f"Email address {value} is invalid")
        if kind == "number" and not NUMBER.fullmatch(value):
            return self._result_item(name, "INVALID_LONG", f"{value} is not a valid number")
        if kind == "bool" and value not in ("true", "false"):
            return self._result_item(
                name, "INVALID_BOOLEAN", f"{value} is not a valid boolean (true or false)"
            )
        if kind == "date" and not (DATE.fullmatch(value) or value.isdigit()):
            return self._result_item(name, "INVALID_DATE", f"{value} is not a valid date")
        if kind == "datetime" and not (DATETIME.fullmatch(value) or value.isdigit()):
            return self._result_item(name, "INVALID_DATETIME", f"{value} is not a valid datetime")
        chosen = [v for v in value.split(";") if v] if spec["fieldType"] == "checkbox" else [value]
        if kind == "enumeration" and options and any(v not in options for v in chosen):
            return self._result_item(
                name,
                "INVALID_OPTION",
                f"{value} was not one of the allowed options: [{', '.join(sorted(options))}]",
            )
        return None

    def _apply(self, name: str, action: str, item: dict, target: dict | None) -> dict:
        now = _now()
        new = target is None
        if new:
            self._ids += 1
            target = {
                "id": str(self._ids),
                "properties": {"hs_object_id": str(self._ids), "createdate": now},
                "createdAt": now,
                "archived": False,
            }
            self.records[name][target["id"]] = target
        for key, value in item["properties"].items():
            if value == "":
                target["properties"].pop(key, None)
            else:
                target["properties"][key] = value.lower() if key == "email" else value
        target["properties"]["hs_lastmodifieddate"] = target["updatedAt"] = now
        result = {**copy.deepcopy(target), "objectWriteTraceId": item.get("objectWriteTraceId")}
        return {**result, "new": new} if action == "upsert" else result
