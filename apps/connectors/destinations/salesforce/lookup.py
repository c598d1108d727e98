"""Record Ids by another key, with SOQL: what update and delete by external ID need.

sObject Collections update and delete address records by Id only, while a sync's key is usually an
external ID (always, for mirror syncs). ``SELECT Id, <key> FROM <SObject> WHERE <key> IN (…)``
through the query resource
(https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_query.htm)
finds them; string literals are escaped as SOQL defines
(https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select_quotedstringescapes.htm).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

# Keeps the GET URL well under Salesforce's 16,384-byte URI limit once percent-encoded.
MAX_QUERY_CHARS = 4_000
_ESCAPES = str.maketrans(
    {"\\": "\\\\", "'": "\\'", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}
)

Call = Callable[..., tuple[Any, int]]


def is_id_field(name: str) -> bool:
    return name.lower() == "id"


def soql_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).translate(_ESCAPES) + "'"


def key_text(value: Any) -> str:
    """A key as text, so 42, 42.0 (how SOQL returns a number field) and '42' compare equal."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def _groups(values: Sequence[Any], head: str) -> Iterator[list[Any]]:
    group: list[Any] = []
    size = len(head)
    for value in values:
        literal = len(soql_literal(value)) + 1
        if group and size + literal > MAX_QUERY_CHARS:
            yield group
            group, size = [], len(head)
        group.append(value)
        size += literal
    if group:
        yield group


class IdLookup:
    def __init__(self, call: Call, sobject: str, key: str) -> None:
        self._call = call  # (method, path, **kwargs) -> (JSON, status); counts requests
        self.sobject = sobject
        self.key = key

    def resolve(self, values: Sequence[Any]) -> list[list[str]]:
        """For each value, the Ids of the records whose key equals it (none for an empty value).

        External IDs compare case-insensitively unless the field is marked case-sensitive, so a
        value without an exact match takes the records that match it ignoring case.
        """
        wanted = list(dict.fromkeys(v for v in values if v not in (None, "")))
        exact: dict[str, list[str]] = {}
        folded: dict[str, list[str]] = {}
        for record in self._records(wanted):
            record_id, found = record.get("Id"), record.get(self.key)
            if isinstance(record_id, str) and found is not None:
                exact.setdefault(key_text(found), []).append(record_id)
                folded.setdefault(key_text(found).casefold(), []).append(record_id)
        result: list[list[str]] = []
        for value in values:
            if value in (None, ""):
                result.append([])
                continue
            text = key_text(value)
            result.append(exact.get(text) or folded.get(text.casefold()) or [])
        return result

    def _records(self, values: list[Any]) -> Iterator[dict[str, Any]]:
        head = f"SELECT Id, {self.key} FROM {self.sobject} WHERE {self.key} IN ()"
        for group in _groups(values, head):
            literals = ", ".join(soql_literal(v) for v in group)
            query = f"SELECT Id, {self.key} FROM {self.sobject} WHERE {self.key} IN ({literals})"
            data, _ = self._call("GET", "query", params={"q": query})
            while isinstance(data, dict):
                yield from (r for r in data.get("records") or () if isinstance(r, dict))
                following = data.get("nextRecordsUrl")
                if data.get("done", True) or not isinstance(following, str):
                    break
                data, _ = self._call("GET", following)
