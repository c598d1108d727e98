"""SOQL lookups of record Ids by key: literals, query size and matching rules."""

from __future__ import annotations

from typing import Any

from apps.connectors.destinations.salesforce.lookup import MAX_QUERY_CHARS, IdLookup, key_text, soql_literal
from tests.fakes.salesforce import soql_values


def test_soql_literals_escape_what_soql_escapes():
    assert soql_literal("it's") == "'it\\'s'"
    assert soql_literal('a\\b"c\nd') == "'a\\\\b\\\"c\\nd'"
    assert (soql_literal(42), soql_literal(1.5), soql_literal(True)) == ("42", "1.5", "true")
    # The fake's parser reads back exactly what was written.
    values = ["it's", 'a\\b"c\nd', "plain"]
    assert soql_values(", ".join(soql_literal(v) for v in values)) == values


def test_key_text_makes_numbers_and_their_text_equal():
    assert key_text(42.0) == key_text(42) == key_text("42") == "42"
    assert key_text(1.5) == "1.5"


class FakeQueries:
    def __init__(self, records: list[dict[str, Any]]) -> None:
        self.records = records
        self.queries: list[str] = []

    def __call__(self, method: str, path: str, **kwargs: Any) -> tuple[Any, int]:
        self.queries.append(kwargs["params"]["q"])
        return {"done": True, "records": self.records}, 200


def test_long_key_lists_are_split_into_queries_of_bounded_size():
    call = FakeQueries([])
    keys = [f"{i:04d}-" + "x" * 60 for i in range(200)]
    IdLookup(call, "Contact", "External_Id__c").resolve(keys)
    assert len(call.queries) >= 4
    assert all(len(q) <= MAX_QUERY_CHARS for q in call.queries)
    assert sum(q.count("'") // 2 for q in call.queries) == 200  # every key asked once


def test_resolve_prefers_exact_matches_and_reports_every_match():
    call = FakeQueries(
        [
            {"Id": "003A", "External_Id__c": "Abc"},
            {"Id": "003B", "External_Id__c": "abc"},
            {"Id": "003C", "External_Id__c": "dup"},
            {"Id": "003D", "External_Id__c": "DUP"},
            {"Id": "003E", "External_Id__c": 7.0},
        ]
    )
    found = IdLookup(call, "Contact", "External_Id__c").resolve(
        ["abc", "ABC", "Dup", None, "7", "zzz", "abc"]
    )
    assert found == [["003B"], ["003A", "003B"], ["003C", "003D"], [], ["003E"], [], ["003B"]]
    assert len(call.queries) == 1 and call.queries[0].count("'abc'") == 1  # duplicates asked once
