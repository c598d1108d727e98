"""A local fake of Iterable's API (https://api.iterable.com/api/docs) for connector and engine tests.

It keeps one email-based project in plain dicts: ``users`` (by lower-cased email, or
``userId:<id>`` for users without one), ``events`` (by event id), ``subscriptions`` (list id ->
user keys), the project's ``fields`` (name -> Iterable type, dotted for nested fields) and ``lists``.
Like Iterable it checks the ``Api-Key`` header (401 ``BadApiKey``), answers unknown paths and
methods with 404, refuses bodies of more than ``max_items`` items (400 ``BatchTooLarge``) or 4 MB
(413), refuses items without an email or userId (400 ``BadParams``), and reports per-item failures
in ``failedUpdates`` lists: malformed emails/userIds, values whose type differs from the
project's field, forgotten users, userId conflicts, unknown users (unsubscribe), blocked event
names. Unknown fields are created with the type of their first value. ``throttle`` answers with
Iterable's 429 (``RateLimitExceeded``, ``params.rateLimitReset``).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from tests.fakes.vendor_server import FakeRequest, FakeResponse, FakeVendorApi, route

API_KEY = "itbl-fake-key-0123456789abcdef"
MAX_BODY_BYTES = 4 * 1024 * 1024
PROJECT_FIELDS = {
    "email": "string",
    "userId": "string",
    "signupDate": "date",
    "profileUpdatedAt": "date",
    "emailListIds": "long",
    "itblInternal.emailDomain": "string",
    "devices": "nested",
    "devices.token": "string",
    "firstName": "string",
    "score": "long",
    "plan": "string",
    "vip": "boolean",
    "ltv": "double",
    "birthday": "date",
    "address": "object",
    "address.city": "string",
    "purchases": "nested",
    "purchases.sku": "string",
}
LISTS = [
    {"id": 101, "name": "Newsletter", "listType": "Standard", "createdAt": 1700000000000},
    {"id": 102, "name": "VIP", "listType": "Standard", "createdAt": 1700000000000},
    {"id": 103, "name": "Active last 30 days", "listType": "Dynamic", "createdAt": 1700000000000},
    {"id": 104, "name": "Do not mail", "listType": "Suppression", "createdAt": 1700000000000},
]
# Stricter than a pattern match: no leading, trailing or doubled dot in the local part.
_EMAIL = re.compile(
    r"^(?!\.)(?!.*\.\.)[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+(?<!\.)@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$"
)


def valid_email(value: Any) -> bool:
    return isinstance(value, str) and bool(_EMAIL.match(value))


def valid_user_id(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    return 0 < len(value) <= 512 and value.isascii() and value.isprintable() and value == value.rstrip()


def _fits(kind: str, value: Any) -> bool:
    if value is None:
        return True
    if kind == "string":
        return isinstance(value, str)
    if kind == "long":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "double":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "date":
        try:
            return isinstance(value, int) or bool(datetime.fromisoformat(str(value)))
        except ValueError:
            return False
    if kind in ("object", "geo_location"):
        return isinstance(value, dict)
    if kind == "nested":
        return isinstance(value, list)
    return True


def _kind_of(value: Any) -> str:
    for kind, test in (
        ("boolean", bool),
        ("long", int),
        ("double", float),
        ("object", dict),
        ("nested", list),
    ):
        if isinstance(value, test):
            return kind
    return "string"


def _flatten(data: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    pairs = []
    for name, value in data.items():
        path = f"{prefix}{name}"
        pairs.append((path, value))
        if isinstance(value, dict):
            pairs += _flatten(value, f"{path}.")
    return pairs


def _error(status: int, code: str, msg: str, **params: Any) -> FakeResponse:
    return FakeResponse(status, {"msg": msg, "code": code, "params": params or None})


class FakeIterable(FakeVendorApi):
    def __init__(self, api_key: str = API_KEY, *, max_items: int = 1000) -> None:
        super().__init__()
        self.api_key = api_key
        self.max_items = max_items
        self.rate_limit_reset = 1
        self.fields: dict[str, str] = dict(PROJECT_FIELDS)
        self.lists: dict[int, dict[str, Any]] = {item["id"]: dict(item) for item in LISTS}
        self.users: dict[str, dict[str, Any]] = {}
        self.events: dict[str, dict[str, Any]] = {}
        self.subscriptions: dict[int, set[str]] = {list_id: set() for list_id in self.lists}
        self.forgotten: set[str] = set()  # emails (lower case) and userIds
        self.disallowed_event_names: set[str] = set()

    # --- what tests read ---------------------------------------------------------------------
    def user(self, email: str | None = None, user_id: str | None = None) -> dict[str, Any] | None:
        key = self._find(email, user_id)
        return self.users.get(key) if key else None

    def members(self, list_id: int) -> set[str]:
        """Emails (or userIds) of the list's subscribers."""
        return {self.users[k].get("email") or self.users[k]["userId"] for k in self.subscriptions[list_id]}

    # --- vendor behaviour --------------------------------------------------------------------
    def authenticate(self, request: FakeRequest) -> FakeResponse | None:
        if request.header("Api-Key") != self.api_key:
            return _error(401, "BadApiKey", "Invalid API key", ip="127.0.0.1", endpoint=request.path)
        return None

    def rate_limited(self, request: FakeRequest) -> FakeResponse:
        limits = {"rateLimitLimit": 5, "rateLimitRemaining": 0, "rateLimitReset": self.rate_limit_reset}
        return _error(429, "RateLimitExceeded", "Exceeded rate limit.", **limits)

    def not_found(self, request: FakeRequest) -> FakeResponse:
        return _error(404, "NotFound", f"Action not found: {request.method} {request.path}")

    def _items(self, request: FakeRequest, key: str) -> list[dict[str, Any]] | FakeResponse:
        if len(request.body) > MAX_BODY_BYTES:
            return _error(413, "BatchTooLarge", "Request body exceeds 4MB")
        body = request.json
        items = body.get(key) if isinstance(body, dict) else None
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            return _error(400, "BadParams", f"Invalid body: '{key}' must be an array of objects")
        if len(items) > self.max_items:
            return _error(
                400, "BatchTooLarge", f"Batch of {len(items)} exceeds the limit of {self.max_items}"
            )
        for n, item in enumerate(items):
            if not item.get("email") and not item.get("userId"):
                return _error(400, "BadParams", f"{key}[{n}]: an email or a userId is required")
        return items

    def _find(self, email: str | None, user_id: str | None) -> str | None:
        if email:
            return email.lower() if email.lower() in self.users else None
        return next((k for k, u in self.users.items() if u.get("userId") == user_id), None)

    def _identify(self, item: dict[str, Any], failed: dict[str, list[str]], *, create: bool) -> str | None:
        """The user key of an item (created if allowed), or None with the reason in ``failed``."""
        email, user_id = item.get("email"), item.get("userId")
        kind, ident = ("Emails", email) if email else ("UserIds", user_id)
        if email and not valid_email(email):
            failed["invalidEmails"].append(email)
        elif user_id is not None and not valid_user_id(user_id):
            failed["invalidUserIds"].append(str(user_id))
        elif str(ident).lower() in self.forgotten:
            failed[f"forgotten{kind}"].append(ident)
        else:
            key = self._find(email, user_id)
            owner = self._find(None, user_id) if email and user_id else None
            if owner is not None and owner != key:
                failed["conflictUserIds"].append(user_id)
            elif key is None and (not create or (not email and not item.get("preferUserId"))):
                failed[f"notFound{kind}"].append(ident)
            else:
                key = key or (email.lower() if email else f"userId:{user_id}")
                user = self.users.setdefault(key, {"email": email, "userId": None, "dataFields": {}})
                user["userId"] = user_id or user["userId"]
                return key
        return None

    def _answer(self, count: int, failed: dict[str, list[str]], **extra: Any) -> FakeResponse:
        failures = {k: v for k, v in failed.items() if v}
        fail_count = sum(len(v) for v in failures.values()) + len(extra.get("disallowedEventNames", ()))
        body = {
            "successCount": count - fail_count,
            "failCount": fail_count,
            "invalidEmails": failed["invalidEmails"],
            "invalidUserIds": failed["invalidUserIds"],
            "failedUpdates": failures,
            **extra,
        }
        return FakeResponse(200, body)

    @staticmethod
    def _new_failures() -> dict[str, list[str]]:
        kinds = ("invalid", "invalidData", "conflict", "forgotten", "notFound")
        return {f"{k}{i}": [] for k in kinds for i in ("Emails", "UserIds")}

    # --- routes ------------------------------------------------------------------------------
    @route("GET", r"/api/lists")
    def get_lists(self, request: FakeRequest) -> FakeResponse:
        return FakeResponse(200, {"lists": list(self.lists.values())})

    @route("GET", r"/api/users/getFields")
    def get_fields(self, request: FakeRequest) -> FakeResponse:
        return FakeResponse(200, {"fields": dict(self.fields)})

    @route("POST", r"/api/users/bulkUpdate")
    def bulk_update(self, request: FakeRequest) -> FakeResponse:
        users = self._items(request, "users")
        if isinstance(users, FakeResponse):
            return users
        failed, created = self._new_failures(), []
        for item in users:
            data = item.get("dataFields") or {}
            if not isinstance(data, dict):
                return _error(400, "BadParams", "dataFields must be an object")
            pairs = _flatten(data)
            if any(path in self.fields and not _fits(self.fields[path], v) for path, v in pairs):
                kind, ident = ("Emails", item["email"]) if item.get("email") else ("UserIds", item["userId"])
                failed[f"invalidData{kind}"].append(ident)
                continue
            key = self._identify(item, failed, create=True)
            if key is None:
                continue
            for path, value in pairs:
                if path not in self.fields and value is not None:
                    self.fields[path] = _kind_of(value)
                    created.append(path)
            profile = self.users[key]["dataFields"]
            for name, value in data.items():
                old = profile.get(name)
                merge = item.get("mergeNestedObjects") and isinstance(value, dict) and isinstance(old, dict)
                profile[name] = {**old, **value} if merge else value
        return self._answer(len(users), failed, createdFields=created, filteredOutFields=[])

    @route("POST", r"/api/events/trackBulk")
    def track_bulk(self, request: FakeRequest) -> FakeResponse:
        events = self._items(request, "events")
        if isinstance(events, FakeResponse):
            return events
        for n, event in enumerate(events):
            if not event.get("eventName"):
                return _error(400, "BadParams", f"events[{n}]: eventName is required")
            if "createdAt" in event and not isinstance(event["createdAt"], int):
                return _error(400, "BadParams", f"events[{n}]: createdAt must be a Unix timestamp")
        failed, disallowed = self._new_failures(), []
        for event in events:
            if event["eventName"] in self.disallowed_event_names:
                disallowed.append(event["eventName"])
                continue
            if self._identify(event, failed, create=True) is None:
                continue
            event_id = event.get("id") or f"generated-{len(self.events)}"
            self.events[event_id] = event  # an existing id is updated, not added again
        return self._answer(len(events), failed, disallowedEventNames=disallowed)

    def _list(self, request: FakeRequest) -> int | FakeResponse:
        body = request.json if isinstance(request.json, dict) else {}
        list_id = body.get("listId")
        if list_id not in self.lists:
            return _error(400, "BadParams", f"error.lists.invalidListId({list_id})", listId=list_id)
        if self.lists[list_id]["listType"] not in ("Standard", "Suppression"):
            return _error(400, "BadParams", f"List {list_id} is not a static list")
        return list_id

    @route("POST", r"/api/lists/subscribe")
    def subscribe(self, request: FakeRequest) -> FakeResponse:
        return self._change_list(request, subscribe=True)

    @route("POST", r"/api/lists/unsubscribe")
    def unsubscribe(self, request: FakeRequest) -> FakeResponse:
        return self._change_list(request, subscribe=False)

    def _change_list(self, request: FakeRequest, *, subscribe: bool) -> FakeResponse:
        """Subscribing creates unknown users (as Iterable does); unsubscribing does not."""
        list_id, subscribers = self._list(request), self._items(request, "subscribers")
        for answer in (list_id, subscribers):
            if isinstance(answer, FakeResponse):
                return answer
        failed = self._new_failures()
        for item in subscribers:
            key = self._identify(item, failed, create=subscribe)
            if key is not None and subscribe:
                self.subscriptions[list_id].add(key)
            elif key is not None:
                self.subscriptions[list_id].discard(key)
        return self._answer(len(subscribers), failed)
