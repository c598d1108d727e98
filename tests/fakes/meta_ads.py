"""A local fake of Meta's Marketing API custom audience endpoints, with Graph API shapes.

Served: ``GET /{v}/act_{id}`` (the ad account), ``GET /{v}/act_{id}/customaudiences`` (cursor
paging: ``paging.cursors.after`` and ``paging.next``), ``POST`` and ``DELETE /{v}/{audience}/users``
(``payload`` + ``session``, as a JSON body or form fields holding JSON). Like Meta it answers errors
as ``{"error": {"message", "type", "code", "error_subcode", "fbtrace_id", …}}`` with HTTP 400 —
rate limits included (code 80003 with ``X-Business-Use-Case-Usage``), and a bad token is code 190.

It checks what Meta checks: the access token (``access_token`` parameter or ``Authorization:
Bearer``/``OAuth``), ``appsecret_proof`` when built with an app secret, known schema keys, rows as
long as the schema, at most ``max_rows`` rows, SHA-256 hex for hashed keys, sessions in order
(``batch_seq`` 1, 2, … until ``last_batch_flag``). Invalid rows are counted in
``num_invalid_entries`` and sampled in ``invalid_entry_samples`` (``{entry: reason}``); the valid
ones change the audience's members, kept as one dict of keys per person so tests can assert on them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

import orjson

from tests.fakes.vendor_server import FakeRequest, FakeResponse, FakeVendorApi, route

TOKEN = "EAAB-fake-system-user-token-7c1e"
HASHED_KEYS = frozenset(
    {"EMAIL", "PHONE", "FN", "LN", "FI", "GEN", "DOBY", "DOBM", "DOBD", "CT", "ST", "ZIP", "COUNTRY"}
)
RAW_KEYS = frozenset({"MADID", "EXTERN_ID"})
IDENTIFIER_KEYS = frozenset({"EMAIL", "PHONE", "MADID", "EXTERN_ID"})
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_NODE = r"/(?P<v>v\d+\.\d+)"
MAX_SAMPLES = 10


@dataclass
class FakeAudience:
    id: str
    name: str
    subtype: str = "CUSTOM"
    flagged: bool = False  # operation_status 471: uploads are refused
    members: list[dict[str, str]] = field(default_factory=list)


@dataclass
class Upload:
    method: str
    audience_id: str
    schema: list[str]
    data: list[list[str]]
    session: dict[str, Any] | None


class FakeMetaAds(FakeVendorApi):
    def __init__(
        self,
        *,
        access_token: str = TOKEN,
        app_secret: str | None = None,
        ad_account_id: str = "1234567890",
        account_name: str = "Acme Ads",
        account_status: int = 1,
        audiences: list[FakeAudience] | None = None,
        page_size: int = 25,
        max_rows: int = 10_000,
        invalid_values: frozenset[str] | set[str] = frozenset(),
        sample_invalid: bool = True,
        regain_minutes: int = 0,
    ) -> None:
        super().__init__()
        self.access_token = access_token
        self.app_secret = app_secret
        self.ad_account_id = ad_account_id
        self.account_name = account_name
        self.account_status = account_status
        self.audiences: dict[str, FakeAudience] = {a.id: a for a in audiences or ()}
        self.page_size = page_size
        self.max_rows = max_rows
        self.invalid_values = set(invalid_values)  # values Meta counts as invalid entries
        self.sample_invalid = sample_invalid
        self.regain_minutes = regain_minutes
        self.uploads: list[Upload] = []
        self.sessions: dict[int, dict[str, Any]] = {}
        self.account_error: FakeResponse | None = None  # answer to the ad account read, if set
        self._scheduled: dict[int, FakeResponse] = {}
        self._upload_calls = 0
        self._trace = 0

    # --- for tests ----------------------------------------------------------------------------
    def add_audience(self, audience_id: str, name: str, **kwargs: Any) -> FakeAudience:
        with self.lock:
            audience = self.audiences[audience_id] = FakeAudience(audience_id, name, **kwargs)
            return audience

    def members(self, audience_id: str) -> list[dict[str, str]]:
        with self.lock:
            return [dict(m) for m in self.audiences[audience_id].members]

    def member_values(self, audience_id: str, key: str) -> set[str]:
        return {m[key] for m in self.members(audience_id) if key in m}

    def fail_upload(self, number: int, response: FakeResponse) -> None:
        """The ``number``-th /users request from now (1 = the next) gets ``response`` instead."""
        with self.lock:
            self._scheduled[self._upload_calls + number] = response

    # --- Meta's answers -----------------------------------------------------------------------
    def error(
        self,
        code: int,
        message: str,
        *,
        status: int = 400,
        subcode: int | None = None,
        kind: str = "OAuthException",
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> FakeResponse:
        self._trace += 1
        body: dict[str, Any] = {"message": message, "type": kind, "code": code}
        if subcode is not None:
            body["error_subcode"] = subcode
        body.update(extra)
        body["fbtrace_id"] = f"AfakeTrace{self._trace:04d}"
        return FakeResponse(status, {"error": body}, dict(headers or {}))

    def _token(self, request: FakeRequest) -> str | None:
        header = request.header("authorization") or ""
        scheme, _, value = header.partition(" ")
        if scheme.lower() in ("bearer", "oauth") and value:
            return value.strip()
        return request.param("access_token") or self._form(request).get("access_token")

    def authenticate(self, request: FakeRequest) -> FakeResponse | None:
        token = self._token(request)
        if not token:
            return self.error(104, "An access token is required to request this resource.")
        if not hmac.compare_digest(token, self.access_token):
            return self.error(190, "Invalid OAuth access token - Cannot parse access token", subcode=None)
        if self.app_secret is not None:
            proof = request.param("appsecret_proof")
            if not proof:
                message = "API calls from the server require an appsecret_proof argument"
                return self.error(100, message, kind="GraphMethodException")
            expected = hmac.new(self.app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()
            if not hmac.compare_digest(proof, expected):
                return self.error(
                    100, "Invalid appsecret_proof provided in the API argument", kind="GraphMethodException"
                )
        return None

    def rate_limited(self, request: FakeRequest) -> FakeResponse:
        usage = {
            self.ad_account_id: [
                {
                    "type": "custom_audience",
                    "call_count": 100,
                    "total_cputime": 20,
                    "total_time": 30,
                    "estimated_time_to_regain_access": self.regain_minutes,
                    "ads_api_access_tier": "development_access",
                }
            ]
        }
        return self.error(
            80003,
            "(#80003) There have been too many calls to this ad-account. Wait a bit and try again. For more "
            "info, please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting"
            "#custom-audience.",
            subcode=2446079,
            is_transient=True,
            headers={"X-Business-Use-Case-Usage": orjson.dumps(usage).decode()},
        )

    def not_found(self, request: FakeRequest) -> FakeResponse:
        return self.error(
            100,
            f"Unsupported {request.method.lower()} request. Object with ID '{request.path.strip('/')}' does "
            "not exist, cannot be loaded due to missing permissions, or does not support this operation.",
            subcode=33,
            kind="GraphMethodException",
        )

    # --- ad account ---------------------------------------------------------------------------
    @route("GET", _NODE + r"/act_(?P<account>\d+)")
    def account(self, request: FakeRequest) -> FakeResponse:
        if self.account_error is not None:
            return self.account_error
        if request.groups["account"] != self.ad_account_id:
            return self.not_found(request)
        node = {"id": f"act_{self.ad_account_id}", "name": self.account_name}
        node["account_status"] = self.account_status
        return FakeResponse(200, _only(node, request.param("fields")))

    @route("GET", _NODE + r"/act_(?P<account>\d+)/customaudiences")
    def customaudiences(self, request: FakeRequest) -> FakeResponse:
        if request.groups["account"] != self.ad_account_id:
            return self.not_found(request)
        limit = int(request.param("limit") or self.page_size)
        limit = min(limit, self.page_size)  # Meta caps page sizes too
        after = request.param("after")
        start = int(base64.b64decode(after).decode()) if after else 0
        audiences = list(self.audiences.values())
        page = audiences[start : start + limit]
        data = [_only(_audience_node(a), request.param("fields")) for a in page]
        body: dict[str, Any] = {"data": data}
        if page:
            body["paging"] = {"cursors": {"before": _cursor(start), "after": _cursor(start + len(page))}}
            if start + len(page) < len(audiences):
                query = {k: v[0] for k, v in request.query.items() if k not in ("access_token",)}
                query["after"] = _cursor(start + len(page))
                body["paging"]["next"] = f"{self.url}{request.path}?{urlencode(query)}"
        return FakeResponse(200, body)

    # --- users --------------------------------------------------------------------------------
    @route("POST", _NODE + r"/(?P<audience>\d+)/users")
    def add_users(self, request: FakeRequest) -> FakeResponse:
        return self._users(request, add=True)

    @route("DELETE", _NODE + r"/(?P<audience>\d+)/users")
    def remove_users(self, request: FakeRequest) -> FakeResponse:
        return self._users(request, add=False)

    def _form(self, request: FakeRequest) -> dict[str, str]:
        content_type = request.header("content-type") or ""
        if "application/x-www-form-urlencoded" not in content_type:
            return {}
        return {k: v[0] for k, v in parse_qs(request.body.decode(), keep_blank_values=True).items()}

    def _params(self, request: FakeRequest) -> dict[str, Any]:
        if "application/json" in (request.header("content-type") or ""):
            body = request.json
            return body if isinstance(body, dict) else {}
        params: dict[str, Any] = {}
        for name, value in self._form(request).items():
            try:
                params[name] = orjson.loads(value)
            except orjson.JSONDecodeError:
                params[name] = value
        return params

    def _users(self, request: FakeRequest, *, add: bool) -> FakeResponse:
        self._upload_calls += 1
        scheduled = self._scheduled.pop(self._upload_calls, None)
        if scheduled is not None:
            return scheduled
        audience = self.audiences.get(request.groups["audience"])
        if audience is None:
            return self.not_found(request)
        if audience.subtype != "CUSTOM":
            return self.error(
                2650,
                "(#2650) Failed to update the custom audience: This audience was created from data source "
                f"{audience.subtype}, which does not support data source FILE_IMPORTED.",
            )
        if audience.flagged:
            return self.error(
                100,
                "Invalid parameter",
                subcode=1713230,
                error_user_title="Audience Upload Blocked",
                error_user_msg="Before updating user memberships, you must resolve integrity restrictions on "
                "this Data File Custom Audience.",
            )
        params = self._params(request)
        payload = params.get("payload")
        if not isinstance(payload, dict):
            return self.error(100, "(#100) The parameter payload is required")
        schema = payload.get("schema")
        data = payload.get("data")
        if isinstance(schema, str):
            schema, data = [schema], [[v] for v in data or []]
        if not isinstance(schema, list) or not schema or not isinstance(data, list):
            return self.error(100, "(#100) payload: schema and data are required")
        unknown = [k for k in schema if k not in HASHED_KEYS | RAW_KEYS]
        if unknown or len(set(schema)) != len(schema):
            return self.error(100, f"(#100) payload.schema: invalid or repeated keys {unknown or schema}")
        if len(data) > self.max_rows:
            return self.error(100, f"(#100) payload.data: at most {self.max_rows} users per request")
        if any(not isinstance(row, list) or len(row) != len(schema) for row in data):
            return self.error(100, "(#100) payload.data: every row must have one value per schema key")
        session = params.get("session")
        problem = self._session(session, audience.id)
        if problem is not None:
            return problem
        self.uploads.append(Upload("POST" if add else "DELETE", audience.id, schema, data, session))
        samples: dict[str, str] = {}
        invalid = 0
        for row in data:
            person = {k: str(v) for k, v in zip(schema, row, strict=True) if v not in ("", None)}
            reason = _invalid(person, self.invalid_values)
            if reason is not None:
                invalid += 1
                if self.sample_invalid and len(samples) < MAX_SAMPLES:
                    samples[reason[0]] = reason[1]
                continue
            (_add if add else _remove)(audience, person)
        session_id = str(session["session_id"]) if isinstance(session, dict) else str(self._trace)
        return FakeResponse(
            200,
            {
                "audience_id": audience.id,
                "session_id": session_id,
                "num_received": len(data),
                "num_invalid_entries": invalid,
                "invalid_entry_samples": samples,
            },
        )

    def _session(self, session: Any, audience_id: str) -> FakeResponse | None:
        if session is None:
            return None
        if not isinstance(session, dict) or not isinstance(session.get("session_id"), int):
            return self.error(100, "(#100) session: session_id must be an integer")
        sid, seq = session["session_id"], session.get("batch_seq")
        state = self.sessions.setdefault(sid, {"audience": audience_id, "next": 1, "done": False})
        if state["done"]:
            return self.error(100, f"(#100) session: upload session {sid} has already finished")
        if seq != state["next"]:
            expected = state["next"]
            return self.error(100, f"(#100) session: batch_seq {seq} is out of order, expected {expected}")
        state["next"] += 1
        state["done"] = bool(session.get("last_batch_flag"))
        state["estimated_num_total"] = session.get("estimated_num_total")
        return None


def _cursor(position: int) -> str:
    return base64.b64encode(str(position).encode()).decode()


def _only(node: dict[str, Any], fields: str | None) -> dict[str, Any]:
    if not fields:
        return {"id": node["id"]}  # Graph returns only the id unless fields are asked for
    wanted = {f.strip() for f in fields.split(",")} | {"id"}
    return {k: v for k, v in node.items() if k in wanted}


def _audience_node(audience: FakeAudience) -> dict[str, Any]:
    status = {"code": 471, "description": "Flagged"} if audience.flagged else {"code": 200}
    return {"id": audience.id, "name": audience.name, "subtype": audience.subtype, "operation_status": status}


def _invalid(person: dict[str, str], rejected: set[str]) -> tuple[str, str] | None:
    """(the invalid entry, why) for a row Meta would not take, else None."""
    if not person:
        return "", "Empty row"
    for key, value in person.items():
        if key in HASHED_KEYS and not _SHA256.match(value):
            return value, f"Invalid {key} hash"
        if key == "MADID" and not _UUID.match(value):
            return value, "Invalid MADID"
        if value in rejected:
            return value, f"Invalid {key}"
    return None


def _same_person(member: dict[str, str], person: dict[str, str]) -> bool:
    keys = IDENTIFIER_KEYS & member.keys() & person.keys()
    if keys:
        return any(member[k] == person[k] for k in keys)
    return member == person


def _add(audience: FakeAudience, person: dict[str, str]) -> None:
    for member in audience.members:
        if _same_person(member, person):
            member.update(person)
            return
    audience.members.append(dict(person))


def _remove(audience: FakeAudience, person: dict[str, str]) -> None:
    audience.members = [m for m in audience.members if not _same_person(m, person)]
