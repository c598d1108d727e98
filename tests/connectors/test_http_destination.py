"""The custom HTTP destination against the fake sink (a real local HTTP server)."""

from __future__ import annotations

import base64
import logging

import orjson
import pyarrow as pa
import pytest

from apps.connectors.base import ConnectorError, ErrorCode, OutgoingBatch
from apps.connectors.destinations.http import HttpConfig, HttpDestination
from apps.connectors.destinations.http.body import batch_body
from apps.connectors.json_rows import JsonRows
from apps.connectors.registry import ConfigError, destination_class, parse_config
from tests.fakes.http_sink import Fault, FaultSchedule, HttpSink, reject_where

TOKEN = "tok_live_do_not_leak_81f3"
PASSWORD = "pw-do-not-leak-77aa"


@pytest.fixture(autouse=True)
def private_destinations_allowed(settings):
    settings.SYNCLINE_ALLOW_PRIVATE_DESTINATIONS = True


@pytest.fixture
def sink():
    with HttpSink() as running:
        yield running


def make(sink: HttpSink, **config) -> HttpDestination:
    parsed = parse_config("destination", "http", {"url": sink.url, **config})
    destination = destination_class("http")(parsed)
    assert isinstance(destination, HttpDestination)
    return destination


def records(n: int, start: int = 0) -> list[dict]:
    return [{"id": i, "email": f"user{i}@example.com", "plan": "pro"} for i in range(start, start + n)]


def write(destination: HttpDestination, rows: list[dict], mode: str = "upsert", **kwargs):
    return destination.write("records", mode, OutgoingBatch.of(rows), match_key="id", **kwargs)


# --- registration, catalog, config -----------------------------------------------------------------
def test_registered_with_a_freeform_catalog(sink):
    destination = make(sink)
    assert destination_class("http") is HttpDestination and HttpDestination.label == "Custom HTTP"
    [obj] = destination.list_objects()
    assert (obj.name, obj.label, obj.freeform_fields) == ("records", "Records", True)
    assert set(obj.supported_modes) == {"upsert", "insert", "update", "delete", "mirror"}
    other = destination.get_object("contacts")
    assert other.name == "contacts" and other.freeform_fields and other.custom
    assert destination.list_fields("contacts") == []
    assert destination.batch_size("records", "upsert") == 100
    assert destination.rate_limit() == (50.0, 50)
    assert make(sink, rate_limit_per_second=None).rate_limit() == (None, 1)
    assert make(sink, rate_limit_per_second=5, rate_limit_burst=2).rate_limit() == (5.0, 2)


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"url": "ftp://example.com/x"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"url": "https://user:pass@example.com/"}, "url"),
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": 10_001}, "batch_size"),
        ({"method": "GET"}, "method"),
        ({"methods": {"merge": "POST"}}, "methods.merge.[key]"),
        ({"headers": {"X-Evil": "a\r\nHost: b"}}, "headers"),
        ({"headers": {"Content-Length": "1"}}, "headers"),
        ({"headers": {"Authorization": "Bearer abc"}}, "headers"),
        ({"headers": {"X-Api-Key": "abc"}}, "headers"),
        ({"headers": {"X-Auth-Token": "abc"}}, "headers"),
        ({"auth": {"type": "bearer"}}, "auth.bearer.token"),
        ({"auth": {"type": "oauth", "token": "x"}}, "auth"),
        ({"retryable_statuses": [200]}, "retryable_statuses"),
    ],
)
def test_invalid_config_names_the_field(config, field):
    with pytest.raises(ConfigError) as exc:
        parse_config("destination", "http", {"url": "https://example.com/hook", **config})
    assert any(key.startswith(field) for key in exc.value.details), exc.value.details


def test_a_credential_header_is_refused_with_a_pointer_to_auth():
    with pytest.raises(ConfigError) as exc:
        parse_config(
            "destination", "http", {"url": "https://example.com/hook", "headers": {"X-Api-Key": "k"}}
        )
    message = " ".join(str(v) for v in exc.value.details.values())
    assert "X-Api-Key looks like a credential" in message and '"header": "X-Api-Key"' in message
    # Ordinary headers stay public config.
    config = parse_config(
        "destination", "http", {"url": "https://example.com/hook", "headers": {"X-Tenant": "acme"}}
    )
    assert config.split()[0]["headers"] == {"X-Tenant": "acme"}


def test_secrets_split_from_public_config_and_back():
    config = parse_config(
        "destination",
        "http",
        {
            "url": "https://example.com/hook",
            "auth": {"type": "basic", "username": "ada", "password": PASSWORD},
        },
    )
    public, secrets = config.split()
    assert PASSWORD not in orjson.dumps(public).decode()
    assert public["auth"] == {"type": "basic", "username": "ada"}
    assert secrets == {"auth.password": PASSWORD}
    again = parse_config("destination", "http", {**public, **secrets})
    assert again == config and again.auth.password.get_secret_value() == PASSWORD
    assert "auth.password" in HttpConfig.secret_field_names()
    # An update that brings a new value wins over the stored one.
    updated = parse_config(
        "destination", "http", {**public, "auth": {**public["auth"], "password": "new"}, **secrets}
    )
    assert updated.auth.password.get_secret_value() == "new"


# --- bodies -----------------------------------------------------------------------------------------
def test_batch_envelope_joins_prerendered_rows(sink):
    rows = ['{"id":1,"name":"Ada"}', '{"id":2,"name":"Grace"}', '{"id":3,"name":"Édith"}']
    result = make(sink).write("records", "upsert", OutgoingBatch(rows), match_key="id")
    assert result.requests == 1 and [o.ok for o in result.outcomes] == [True, True, True]
    assert [o.index for o in result.outcomes] == [0, 1, 2]
    [request] = sink.request_log
    assert request.body == ('{"records":[' + ",".join(rows) + "]}").encode()
    assert request.headers["content-type"] == "application/json"
    assert sink.received == [{"id": 1, "name": "Ada"}, {"id": 2, "name": "Grace"}, {"id": 3, "name": "Édith"}]


def test_batch_size_one_sends_the_record_itself(sink):
    destination = make(sink, batch_size=1)
    result = write(destination, records(3), idempotency_key="b-9")
    assert result.requests == 3 and all(o.ok for o in result.outcomes)
    bodies = [orjson.loads(r.body) for r in sink.request_log]
    assert bodies == records(3)
    assert [r.headers["idempotency-key"] for r in sink.request_log] == ["b-9:0", "b-9:1", "b-9:2"]
    write(destination, records(1, start=10), idempotency_key="b-10")
    assert sink.request_log[-1].headers["idempotency-key"] == "b-10"


def test_batches_over_batch_size_are_split_with_global_indices(sink):
    sink.faults = reject_where(lambda r: r["id"] in (1, 4), "bad", "invalid_field_value")
    result = write(make(sink, batch_size=2), records(5))
    assert result.requests == 3
    assert [o.index for o in result.outcomes] == [0, 1, 2, 3, 4]
    assert [o.index for o in result.failed] == [1, 4]
    assert [r["id"] for r in sink.received] == [0, 2, 3]


def test_a_batch_body_from_json_rows_is_the_body_of_their_texts():
    """The engine's Arrow-backed rows (no Python string per row) and plain texts give the same
    bytes, for every chunk of a batch split into several requests."""
    texts = [orjson.dumps({"id": i, "name": f'ü{i}"q', "n": i * 1.5}).decode() for i in range(250)]
    arrow = pa.array([f",{t}" for t in texts], pa.string()).slice(7, 230)  # an offset, as sliced
    from_arrow = OutgoingBatch(json_rows=JsonRows(arrow))
    from_texts = OutgoingBatch(texts[7:237])
    for start in (0, 100, 200):
        body = batch_body(from_arrow, start, start + 100)
        assert body == batch_body(from_texts, start, start + 100)
        ids = [r["id"] for r in orjson.loads(body)["records"]]
        assert ids == list(range(7 + start, 7 + min(230, start + 100)))
    assert from_arrow.rows_json == texts[7:237]


# --- auth ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("auth", "required"),
    [
        ({"type": "bearer", "token": TOKEN}, {"Authorization": f"Bearer {TOKEN}"}),
        (
            {"type": "basic", "username": "ada", "password": PASSWORD},
            {"Authorization": "Basic " + base64.b64encode(f"ada:{PASSWORD}".encode()).decode()},
        ),
        ({"type": "api_key", "header": "X-Api-Key", "value": TOKEN}, {"X-Api-Key": TOKEN}),
    ],
)
def test_header_auth_types_are_verified_by_the_sink(auth, required):
    with HttpSink(require_headers=required) as sink:
        destination = make(sink, auth=auth)
        assert destination.check().ok
        assert all(o.ok for o in write(destination, records(3)).outcomes)
        assert len(sink.received) == 3
        wrong = make(sink, auth={**auth, **{k: "wrong" for k in ("token", "password", "value") if k in auth}})
        with pytest.raises(ConnectorError) as exc:
            write(wrong, records(1))
        assert (exc.value.code, exc.value.status, exc.value.retryable) == (ErrorCode.AUTH_FAILED, 401, False)
        check = wrong.check()
        assert not check.ok and "Authentication failed" in check.message


def test_hmac_signature_of_the_exact_body_is_verified_by_the_sink():
    with HttpSink(hmac_secret=TOKEN, hmac_header="X-Hub-Signature") as sink:
        destination = make(sink, auth={"type": "hmac", "secret": TOKEN, "header": "X-Hub-Signature"})
        assert all(o.ok for o in write(destination, records(4)).outcomes)
        assert all(
            o.ok
            for o in write(
                make(sink, batch_size=1, auth=destination.config.auth.model_dump()), records(2)
            ).outcomes
        )
        assert len(sink.received) == 6
        forged = make(sink, auth={"type": "hmac", "secret": "other", "header": "X-Hub-Signature"})
        with pytest.raises(ConnectorError) as exc:
            write(forged, records(1))
        assert exc.value.code == ErrorCode.AUTH_FAILED
        assert len(sink.received) == 6


def test_default_hmac_header():
    with HttpSink(hmac_secret=TOKEN) as sink:
        assert all(
            o.ok for o in write(make(sink, auth={"type": "hmac", "secret": TOKEN}), records(2)).outcomes
        )


# --- per-record errors --------------------------------------------------------------------------------
def test_per_record_errors_become_outcomes(sink):
    sink.faults = reject_where(lambda r: r["id"] % 3 == 0, "Email is invalid", "invalid_field_value")
    result = write(make(sink), records(7))
    assert [o.index for o in result.failed] == [0, 3, 6]
    failed = result.failed[0]
    assert (failed.error_code, failed.message, failed.status, failed.retryable) == (
        "invalid_field_value",
        "Email is invalid",
        200,
        False,
    )
    assert [r["id"] for r in sink.received] == [1, 2, 4, 5]
    assert len(result.succeeded) == 4


def test_unknown_codes_item_status_and_nested_errors_path(sink):
    answer = {
        "result": {
            "failures": [
                {"index": 0, "message": "duplicate", "code": "E_DUP", "status": 409},
                {"index": "2", "message": "try later", "status": 503},
            ]
        }
    }
    sink.faults = lambda number, rows: Fault(status=207, body=answer)
    result = write(make(sink, errors_path="result.failures"), records(3))
    first, second, third = result.outcomes
    assert not first.ok and first.error_code == ErrorCode.DESTINATION_REJECTED
    assert first.message == "duplicate (code: E_DUP)" and first.status == 409 and not first.retryable
    assert second.ok
    assert not third.ok and third.status == 503 and third.retryable


def test_error_without_index_fails_the_records_of_that_request(sink):
    sink.faults = lambda number, rows: Fault(status=200, body={"errors": [{"message": "quota exceeded"}]})
    result = write(make(sink), records(3))
    assert len(result.failed) == 3 and "quota exceeded" in result.failed[0].message
    single = write(make(sink, batch_size=1), records(1))
    assert single.failed[0].message == "quota exceeded"


# --- whole-request failures -----------------------------------------------------------------------------
def test_429_with_retry_after_is_retryable(sink):
    sink.faults = lambda number, rows: Fault.rate_limited(retry_after=2)
    with pytest.raises(ConnectorError) as exc:
        write(make(sink), records(2))
    error = exc.value
    assert (error.code, error.status, error.retryable, error.retry_after) == ("rate_limited", 429, True, 2.0)
    assert sink.received == []


def test_500_is_retryable_and_400_is_permanent(sink):
    destination = make(sink)
    sink.faults = lambda number, rows: Fault.server_error(500, "database down")
    with pytest.raises(ConnectorError) as exc:
        write(destination, records(2))
    assert exc.value.retryable and exc.value.code == ErrorCode.DESTINATION_UNAVAILABLE
    assert "database down" in exc.value.message
    sink.faults = lambda number, rows: Fault(
        status=400, body={"error": {"message": "records must be a list"}}
    )
    with pytest.raises(ConnectorError) as exc:
        write(destination, records(2))
    assert not exc.value.retryable and exc.value.code == ErrorCode.DESTINATION_REJECTED
    assert exc.value.status == 400 and "records must be a list" in exc.value.message
    sink.faults = lambda number, rows: Fault(status=413)
    with pytest.raises(ConnectorError) as exc:
        write(destination, records(2))
    assert exc.value.code == ErrorCode.PAYLOAD_TOO_LARGE


def test_configured_retryable_statuses(sink):
    sink.faults = lambda number, rows: Fault(status=409, body={"message": "locked"})
    with pytest.raises(ConnectorError) as exc:
        write(make(sink, retryable_statuses=[409, 503]), records(1))
    assert exc.value.retryable


def test_timeout_is_retryable(sink):
    sink.faults = lambda number, rows: Fault.timeout(2.0) if number == 1 else None
    with pytest.raises(ConnectorError) as exc:
        write(make(sink, timeout_seconds=0.3), records(2))
    assert exc.value.retryable and exc.value.code == ErrorCode.DESTINATION_UNAVAILABLE


def test_connection_reset_is_retryable(sink):
    sink.faults = lambda number, rows: Fault.connection_reset()
    with pytest.raises(ConnectorError) as exc:
        write(make(sink), records(2))
    assert exc.value.retryable and exc.value.code == ErrorCode.DESTINATION_UNAVAILABLE


def test_later_request_failing_keeps_earlier_records_written(sink):
    sink.faults = lambda number, rows: Fault.server_error(503) if number == 2 else None
    result = write(make(sink, batch_size=2), records(5))
    assert result.requests == 2
    assert [o.ok for o in result.outcomes] == [True, True, False, False, False]
    assert all(o.retryable and o.error_code == "destination_unavailable" for o in result.failed)
    assert [r["id"] for r in sink.received] == [0, 1]


def test_private_destination_refused_without_the_setting(sink, settings):
    settings.SYNCLINE_ALLOW_PRIVATE_DESTINATIONS = False
    destination = make(sink)
    with pytest.raises(ConnectorError) as exc:
        write(destination, records(1))
    assert exc.value.code == ErrorCode.DESTINATION_REJECTED and not exc.value.retryable
    check = destination.check()
    assert not check.ok and "SYNCLINE_ALLOW_PRIVATE_DESTINATIONS" in check.message
    assert sink.requests == 0 and sink.probes == 0
    assert write(HttpDestination(destination.config, allow_private=True), records(1)).outcomes[0].ok


def test_unknown_mode_is_rejected(sink):
    with pytest.raises(ConnectorError):
        write(make(sink), records(1), mode="merge")


def test_empty_batch_sends_nothing(sink):
    result = make(sink).write("records", "upsert", OutgoingBatch([]), match_key="id")
    assert result.outcomes == [] and result.requests == 0 and sink.requests == 0


# --- methods, headers, idempotency ----------------------------------------------------------------------
def test_methods_per_operation(sink):
    destination = make(sink, method="put", methods={"delete": "DELETE", "update": "patch"})
    for mode in ("upsert", "insert", "update", "delete", "mirror"):
        write(destination, records(1), mode=mode)
    log = sink.request_log
    assert [r.method for r in log] == ["PUT", "PUT", "PATCH", "DELETE", "PUT"]
    assert [r.headers["x-syncline-operation"] for r in log] == [
        "upsert",
        "insert",
        "update",
        "delete",
        "mirror",
    ]
    assert log[0].headers["x-syncline-match-key"] == "id"


def test_custom_headers_are_sent(sink):
    write(make(sink, headers={"X-Tenant": "acme", "content-type": "application/vnd.acme+json"}), records(1))
    headers = sink.request_log[0].headers
    assert headers["x-tenant"] == "acme" and headers["content-type"] == "application/vnd.acme+json"


class KeyedBatch(OutgoingBatch):
    """How the engine can attach its stable batch id (OutgoingBatch has __slots__)."""

    __slots__ = ("idempotency_key",)


def test_idempotency_key_from_argument_or_batch_and_replays_are_deduplicated(sink):
    destination = make(sink)
    write(destination, records(2), idempotency_key="run1-b0")
    batch = KeyedBatch.of(records(2, start=2))
    batch.idempotency_key = "run1-b1"
    destination.write("records", "upsert", batch, match_key="id")
    assert [r.headers["idempotency-key"] for r in sink.request_log] == ["run1-b0", "run1-b1"]
    # The engine retries a batch whose answer it never saw: same key, same body → no duplicate.
    again = destination.write("records", "upsert", batch, match_key="id")
    assert all(o.ok for o in again.outcomes)
    assert [r["id"] for r in sink.received] == [0, 1, 2, 3] and sink.replays == 1
    write(destination, records(1))
    assert "idempotency-key" not in sink.request_log[-1].headers


def test_seeded_fault_schedule_is_deterministic(sink):
    def run(seed: int) -> list[tuple[int, bool, str | None]]:
        with HttpSink(faults=FaultSchedule(seed, server_error=0.3, reject_record=0.2)) as fresh:
            destination = make(fresh)
            seen = []
            for b in range(10):
                try:
                    result = write(destination, records(10, start=10 * b))
                    seen += [(o.index, o.ok, o.error_code) for o in result.outcomes]
                except ConnectorError as exc:
                    seen.append((b, False, exc.code))
            destination.close()
            return seen

    first = run(42)
    assert first == run(42)
    assert first != run(43)
    assert any(code == "destination_unavailable" for _, _, code in first)
    assert any(code == "invalid_field_value" for _, _, code in first)


# --- check ----------------------------------------------------------------------------------------------
def test_check_reports_reachability_with_fallbacks():
    with HttpSink(probe_statuses={"HEAD": 405}) as sink:
        result = make(sink).check()
        assert result.ok and "GET" in result.message and sink.probes == 2
    with HttpSink(probe_statuses={"HEAD": 405, "GET": 405, "OPTIONS": 405}) as sink:
        assert make(sink).check().ok  # the server is there; it only takes writes
    with HttpSink(probe_statuses={"HEAD": 404}) as sink:
        result = make(sink).check()
        assert not result.ok and "Not found" in result.message
    with HttpSink(probe_statuses={"HEAD": 503}) as sink:
        assert not make(sink).check().ok
    with HttpSink(probe_statuses={"HEAD": 403}) as sink:
        result = make(sink).check()
        assert not result.ok and "Permission denied" in result.message


def test_check_reports_unreachable_hosts(sink):
    destination = make(sink)
    sink.stop()
    result = destination.check()
    assert not result.ok and "not reachable" in result.message


# --- secrets ----------------------------------------------------------------------------------------------
def test_secrets_never_leak_into_repr_errors_or_logs(caplog):
    auths = [
        {"type": "bearer", "token": TOKEN},
        {"type": "basic", "username": "ada", "password": PASSWORD},
        {"type": "api_key", "header": "X-Api-Key", "value": TOKEN},
        {"type": "hmac", "secret": TOKEN},
    ]
    basic_blob = base64.b64encode(f"ada:{PASSWORD}".encode()).decode()
    texts: list[str] = []
    with caplog.at_level(logging.DEBUG), HttpSink(require_headers={"X-Never": "sent"}) as sink:
        for auth in auths:
            destination = make(sink, auth=auth)
            texts += [repr(destination.config), str(destination.config), destination.config.model_dump_json()]
            texts.append(destination.check().message)
            with pytest.raises(ConnectorError) as exc:  # 401: the sink wants another header
                write(destination, records(2))
            texts.append(exc.value.message)
            # A server that echoes the credential back in its error message.
            echoed = f"{PASSWORD} / {basic_blob}" if auth["type"] == "basic" else TOKEN
            sink.require_headers = {}
            sink.faults = lambda number, rows, echoed=echoed: Fault(
                status=400, body={"message": f"bad credential {echoed}"}
            )
            with pytest.raises(ConnectorError) as exc:
                write(destination, records(2))
            texts.append(exc.value.message)
            sink.faults = lambda number, rows, echoed=echoed: Fault(
                status=200, body={"errors": [{"index": 0, "message": f"token {echoed} rejected"}]}
            )
            texts += [o.message or "" for o in write(destination, records(2)).outcomes]
            sink.faults = None
            sink.require_headers = {"x-never": "sent"}
            destination.close()
    texts.append(caplog.text)
    assert any("[redacted]" in t for t in texts)
    for text in texts:
        assert TOKEN not in text and PASSWORD not in text and basic_blob not in text
