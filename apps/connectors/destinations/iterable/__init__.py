"""Iterable destination: user profiles, custom events and list memberships of one project.

Follows Iterable's API reference (https://api.iterable.com/api/docs): users with POST
/api/users/bulkUpdate, events with POST /api/events/trackBulk, list memberships with POST
/api/lists/subscribe and /api/lists/unsubscribe; the catalog from GET /api/lists and GET
/api/users/getFields. See ``catalog`` for the objects and how fields map into request bodies,
``writes`` for the bodies and how per-item failures map back to records, ``errors`` for how
Iterable's named error codes are classified.

Rate limit: Iterable limits each endpoint per project. The strictest one a sync uses is
bulkUpdate's 5 requests/second (trackBulk allows 10, GET /api/lists 100), and the engine keeps one
budget per connection, so 5/s is the default; set ``rate_limit_per_second`` to change it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, ClassVar

import httpx

from apps.connectors.audiences import audience_action
from apps.connectors.base import (
    CheckResult,
    ConnectorError,
    ErrorCode,
    FieldSpec,
    ObjectSpec,
    OutgoingBatch,
    RecordOutcome,
    WriteResult,
)
from apps.connectors.destinations.iterable import catalog, errors
from apps.connectors.destinations.iterable.config import US_BASE_URL, IterableConfig
from apps.connectors.destinations.iterable.writes import (
    MAX_ITEMS,
    Item,
    ItemError,
    chunks,
    event_item,
    items_size,
    outcomes,
    subscriber_item,
    user_item,
)
from apps.connectors.registry import register_destination
from apps.connectors.vendor import VendorDestination, parse_json

__all__ = ["IterableConfig", "IterableDestination"]

# (path, key of the item array) per write.
_USERS = ("/api/users/bulkUpdate", "users")
_EVENTS = ("/api/events/trackBulk", "events")
_SUBSCRIBE = ("/api/lists/subscribe", "subscribers")
_UNSUBSCRIBE = ("/api/lists/unsubscribe", "subscribers")
# The engine's modes on a list object: "mirror" arrives as upsert (rows in the query) and delete
# (rows that left it).


@register_destination
class IterableDestination(VendorDestination):
    """Writes to an Iterable project (https://api.iterable.com/api/docs)."""

    type = "iterable"
    label = "Iterable"
    Config = IterableConfig
    default_base_url: ClassVar[str] = US_BASE_URL
    default_rate_limit: ClassVar[tuple[float | None, int]] = (5.0, 5)
    max_batch_size = MAX_ITEMS
    config: IterableConfig

    def auth_headers(self) -> dict[str, str]:
        return {"Api-Key": self.config.api_key.get_secret_value()}

    def refine_error(self, error: ConnectorError, response: httpx.Response) -> ConnectorError:
        return errors.refine(error, response, self.secrets())

    # --- check ---------------------------------------------------------------------------------
    def check(self) -> CheckResult:
        try:
            lists = self._lists()
        except ConnectorError as exc:
            return CheckResult(False, exc.message)
        return CheckResult(True, f"Connected to Iterable at {self.base_url}: {len(lists)} lists visible.")

    # --- catalog -------------------------------------------------------------------------------
    def _lists(self) -> list[dict[str, Any]]:
        answer = self.request_json("GET", "/api/lists")
        lists = answer.get("lists") if isinstance(answer, dict) else None
        return [x for x in lists if isinstance(x, dict)] if isinstance(lists, list) else []

    def list_objects(self) -> list[ObjectSpec]:
        return [catalog.USERS_SPEC, catalog.EVENTS_SPEC, *catalog.list_objects(self._lists())]

    def get_object(self, object_name: str) -> ObjectSpec | None:
        # Users and events exist in every project: no request needed to know them.
        fixed = {catalog.USERS: catalog.USERS_SPEC, catalog.EVENTS: catalog.EVENTS_SPEC}
        if object_name in fixed:
            return fixed[object_name]
        if catalog.list_id_of(object_name) is None:
            return None
        return super().get_object(object_name)

    def list_fields(self, object_name: str) -> list[FieldSpec]:
        if object_name == catalog.USERS:
            answer = self.request_json("GET", "/api/users/getFields")
            fields = answer.get("fields") if isinstance(answer, dict) else None
            return catalog.user_fields(fields if isinstance(fields, dict) else {})
        if object_name == catalog.EVENTS:
            return list(catalog.EVENT_FIELDS)
        if catalog.list_id_of(object_name) is not None:
            return list(catalog.IDENTIFIER_FIELDS)
        raise self._unknown_object(object_name)

    @staticmethod
    def _unknown_object(object_name: str) -> ConnectorError:
        return ConnectorError(
            f"Iterable has no object '{object_name}'; objects: users, events, list:<list id>",
            code=ErrorCode.SCHEMA_DRIFT,
            status=404,
        )

    # --- writes --------------------------------------------------------------------------------
    def write(
        self, object_name: str, mode: str, batch: OutgoingBatch, *, match_key: str | None
    ) -> WriteResult:
        """Send the batch in as few requests as Iterable's limits allow (1,000 items, 4 MB).

        Should a later request of a split batch fail as a whole, the engine sends the batch again,
        earlier parts included: each write here is idempotent (upserts, subscriptions, events
        with an id), so they are applied once.
        """
        list_id = catalog.list_id_of(object_name)
        if object_name == catalog.USERS and mode == "upsert":
            return self._send(_USERS, {}, batch, partial(user_item, match_key=match_key))
        if object_name == catalog.EVENTS and mode == "insert":
            return self._send(_EVENTS, {}, batch, event_item)
        if list_id is not None:
            subscribe = audience_action(mode, "Iterable lists") == "add"
            return self._send(
                _SUBSCRIBE if subscribe else _UNSUBSCRIBE,
                {"listId": list_id},
                batch,
                partial(subscriber_item, match_key=match_key, subscribe=subscribe),
                # Unsubscribing someone Iterable does not know leaves them off the list: done.
                not_found_ok=not subscribe,
            )
        if object_name in (catalog.USERS, catalog.EVENTS):
            raise ConnectorError(
                f"Iterable's {object_name} cannot be written with mode '{mode}'",
                code=ErrorCode.DESTINATION_REJECTED,
                status=400,
            )
        raise self._unknown_object(object_name)

    def _send(
        self,
        endpoint: tuple[str, str],
        extra: dict[str, Any],
        batch: OutgoingBatch,
        build: Callable[[dict[str, Any]], dict[str, Any]],
        *,
        not_found_ok: bool = False,
    ) -> WriteResult:
        path, key = endpoint
        results: dict[int, RecordOutcome] = {}
        items: list[Item] = []
        for index, record in enumerate(batch.records):
            try:
                body = build(record)
            except ItemError as exc:  # refused here: Iterable would fail the whole request for it
                results[index] = RecordOutcome(index, False, error_code=exc.code, message=str(exc))
                continue
            items.append(Item(index, body, items_size(body)))
        requests = 0
        for part in chunks(items):
            response = self.request("POST", path, json={**extra, key: [i.body for i in part]})
            requests += 1
            answer = parse_json(response, self.secrets())
            for outcome in outcomes(part, answer, status=response.status_code, not_found_ok=not_found_ok):
                results[outcome.index] = outcome
        # requests is 0 when every record was refused before sending: no request was made.
        return WriteResult([results[i] for i in range(len(batch))], requests=requests)
