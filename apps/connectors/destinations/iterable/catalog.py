"""What a Syncline user can write to in Iterable: users, custom events, and each static list.

- ``users``: profiles written with POST /api/users/bulkUpdate. Their fields come from the
  project's field list (GET /api/users/getFields: ``{"fields": {"<name>": "<type>"}}``, nested
  fields spelled with dots, e.g. ``address.city``), plus ``email`` and ``userId``, the two
  identifiers Iterable matches users on
  (https://support.iterable.com/hc/en-us/articles/29156459027348). Iterable creates a field the
  first time a value arrives for it (unless the project drops unknown fields), so the object
  accepts field names the project does not list yet (``freeform_fields``).
- ``events``: custom events tracked with POST /api/events/trackBulk. Iterable keeps no schema of
  event data, so besides the documented top-level fields any mapped name goes to ``dataFields``.
- ``list:<id>``: one object per static list from GET /api/lists, written with POST
  /api/lists/subscribe and /api/lists/unsubscribe. Dynamic and internal lists are computed by
  Iterable and cannot be written, so they are not offered.

Field mapping into Iterable's request bodies: ``email`` and ``userId`` stay top level; every other
user field goes into ``dataFields``, a dotted name nesting (``address.city`` -> ``{"address":
{"city": ...}}``, a leading ``dataFields.`` being optional). Endpoint shapes as documented at
https://api.iterable.com/api/docs (Users, Events and Lists sections).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from apps.connectors.audiences import AUDIENCE_OBJECT_MODES
from apps.connectors.base import FieldSpec, FieldType, ObjectSpec

USERS = "users"
EVENTS = "events"
LIST_PREFIX = "list:"

# bulkUpdate creates or updates: an upsert. Iterable has no bulk delete (only one DELETE per user),
# nor an update-only flag, so neither delete, update nor mirror is offered.
USERS_SPEC = ObjectSpec(USERS, "Users", ("upsert",), freeform_fields=True)
EVENTS_SPEC = ObjectSpec(EVENTS, "Custom events", ("insert",), freeform_fields=True)
LIST_MODES = AUDIENCE_OBJECT_MODES
# Lists that hold people someone put there; "Dynamic" and "Internal" ones are computed.
WRITABLE_LIST_TYPES = frozenset({"Standard", "Suppression"})

# Iterable's field types (getFields) as the engine's. "date" values are ISO 8601 timestamps;
# "object" is a JSON object, "nested" an array of objects, "geo_location" {"lat","lon"}.
_TYPES: dict[str, FieldType] = {
    "string": "string",
    "long": "integer",
    "double": "number",
    "boolean": "boolean",
    "date": "datetime",
    "object": "json",
    "nested": "json",
    "geo_location": "json",
}
# Profile fields Iterable maintains itself (subscriptions, devices, bookkeeping): listing them
# would invite writes Iterable ignores or that break its own state.
_SYSTEM_FIELDS = frozenset(
    {
        "email",
        "userId",
        "devices",
        "emailListIds",
        "userListIds",
        "profileUpdatedAt",
        "signupDate",
        "signupSource",
        "subscribedMessageTypeIds",
        "unsubscribedChannelIds",
        "unsubscribedMessageTypeIds",
        "receivedSMSDisclaimer",
        "browserTokens",
    }
)

IDENTIFIER_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("email", "Email", "email", identifier=True),
    FieldSpec("userId", "User ID", "string", identifier=True),
)

EVENT_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("eventName", "Event name", "string", required=True),
    FieldSpec("email", "User email", "email"),
    FieldSpec("userId", "User ID", "string"),
    FieldSpec("createdAt", "Occurred at", "datetime"),
    # Iterable updates the event with this id instead of adding one; 512 bytes at most.
    FieldSpec("id", "Event ID", "string", max_length=512),
    FieldSpec("campaignId", "Campaign ID", "integer"),
    FieldSpec("templateId", "Template ID", "integer"),
)
EVENT_TOP_LEVEL = frozenset(f.name for f in EVENT_FIELDS)


def field_type(iterable_type: str) -> FieldType:
    """The engine's type for one of Iterable's (unknown ones travel as text)."""
    return _TYPES.get(iterable_type.strip().lower(), "string")


def _label(name: str) -> str:
    return " / ".join(part[:1].upper() + part[1:] for part in name.split("."))


def _is_system(name: str) -> bool:
    root = name.split(".", 1)[0]
    return root in _SYSTEM_FIELDS or root.startswith("itbl")


def user_fields(project_fields: Mapping[str, Any]) -> list[FieldSpec]:
    """Identifiers first, then the project's own fields (system ones left out), by name."""
    arrays = {name for name, kind in project_fields.items() if str(kind).lower() == "nested"}
    specs: list[FieldSpec] = list(IDENTIFIER_FIELDS)
    for name in sorted(project_fields):
        if not name or _is_system(name):
            continue
        # Children of an array of objects cannot be written one by one: a dotted write would
        # make an object where Iterable keeps an array. The array itself is offered as JSON.
        if any(name.startswith(f"{parent}.") for parent in arrays):
            continue
        specs.append(FieldSpec(name, _label(name), field_type(str(project_fields[name]))))
    return specs


def list_object_name(list_id: int | str) -> str:
    return f"{LIST_PREFIX}{list_id}"


def list_id_of(object_name: str) -> int | None:
    """The list id in ``list:<id>``, or None if the name is not a list object."""
    if not object_name.startswith(LIST_PREFIX):
        return None
    raw = object_name.removeprefix(LIST_PREFIX)
    return int(raw) if raw.isdigit() else None


def list_objects(lists: list[dict[str, Any]]) -> list[ObjectSpec]:
    """One object per writable list of GET /api/lists, in Iterable's order."""
    specs = []
    for item in lists:
        if item.get("id") is None or item.get("listType", "Standard") not in WRITABLE_LIST_TYPES:
            continue
        name = str(item.get("name") or f"List {item['id']}")
        if item.get("listType") == "Suppression":
            name += " (suppression list)"
        specs.append(ObjectSpec(list_object_name(item["id"]), name, LIST_MODES, custom=True))
    return specs
