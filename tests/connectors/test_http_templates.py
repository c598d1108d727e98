"""JSON body templates of the custom HTTP destination: rendering, validation, and real writes
through the fake sink (a local HTTP server) and one engine run."""

from __future__ import annotations

import hashlib
import hmac

import orjson
import pytest

from apps.connectors.base import ConnectorError, ErrorCode, OutgoingBatch
from apps.connectors.destinations.http import HttpDestination
from apps.connectors.destinations.http.template import (
    TemplateContext,
    TemplateError,
    compile_batch_template,
    compile_record_template,
)
from apps.connectors.registry import ConfigError, parse_config
from tests.connectors.test_http_destination import make, private_destinations_allowed, sink
from tests.engine_fixtures import run_now
from tests.fakes.http_sink import Fault, HttpSink, reject_where

__all__ = ["private_destinations_allowed", "sink"]  # fixtures shared with the destination tests
SECRET = "hmac-secret-5e1f"
UPSERT = TemplateContext("upsert", "contacts", "id")


def records(n: int, start: int = 0) -> list[dict]:
    return [{"id": i, "email": f"user{i}@example.com", "score": i * 10} for i in range(start, start + n)]


def write(destination: HttpDestination, rows: list[dict], mode: str = "upsert", **kwargs):
    return destination.write("contacts", mode, OutgoingBatch.of(rows), match_key="id", **kwargs)


def render(template, record: dict, context: TemplateContext = UPSERT):
    return compile_record_template(template).render(record, context)


# --- rendering ------------------------------------------------------------------------------------
def test_whole_placeholders_keep_the_type():
    record = {"n": 3, "f": 1.5, "b": False, "none": None, "obj": {"a": [1, 2]}, "s": "x"}
    template = {k: f"{{{{ {k} }}}}" for k in record}
    assert render(template, record) == record
    # Whitespace inside the braces is optional and free.
    assert render(["{{n}}", "{{    f }}", "{{\tb\t}}"], record) == [3, 1.5, False]


def test_placeholders_inside_text_are_interpolated():
    record = {"first": "Ada", "n": 3, "f": 1e20, "b": True, "none": None, "obj": {"a": 1}, "tags": ["x"]}
    rendered = render(
        {
            "name": "{{ first }} Lovelace",
            "line": "n={{n}} f={{ f }} b={{ b }} none=[{{ none }}] missing=[{{ nope }}]",
            "json": "obj={{ obj }} tags={{ tags }}",
            "nested": [{"deep": "<{{ first }}>"}],
            "constant": "  spaces stay  ",
        },
        record,
    )
    assert rendered == {
        "name": "Ada Lovelace",
        "line": "n=3 f=1e+20 b=true none=[] missing=[]",
        "json": 'obj={"a":1} tags=["x"]',
        "nested": [{"deep": "<Ada>"}],
        "constant": "  spaces stay  ",
    }


def test_dotted_paths_reach_nested_values():
    record = {"address": {"city": "Paris", "geo": {"lat": 48.8}}, "tags": ["a", "b"], "plain": "x"}
    template = {
        "city": "{{ address.city }}",
        "lat": "{{ address.geo.lat }}",
        "second_tag": "{{ tags.1 }}",
        "out_of_range": "{{ tags.5 }}",
        "missing_branch": "{{ address.zip.code }}",
        "through_a_string": "{{ plain.length }}",
        "text": "{{ address.city }} ({{ address.geo.lat }})",
    }
    assert render(template, record) == {
        "city": "Paris",
        "lat": 48.8,
        "second_tag": "b",
        "out_of_range": None,
        "missing_branch": None,
        "through_a_string": None,
        "text": "Paris (48.8)",
    }


def test_variables_and_fields_a_record_does_not_hold():
    template = {
        "op": "{{ $operation }}",
        "object": "{{ $object }}",
        "{{ $match_key }}": "{{ $key }}",
        "email": "{{ email }}",
        "path": "/{{ $object }}/{{ $key }}",
        "whole": "{{ $record }}",
    }
    # A delete's record holds only the key: the other fields render null.
    deleted = render(template, {"id": 42}, TemplateContext("delete", "contacts", "id"))
    assert deleted == {
        "op": "delete",
        "object": "contacts",
        "id": 42,
        "email": None,
        "path": "/contacts/42",
        "whole": {"id": 42},
    }
    # Without a match key, $key and $match_key are null ("" in text).
    keyless = render(
        {"k": "{{ $key }}", "m": "{{ $match_key }}", "t": "[{{ $key }}]"},
        {"id": 1},
        TemplateContext("insert", "contacts", None),
    )
    assert keyless == {"k": None, "m": None, "t": "[]"}


def test_a_top_level_string_template_sends_bare_values():
    assert render("{{ id }}", {"id": "C1"}) == "C1"
    assert render("{{ $object }}:{{ id }}", {"id": 7}) == "contacts:7"


def test_batch_template_embeds_prerendered_rows_verbatim():
    template = compile_batch_template(
        {"data": {"items": "{{ $records }}"}, "n": "{{ $count }}", "meta": "{{ $operation }} {{ $object }}"}
    )
    rows = b'[{"amount":12345678901234567890.12}]'  # parsing would lose digits
    body = template.render(orjson.Fragment(rows), 1, UPSERT)
    assert body == b'{"data":{"items":' + rows + b'},"n":1,"meta":"upsert contacts"}'


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ({"a": "{{ x"}, "at a: '{{' without a closing '}}'"),
        ({"a": {"b": "x }}"}}, "at a.b: '}}' without an opening '{{'"),
        ({"a": "{{ }}"}, "empty placeholder"),
        ({"a": ["{{ a..b }}"]}, "at a[0]: {{ a..b }} has an empty path segment"),
        ({"a": "{{ {{ b }} }}"}, "'{{' inside a placeholder"),
        ({"a": "{{{ b }}}"}, "a stray brace inside a placeholder"),
        ({"a": "{{ $nope }}"}, "unknown variable {{ $nope }}; record_template can use $key,"),
        ({"a": "{{ $records }}"}, "unknown variable {{ $records }}"),
        ({"a": "{{ $record.email }}"}, "variables have no fields"),
        ({"a": 1}, "has no placeholder"),
        ({"a": float("inf"), "b": "{{ b }}"}, "inf is not a JSON number"),
        ({"a": {1, 2}, "b": "{{ b }}"}, "a set is not a JSON value"),
        ({"a": [2**64], "b": "{{ b }}"}, "at a[0]: 18446744073709551616 is out of the 64-bit"),
    ],
)
def test_record_template_errors_say_what_and_where(template, message):
    with pytest.raises(TemplateError) as exc:
        compile_record_template(template)
    assert message in str(exc.value)


def test_deep_templates_are_refused_cleanly():
    template: object = "{{ id }}"
    for _ in range(40):
        template = {"x": template}
    with pytest.raises(TemplateError, match="nested more than 32 levels"):
        compile_record_template(template)


# --- config ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("config", "field", "message"),
    [
        ({"record_template": {"email": "{{ email"}}, "record_template", "without a closing '}}'"),
        ({"record_template": {"x": "{{ $bogus }}"}}, "record_template", "unknown variable {{ $bogus }}"),
        ({"record_template": {"x": "constant"}}, "record_template", "has no placeholder"),
        ({"record_template": '{"e": "{{ email }}"}'}, "record_template", "a string holding JSON text"),
        ({"batch_template": '{"r": "{{ $records }}"}'}, "batch_template", "a string holding JSON text"),
        ({"batch_template": {"data": []}}, "batch_template", '"{{ $records }}" exactly once'),
        (
            {"batch_template": {"a": "{{ $records }}", "b": "{{ $records }}"}},
            "batch_template",
            "found 2",
        ),
        ({"batch_template": {"a": "n: {{ $records }}"}}, "batch_template", "must be a whole JSON string"),
        (
            {"batch_template": {"a": "{{ $records }}", "b": "{{ $key }}"}},
            "batch_template",
            "unknown variable {{ $key }}; batch_template can use $count",
        ),
        (
            {"batch_template": {"a": "{{ $records }}", "b": "{{ email }}"}},
            "batch_template",
            "cannot name record fields ({{ email }})",
        ),
    ],
)
def test_invalid_templates_name_the_field_and_the_problem(config, field, message):
    with pytest.raises(ConfigError) as exc:
        parse_config("destination", "http", {"url": "https://example.com/hook", **config})
    assert list(exc.value.details) == [field]
    assert message in exc.value.details[field][0]


def test_templates_round_trip_through_storage_with_their_whitespace():
    template = {"label": " {{ id }} - {{ email }} ", "raw": "{{ $record }}"}
    batch = {"items": "{{ $records }}", "note": "  padded  "}
    config = parse_config(
        "destination",
        "http",
        {"url": "https://example.com/hook", "record_template": template, "batch_template": batch},
    )
    assert config.record_template == template and config.batch_template == batch
    public, secrets = config.split()
    assert public["record_template"] == template and secrets == {}
    assert parse_config("destination", "http", {**public, **secrets}) == config


def test_no_template_keeps_the_plain_body_builders(sink):
    assert make(sink)._templated is None
    assert make(sink, record_template={"e": "{{ email }}"})._templated is not None


# --- writes through the sink ------------------------------------------------------------------------
RECORD_TEMPLATE = {
    "externalId": "{{ id }}",
    "properties": {"email": "{{ email }}", "score": "{{ score }}"},
    "label": "#{{ id }} <{{ email }}>",
    "op": "{{ $operation }}",
}


def rendered(record: dict, operation: str = "upsert") -> dict:
    return {
        "externalId": record["id"],
        "properties": {"email": record.get("email"), "score": record.get("score")},
        "label": f"#{record['id']} <{record.get('email') or ''}>",
        "op": operation,
    }


def test_record_template_inside_the_default_envelope(sink):
    result = write(make(sink, record_template=RECORD_TEMPLATE), records(3))
    assert result.requests == 1 and all(o.ok for o in result.outcomes)
    [request] = sink.request_log
    assert request.body == orjson.dumps({"records": [rendered(r) for r in records(3)]})
    assert sink.received == [rendered(r) for r in records(3)]


def test_record_template_with_batch_size_one_sends_the_rendered_record(sink):
    result = write(make(sink, batch_size=1, record_template=RECORD_TEMPLATE), records(2), idempotency_key="k")
    assert result.requests == 2 and all(o.ok for o in result.outcomes)
    assert [r.body for r in sink.request_log] == [orjson.dumps(rendered(r)) for r in records(2)]
    assert [r.headers["idempotency-key"] for r in sink.request_log] == ["k:0", "k:1"]


def test_batch_and_record_templates_together():
    batch_template = {
        "object": "{{ $object }}",
        "data": {"operation": "{{ $operation }}", "items": "{{ $records }}"},
        "count": "{{ $count }}",
        "summary": "{{ $count }} {{ $object }} by {{ $match_key }}",
    }
    with HttpSink(records_path="data.items") as sink:
        destination = make(sink, batch_size=2, record_template=RECORD_TEMPLATE, batch_template=batch_template)
        result = write(destination, records(3))
        assert result.requests == 2 and [o.index for o in result.outcomes] == [0, 1, 2]
        bodies = [r.body for r in sink.request_log]
    expected = [
        {
            "object": "contacts",
            "data": {"operation": "upsert", "items": [rendered(r) for r in chunk]},
            "count": len(chunk),
            "summary": f"{len(chunk)} contacts by id",
        }
        for chunk in (records(2), records(1, start=2))
    ]
    assert bodies == [orjson.dumps(body) for body in expected]
    assert sink.received == [rendered(r) for r in records(3)]


def test_batch_template_alone_embeds_the_engine_rows_unparsed():
    rows = ['{"id":1,"amount":12345678901234567890.12}', '{"id":2,"amount":1.50}']
    with HttpSink(records_path="items") as sink:
        destination = make(sink, batch_template={"items": "{{ $records }}", "n": "{{ $count }}"})
        result = destination.write("contacts", "upsert", OutgoingBatch(rows), match_key="id")
        assert all(o.ok for o in result.outcomes)
        [request] = sink.request_log
    assert request.body == ('{"items":[' + ",".join(rows) + '],"n":2}').encode()


def test_one_template_branches_on_the_operation(sink):
    destination = make(sink, methods={"delete": "DELETE"}, record_template=RECORD_TEMPLATE)
    write(destination, records(1), mode="mirror")
    destination.write("contacts", "delete", OutgoingBatch.of([{"id": 5}]), match_key="id")
    upsert, delete = sink.request_log
    assert upsert.method == "POST" and orjson.loads(upsert.body)["records"] == [rendered(records(1)[0])]
    assert delete.method == "DELETE"
    assert orjson.loads(delete.body)["records"] == [
        {"externalId": 5, "properties": {"email": None, "score": None}, "label": "#5 <>", "op": "delete"}
    ]


def test_resent_batch_renders_the_same_body_so_idempotency_replays(sink):
    destination = make(sink, record_template=RECORD_TEMPLATE)
    batch = OutgoingBatch(records=records(2), idempotency_key="run1-b0")
    for _ in range(2):
        assert all(o.ok for o in destination.write("contacts", "upsert", batch, match_key="id").outcomes)
    assert sink.replays == 1 and len(sink.received) == 2


def test_per_record_errors_index_the_rendered_records():
    with HttpSink(records_path="data.items") as sink:
        sink.faults = reject_where(
            lambda r: r["properties"]["score"] in (10, 40), "bad score", "invalid_field_value"
        )
        destination = make(
            sink,
            batch_size=2,
            record_template=RECORD_TEMPLATE,
            batch_template={"data": {"items": "{{ $records }}"}},
        )
        result = write(destination, records(5))
        assert result.requests == 3
        assert [o.index for o in result.failed] == [1, 4]
        assert {(o.error_code, o.message) for o in result.failed} == {("invalid_field_value", "bad score")}
        assert [r["externalId"] for r in sink.received] == [0, 2, 3]


def test_errors_path_with_a_templated_single_record_body(sink):
    sink.faults = lambda number, rows: Fault(status=200, body={"result": {"problems": [{"message": "nope"}]}})
    destination = make(sink, batch_size=1, record_template=RECORD_TEMPLATE, errors_path="result.problems")
    result = write(destination, records(1))
    assert [(o.ok, o.message) for o in result.outcomes] == [(False, "nope")]


@pytest.mark.parametrize("batch_size", [1, 3])
def test_hmac_signs_the_exact_templated_bytes(batch_size):
    with HttpSink(hmac_secret=SECRET, records_path="items" if batch_size > 1 else None) as sink:
        destination = make(
            sink,
            batch_size=batch_size,
            auth={"type": "hmac", "secret": SECRET},
            record_template=RECORD_TEMPLATE,
            batch_template={"items": "{{ $records }}"} if batch_size > 1 else None,
        )
        assert all(o.ok for o in write(destination, records(3)).outcomes)
        for request in sink.request_log:
            expected = hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
            assert request.headers["x-signature"] == expected and request.status == 200
        assert len(sink.received) == 3
        forged = make(
            sink,
            batch_size=batch_size,
            auth={"type": "hmac", "secret": "other"},
            record_template=RECORD_TEMPLATE,
        )
        with pytest.raises(ConnectorError) as exc:
            write(forged, records(1))
        assert exc.value.code == ErrorCode.AUTH_FAILED and len(sink.received) == 3


# --- an engine run ------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_engine_run_sends_warehouse_rows_rendered(http_sync):
    record_template = {
        "id": "{{ id }}",
        "traits": {"email": "{{ email }}", "score": "{{ score }}"},
        "title": "{{ id }}: {{ email }}",
    }
    batch_template = {
        "type": "{{ $object }}",
        "op": "{{ $operation }}",
        "n": "{{ $count }}",
        "rows": "{{ $records }}",
    }
    with HttpSink(records_path="rows") as sink:
        run = run_now(http_sync(sink, record_template=record_template, batch_template=batch_template))
        bodies = [orjson.loads(r.body) for r in sink.request_log]
    assert run.status == "succeeded" and run.rows_written == 250 and run.requests == 5
    assert {(b["type"], b["op"], b["n"]) for b in bodies} == {("records", "upsert", 50)}
    assert {
        "id": "C0001",
        "traits": {"email": "user1@example.com", "score": 1},
        "title": "C0001: user1@example.com",
    } in sink.received
    assert len({r["id"] for r in sink.received}) == 250
    assert all(r["title"] == f"{r['id']}: {r['traits']['email']}" for r in sink.received)
