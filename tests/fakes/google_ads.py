"""A local fake of the Google Ads API (REST) for Customer Match, with Google's OAuth token endpoint.

It speaks the real shapes: the OAuth refresh grant (``invalid_grant`` for a wrong refresh token),
``googleAds:search`` for user lists and job status (paged with ``nextPageToken``),
``offlineUserDataJobs:create``, ``:addOperations`` (partial failure: refused operations in
``partialFailureError`` as a ``GoogleAdsFailure`` whose ``fieldPathElements`` name the operation;
the other operations are kept) and ``:run``, and errors as ``{"error": {"code", "message", "status",
"details": [GoogleAdsFailure]}}``. A job goes PENDING -> RUNNING -> SUCCESS over status polls and only
then changes the list, whose members (hashed identifiers) tests can read.

Faults: ``throttle``/``fail_next`` (from the base) hit the job calls (create, addOperations, run),
not the token endpoint or searches; ``reject(value)`` makes Google refuse an identifier;
``fail_next_job(reason)`` makes the next job FAILED; ``revoke_access_tokens()`` makes the API
answer 401 to the tokens handed out so far. ``developer_token`` set = the pre-sunset behaviour
of checking the developer-token header; None (default) = ignoring it, as Google does since 2026-09.
"""

from __future__ import annotations

import itertools
import re
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from tests.fakes.vendor_server import FakeRequest, FakeResponse, FakeVendorApi, route

CUSTOMER = r"/(?P<version>v\d+)/customers/(?P<cid>\d+)"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_KINDS = ("hashedEmail", "hashedPhoneNumber", "mobileId", "thirdPartyUserId", "addressInfo")
_ALLOWED = {
    "CONTACT_INFO": {"hashedEmail", "hashedPhoneNumber", "addressInfo"},
    "CRM_ID": {"thirdPartyUserId"},
    "MOBILE_ADVERTISING_ID": {"mobileId"},
}
_SNAKE = {
    "hashedEmail": "hashed_email",
    "hashedPhoneNumber": "hashed_phone_number",
    "mobileId": "mobile_id",
    "thirdPartyUserId": "third_party_user_id",
    "addressInfo": "address_info",
}
UNAUTHENTICATED_MESSAGE = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other "
    "valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."
)


@dataclass
class FakeUserList:
    id: str
    name: str
    upload_key_type: str = "CONTACT_INFO"
    type: str = "CRM_BASED"
    members: set[tuple[str, str]] = field(default_factory=set)  # (identifier kind, value)


@dataclass
class FakeJob:
    id: str
    user_list: FakeUserList
    consent: dict[str, str]
    kind: str | None = None  # "create" or "remove", fixed by the first operation
    operations: list[list[dict[str, Any]]] = field(default_factory=list)
    status: str = "PENDING"
    started: bool = False
    polls: int = 0
    failure_reason: str | None = None


class FakeGoogleAds(FakeVendorApi):
    FIRST_ID = 7_000_000_001  # IDs (lists, then jobs) count up from here: a new fake's first list has it

    def __init__(
        self,
        *,
        customer_id: str = "1234567890",
        client_id: str = "fake-client.apps.googleusercontent.com",
        client_secret: str = "fake-client-secret-7f3a",
        refresh_token: str = "1//fake-refresh-token-91c2",
        developer_token: str | None = None,
        manager_id: str | None = None,
        version: str = "v26",
        polls_to_finish: int = 2,
        page_size: int = 10_000,
        max_identifiers_per_request: int = 100_000,
        retry_delay: str = "1s",
    ) -> None:
        super().__init__()
        self.customer_id, self.client_id, self.client_secret = customer_id, client_id, client_secret
        self.refresh_token, self.developer_token, self.manager_id = refresh_token, developer_token, manager_id
        self.version, self.polls_to_finish, self.page_size = version, polls_to_finish, page_size
        self.max_identifiers_per_request, self.retry_delay = max_identifiers_per_request, retry_delay
        self.user_lists: dict[str, FakeUserList] = {}
        self.jobs: dict[str, FakeJob] = {}
        self.access_tokens: set[str] = set()
        self.token_requests = 0
        self.refuse_new_tokens = False
        self.rejected: dict[str, tuple[str, str]] = {}
        self._next_job_failure: str | None = None
        self._ids = itertools.count(self.FIRST_ID)

    # --- set-up and inspection ------------------------------------------------------------------
    def add_user_list(
        self, name: str, upload_key_type: str = "CONTACT_INFO", *, type: str = "CRM_BASED"
    ) -> str:
        list_id = str(next(self._ids))
        self.user_lists[list_id] = FakeUserList(list_id, name, upload_key_type, type)
        return list_id

    def members(self, list_id: str, kind: str = "hashedEmail") -> set[str]:
        return {value for k, value in self.user_lists[list_id].members if k == kind}

    def reject(self, value: str, code: str = "INCOMPATIBLE_USER_IDENTIFIER", message: str = "") -> None:
        """Google refuses this identifier value (a hash, CRM ID or mobile ID) in every operation."""
        self.rejected[value] = (code, message or "The user identifier cannot be used for this list.")

    def fail_next_job(self, reason: str = "UNSPECIFIED") -> None:
        self._next_job_failure = reason

    def revoke_access_tokens(self, *, including_new: bool = False) -> None:
        """Refuse the access tokens handed out so far (and, if asked, every later one too)."""
        self.access_tokens.clear()
        self.refuse_new_tokens = including_new

    def finish_jobs(self) -> None:
        """Complete every started job now (what Google does hours later)."""
        with self.lock:
            for job in self.jobs.values():
                if job.started and job.status not in ("SUCCESS", "FAILED"):
                    self._complete(job)

    # --- what the base asks for -----------------------------------------------------------------
    def handle(self, request: FakeRequest) -> FakeResponse:
        # Faults injected with throttle/fail_next target the job calls: token refreshes and
        # searches (catalog, job status) pass, so a test knows which call fails.
        if request.path == "/token" or request.path.endswith("googleAds:search"):
            with self.lock:
                held = self._throttle, self._failures
                self._throttle, self._failures = 0, []
                try:
                    return super().handle(request)
                finally:
                    self._throttle, self._failures = held
        return super().handle(request)

    def authenticate(self, request: FakeRequest) -> FakeResponse | None:
        if request.path == "/token":
            return None
        auth = request.header("authorization") or ""
        if not auth.startswith("Bearer ") or auth.removeprefix("Bearer ") not in self.access_tokens:
            return error(401, "UNAUTHENTICATED", UNAUTHENTICATED_MESSAGE)
        if self.developer_token is not None:
            token = request.header("developer-token")
            if token is None:
                return self._error(
                    400,
                    "INVALID_ARGUMENT",
                    "requestError",
                    "DEVELOPER_TOKEN_PARAMETER_MISSING",
                    "Developer token is missing.",
                )
            if token != self.developer_token:
                return self._error(
                    401,
                    "UNAUTHENTICATED",
                    "authenticationError",
                    "DEVELOPER_TOKEN_INVALID",
                    "The developer token is not valid.",
                )
        match = re.match(CUSTOMER, request.path)
        if match and match["version"] != self.version:
            return error(404, "NOT_FOUND", f"Version {match['version']} is not available.")
        denied = "USER_PERMISSION_DENIED"
        login = request.header("login-customer-id")
        if self.manager_id is not None and login not in (None, self.manager_id):
            denied = "INVALID_LOGIN_CUSTOMER_ID_SERVING_CUSTOMER_ID_COMBINATION"
        if match and (match["cid"] != self.customer_id or (self.manager_id and login != self.manager_id)):
            return self._error(
                403,
                "PERMISSION_DENIED",
                "authorizationError",
                denied,
                "User doesn't have permission to access customer. Note: If you're accessing a "
                "client customer, the manager's customer id must be set in the "
                "'login-customer-id' header.",
            )
        return None

    def rate_limited(self, request: FakeRequest) -> FakeResponse:
        seconds = self.retry_delay.removesuffix("s")
        item = ads_error(
            "quotaError", "RESOURCE_EXHAUSTED", f"Too many requests. Retry in {seconds} seconds."
        )
        item["details"] = {
            "quotaErrorDetails": {
                "rateScope": "DEVELOPER",
                "rateName": "Number of operations for basic access",
                "retryDelay": self.retry_delay,
            }
        }
        return error(
            429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).", [item], self.version
        )

    def _error(self, http: int, status: str, category: str, value: str, message: str) -> FakeResponse:
        return error(http, status, message, [ads_error(category, value, message)], self.version)

    # --- OAuth ------------------------------------------------------------------------------------
    @route("POST", r"/token")
    def token(self, request: FakeRequest) -> FakeResponse:
        self.token_requests += 1
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        if form.get("grant_type") != "refresh_token":
            return FakeResponse(
                400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type"}
            )
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return FakeResponse(401, {"error": "invalid_client", "error_description": "Unauthorized"})
        if form.get("refresh_token") != self.refresh_token:
            return FakeResponse(400, {"error": "invalid_grant", "error_description": "Bad Request"})
        access = f"ya29.fake-{uuid.uuid4().hex}"
        if not self.refuse_new_tokens:
            self.access_tokens.add(access)
        return FakeResponse(
            200,
            {
                "access_token": access,
                "expires_in": 3599,
                "token_type": "Bearer",
                "scope": "https://www.googleapis.com/auth/adwords",
            },
        )

    # --- GoogleAdsService.Search ------------------------------------------------------------------
    @route("POST", CUSTOMER + r"/googleAds:search")
    def search(self, request: FakeRequest) -> FakeResponse:
        query = str((request.json or {}).get("query", ""))
        resource = re.search(r"\bFROM\s+(\w+)", query, re.IGNORECASE)
        if resource and resource.group(1) == "user_list":
            crm_only = re.search(r"user_list\.type\s*=\s*'CRM_BASED'", query) is not None
            rows = [
                self._list_row(ul)
                for ul in self.user_lists.values()
                if ul.type == "CRM_BASED" or not crm_only
            ]
        elif resource and resource.group(1) == "offline_user_data_job":
            name = re.search(r"resource_name\s*=\s*'([^']+)'", query)
            job = self.jobs.get(name.group(1).rsplit("/", 1)[-1]) if name else None
            rows = [self._job_row(self._poll(job))] if job else []
        else:
            return self._error(
                400,
                "INVALID_ARGUMENT",
                "queryError",
                "BAD_RESOURCE_TYPE_IN_FROM_CLAUSE",
                "Error in query: unexpected resource in FROM clause.",
            )
        start = int((request.json or {}).get("pageToken") or 0)
        page: dict[str, Any] = {"fieldMask": "…"}
        if rows[start : start + self.page_size]:
            page["results"] = rows[start : start + self.page_size]
        if start + self.page_size < len(rows):
            page["nextPageToken"] = str(start + self.page_size)
        return FakeResponse(200, page)

    def _list_row(self, ul: FakeUserList) -> dict[str, Any]:
        return {
            "userList": {
                "resourceName": f"customers/{self.customer_id}/userLists/{ul.id}",
                "id": ul.id,
                "name": ul.name,
                "type": ul.type,
                "crmBasedUserList": {"uploadKeyType": ul.upload_key_type},
            }
        }

    def _job_row(self, job: FakeJob) -> dict[str, Any]:
        row = {
            "resourceName": self._job_name(job),
            "id": job.id,
            "status": job.status,
            "type": "CUSTOMER_MATCH_USER_LIST",
        }
        if job.status == "FAILED":
            row["failureReason"] = job.failure_reason
        return {"offlineUserDataJob": row}

    def _poll(self, job: FakeJob) -> FakeJob:
        if job.started and job.status in ("PENDING", "RUNNING"):
            job.polls += 1
            job.status = "RUNNING"
            if job.polls >= self.polls_to_finish:
                self._complete(job)
        return job

    def _complete(self, job: FakeJob) -> None:
        if job.failure_reason is not None:
            job.status = "FAILED"
            return
        for identifiers in job.operations:
            for identifier in identifiers:
                member = _member(identifier)
                (job.user_list.members.add if job.kind == "create" else job.user_list.members.discard)(member)
        job.status = "SUCCESS"

    def _job_name(self, job: FakeJob) -> str:
        return f"customers/{self.customer_id}/offlineUserDataJobs/{job.id}"

    # --- OfflineUserDataJobService ----------------------------------------------------------------
    @route("POST", CUSTOMER + r"/offlineUserDataJobs:create")
    def create_job(self, request: FakeRequest) -> FakeResponse:
        job = (request.json or {}).get("job") or {}
        metadata = job.get("customerMatchUserListMetadata") or {}
        list_id = str(metadata.get("userList", "")).removeprefix(f"customers/{self.customer_id}/userLists/")
        user_list = self.user_lists.get(list_id)
        if (
            job.get("type") != "CUSTOMER_MATCH_USER_LIST"
            or user_list is None
            or user_list.type != "CRM_BASED"
        ):
            return self._error(
                400,
                "INVALID_ARGUMENT",
                "offlineUserDataJobError",
                "INVALID_USER_LIST_ID",
                "The user list ID provided for the job is invalid.",
            )
        consent = metadata.get("consent") or {}
        if "DENIED" in consent.values():
            return self._error(
                400,
                "INVALID_ARGUMENT",
                "offlineUserDataJobError",
                "CUSTOMER_NOT_ACCEPTED_CUSTOMER_DATA_TERMS",
                "Customer has not accepted the customer data terms.",
            )
        created = FakeJob(str(next(self._ids)), user_list, consent)
        self.jobs[created.id] = created
        return FakeResponse(200, {"resourceName": self._job_name(created)})

    def _unstarted_job(self, request: FakeRequest) -> FakeJob | FakeResponse:
        """The job named in the path, or Google's answer when it is unknown or already running."""
        job = self.jobs.get(request.groups["job"])
        if job is None:
            return error(404, "NOT_FOUND", "Requested entity was not found.")
        if job.started:
            return self._error(
                400,
                "INVALID_ARGUMENT",
                "offlineUserDataJobError",
                "JOB_ALREADY_STARTED",
                "The job has already been started and cannot be modified.",
            )
        return job

    @route("POST", CUSTOMER + r"/offlineUserDataJobs/(?P<job>\d+):addOperations")
    def add_operations(self, request: FakeRequest) -> FakeResponse:
        job = self._unstarted_job(request)
        if isinstance(job, FakeResponse):
            return job
        body = request.json or {}
        operations = body.get("operations") or []
        total = sum(len(next(iter(op.values()), {}).get("userIdentifiers") or []) for op in operations if op)
        if total > self.max_identifiers_per_request:
            return self._error(
                400,
                "INVALID_ARGUMENT",
                "offlineUserDataJobError",
                "TOO_MANY_USER_IDENTIFIERS",
                f"Maximum number of user identifiers allowed per request is "
                f"{self.max_identifiers_per_request:,} and per operation is 20.",
            )
        failures, kept = [], []
        kind = job.kind
        for index, operation in enumerate(operations):
            found = self._operation_errors(job, index, operation, kind)
            failures += found
            if not found:
                kept.append(operation)
                kind = kind or next(iter(operation))
        if failures and not body.get("enablePartialFailure"):
            return error(
                400, "INVALID_ARGUMENT", "Request contains an invalid argument.", failures, self.version
            )
        for operation in kept:
            kind, user_data = next(iter(operation.items()))
            job.kind = job.kind or kind
            job.operations.append(user_data["userIdentifiers"])
        if not failures:
            return FakeResponse(200, {})
        status = {
            "code": 3,
            "message": f"Multiple errors in 'details'. First error: {failures[0]['message']}",
            "details": [failure(failures, self.version)],
        }
        return FakeResponse(200, {"partialFailureError": status})

    def _operation_errors(
        self, job: FakeJob, index: int, operation: dict[str, Any], job_kind: str | None
    ) -> list[dict[str, Any]]:
        kind = next(iter(operation), None)
        path = [{"fieldName": "operations", "index": index}, {"fieldName": kind or "operation"}]

        def fail(value: str, message: str, *extra: dict[str, Any]) -> list[dict[str, Any]]:
            return [ads_error("offlineUserDataJobError", value, message, [*path, *extra])]

        if kind not in ("create", "remove") or len(operation) != 1:
            return fail("INVALID_OPERATION_ORDER", "Only create or remove operations are supported here.")
        if job_kind not in (None, kind):
            return fail("CONFLICTING_OPERATION", "Create and remove operations cannot be mixed in one job.")
        identifiers = (operation[kind] or {}).get("userIdentifiers") or []
        if not identifiers:
            return fail("MISSING_USER_IDENTIFIER", "The operation has no user identifier.")
        if len(identifiers) > 20:
            return fail("TOO_MANY_USER_IDENTIFIERS", "At most 20 user identifiers are allowed per operation.")
        errors: list[dict[str, Any]] = []
        for position, identifier in enumerate(identifiers):
            kinds = [k for k in _KINDS if k in identifier]
            where = {"fieldName": "user_identifiers", "index": position}
            problem = _identifier_problem(identifier, kinds, job.user_list.upload_key_type)
            value = str(identifier.get(kinds[0], "")) if len(kinds) == 1 else ""
            if problem is None and value in self.rejected:
                problem = self.rejected[value]
            if problem is not None:
                errors += fail(
                    problem[0], problem[1], where, {"fieldName": _SNAKE.get(kinds[0] if kinds else "", "")}
                )
        return errors

    @route("POST", CUSTOMER + r"/offlineUserDataJobs/(?P<job>\d+):run")
    def run_job(self, request: FakeRequest) -> FakeResponse:
        job = self._unstarted_job(request)
        if isinstance(job, FakeResponse):
            return job
        job.started = True
        job.failure_reason, self._next_job_failure = self._next_job_failure, None
        metadata = (
            f"type.googleapis.com/google.ads.googleads.{self.version}.resources.OfflineUserDataJobMetadata"
        )
        return FakeResponse(
            200,
            {"name": f"customers/{self.customer_id}/operations/{job.id}", "metadata": {"@type": metadata}},
        )


def _identifier_problem(
    identifier: dict[str, Any], kinds: list[str], key_type: str
) -> tuple[str, str] | None:
    if len(kinds) != 1:
        return "MISSING_USER_IDENTIFIER", "Exactly one identifier must be set in a UserIdentifier."
    kind, value = kinds[0], identifier[kinds[0]]
    if kind not in _ALLOWED.get(key_type, set()):
        return (
            "INCOMPATIBLE_UPLOAD_KEY_TYPE",
            f"The identifier does not match the list's upload key type {key_type}.",
        )
    if kind in ("hashedEmail", "hashedPhoneNumber") and not _SHA256.match(str(value)):
        return "INVALID_SHA256_FORMAT", "The SHA256 encoded value is malformed."
    if kind == "mobileId" and not _UUID.match(str(value)):
        return "INVALID_MOBILE_ID_FORMAT", "The mobile ID is malformed."
    if kind == "addressInfo":
        parts = ("hashedFirstName", "hashedLastName", "countryCode", "postalCode")
        if not all(value.get(p) for p in parts):
            return (
                "MISSING_USER_IDENTIFIER",
                "Address info needs hashed first and last name, country and postal code.",
            )
        if not (_SHA256.match(value["hashedFirstName"]) and _SHA256.match(value["hashedLastName"])):
            return "INVALID_SHA256_FORMAT", "The SHA256 encoded value is malformed."
        if not re.fullmatch(r"[A-Z]{2}", value["countryCode"]):
            return "INVALID_COUNTRY_CODE", "The country code is invalid."
    return None


def _member(identifier: dict[str, Any]) -> tuple[str, str]:
    kind = next(k for k in _KINDS if k in identifier)
    value = identifier[kind]
    if kind == "addressInfo":
        value = "|".join(value[p] for p in ("hashedFirstName", "hashedLastName", "countryCode", "postalCode"))
    return kind, str(value)


# --- Google's error shapes ------------------------------------------------------------------------
def ads_error(
    category: str, value: str, message: str, path: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    item: dict[str, Any] = {"errorCode": {category: value}, "message": message}
    if path:
        item["location"] = {"fieldPathElements": [p for p in path if p.get("fieldName")]}
    return item


def failure(errors: list[dict[str, Any]], version: str) -> dict[str, Any]:
    return {
        "@type": f"type.googleapis.com/google.ads.googleads.{version}.errors.GoogleAdsFailure",
        "errors": errors,
        "requestId": uuid.uuid4().hex[:22],
    }


def error(
    http: int, status: str, message: str, errors: list[dict[str, Any]] | None = None, version: str = "v26"
) -> FakeResponse:
    body: dict[str, Any] = {"code": http, "message": message, "status": status}
    if errors:
        body["details"] = [failure(errors, version)]
    return FakeResponse(http, {"error": body})
