"""apps.connectors.http / netguard: SSRF guard, redirects, classification, transport errors, redaction."""

from __future__ import annotations

import email.utils
import ipaddress
import logging
import socket
import time

import httpx
import pytest

from apps.connectors import http, netguard
from apps.connectors.base import ConnectorError, ErrorCode
from tests.fakes.http_sink import Fault, HttpSink

SECRET = "sk_live_never_show_4c7d"


@pytest.fixture
def sink():
    with HttpSink() as running:
        yield running


@pytest.fixture
def client():
    with http.build_client(timeout=5) as c:
        yield c


def _refused(exc: pytest.ExceptionInfo[ConnectorError]) -> ConnectorError:
    error = exc.value
    assert error.code == ErrorCode.DESTINATION_REJECTED
    assert error.retryable is False
    assert "SYNCLINE_ALLOW_PRIVATE_DESTINATIONS" in error.message
    return error


# --- address policy ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("10.1.2.3", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("169.254.169.254", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.251", "multicast"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "non-public"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fc00::5", "private"),
        ("fd00:ec2::254", "private"),
        ("ff02::1", "multicast"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:169.254.169.254", "link-local"),
        ("2002:7f00:1::", "loopback"),  # 6to4 wrapping 127.0.0.1
    ],
)
def test_blocked_addresses(address, reason):
    assert netguard.blocked_reason(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_pass(address):
    assert netguard.blocked_reason(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    "url_template",
    [
        "http://127.0.0.1:{port}/records",
        "http://localhost:{port}/records",
        "http://[::1]:{port}/records",
        "http://[::ffff:127.0.0.1]:{port}/records",
        "http://0.0.0.0:{port}/records",
    ],
)
def test_loopback_targets_refused_before_any_request(sink, client, url_template):
    with pytest.raises(ConnectorError) as exc:
        http.send(client, "POST", url_template.format(port=sink.port), content=b"{}", allow_private=False)
    _refused(exc)
    assert sink.requests == 0


def test_refusal_names_host_and_resolved_address(client, monkeypatch):
    def fake_getaddrinfo(host, port, *args, **kwargs):
        assert host == "crm.internal.example.com"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.20.30.40", port))]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    with pytest.raises(ConnectorError) as exc:
        http.send(client, "GET", "https://crm.internal.example.com/hook", allow_private=False)
    error = _refused(exc)
    assert "crm.internal.example.com" in error.message and "10.20.30.40" in error.message
    assert "private" in error.message


def test_any_private_record_of_a_name_is_refused(client, monkeypatch):
    records = [("93.184.216.34",), ("192.168.0.7",)]
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, port, *a, **k: [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for (ip,) in records
        ],
    )
    with pytest.raises(ConnectorError) as exc:
        http.send(client, "GET", "https://mixed.example.com/", allow_private=False)
    assert "192.168.0.7" in _refused(exc).message


def test_connection_check_catches_dns_rebinding(sink, client, monkeypatch):
    """The pre-flight lookup says public; the lookup at connect time says loopback: refused."""
    answers = iter(["93.184.216.34", "127.0.0.1"])

    def rebinding(host, port, *args, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    with pytest.raises(ConnectorError) as exc:
        http.send(client, "POST", f"http://rebind-{time.time_ns()}.example.com:{sink.port}/", content=b"{}")
    assert "127.0.0.1" in _refused(exc).message
    assert sink.requests == 0


@pytest.mark.parametrize("url", ["ftp://example.com/x", "file:///etc/passwd", "gopher://example.com/"])
def test_only_http_and_https(client, url):
    with pytest.raises(ConnectorError) as exc:
        http.send(client, "GET", url, allow_private=True)
    assert exc.value.code == ErrorCode.DESTINATION_REJECTED and not exc.value.retryable


def test_private_allowed_by_argument_client_or_setting(sink, settings):
    body = b'{"id": 1}'
    with http.build_client(timeout=5) as plain:
        assert http.send(plain, "POST", sink.url, content=body, allow_private=True).status_code == 200
        settings.SYNCLINE_ALLOW_PRIVATE_DESTINATIONS = True
        assert http.send(plain, "POST", sink.url, content=body).status_code == 200
        settings.SYNCLINE_ALLOW_PRIVATE_DESTINATIONS = False
        with pytest.raises(ConnectorError):
            http.send(plain, "POST", sink.url, content=body)
    with http.build_client(timeout=5, allow_private=True) as permissive:
        assert http.send(permissive, "POST", sink.url, content=body).status_code == 200
        with pytest.raises(ConnectorError):  # a call can be stricter than its client
            http.send(permissive, "POST", sink.url, content=body, allow_private=False)
    with http.build_client(timeout=5, allow_private=False) as strict:
        assert http.send(strict, "POST", sink.url, content=body, allow_private=True).status_code == 200
        with pytest.raises(ConnectorError):
            http.send(strict, "POST", sink.url, content=body)
    assert sink.requests == 4


# --- redirects -------------------------------------------------------------------------------------
def _redirect_first(location: str, status: int = 307):
    def hook(number, records):
        return Fault(status=status, headers={"Location": location}) if number == 1 else None

    return hook


@pytest.fixture
def only_127_0_0_1_is_public(monkeypatch):
    """Let the sink's own address pass the guard so a redirect *away* from it can be tested."""
    original = netguard.blocked_reason
    monkeypatch.setattr(
        netguard, "blocked_reason", lambda ip: None if str(ip) == "127.0.0.1" else original(ip)
    )


@pytest.mark.parametrize(
    "location",
    [
        "http://127.0.0.2:{port}/records",
        "http://169.254.169.254/latest/meta-data/",
        "http://localhost:{port}/records",
        "http://[::1]:{port}/",
    ],
)
def test_redirect_to_private_host_refused(sink, client, only_127_0_0_1_is_public, location):
    sink.faults = _redirect_first(location.format(port=sink.port))
    with pytest.raises(ConnectorError) as exc:
        http.send(client, "POST", sink.url, content=b'{"id": 1}', allow_private=False)
    _refused(exc)
    assert sink.requests == 1 and sink.received == []


def test_redirect_to_other_scheme_refused(sink, client):
    sink.faults = _redirect_first("file:///etc/passwd")
    with pytest.raises(ConnectorError) as exc:
        http.send(client, "POST", sink.url, content=b"{}", allow_private=True)
    assert exc.value.code == ErrorCode.DESTINATION_REJECTED


def test_redirects_followed_hop_by_hop_when_allowed(sink, client):
    sink.faults = _redirect_first(f"{sink.base_url}/moved", status=308)
    response = http.send(client, "POST", sink.url, content=b'{"id": 7}', allow_private=True)
    assert response.status_code == 200
    log = sink.request_log
    assert [(r.method, r.path) for r in log] == [("POST", "/records"), ("POST", "/moved")]
    assert log[1].body == b'{"id": 7}'  # 307/308 keep method and body
    assert sink.received == [{"id": 7}]


def test_cross_host_redirect_drops_credentials(sink, client):
    sink.faults = _redirect_first(f"http://localhost:{sink.port}/elsewhere")
    headers = {"X-Api-Key": SECRET, "Authorization": f"Bearer {SECRET}", "Idempotency-Key": "b-1"}
    response = http.send(client, "POST", sink.url, content=b"{}", headers=headers, allow_private=True)
    assert response.status_code == 200
    first, second = sink.request_log
    assert first.headers["x-api-key"] == SECRET
    assert "x-api-key" not in second.headers and "authorization" not in second.headers
    assert second.headers["idempotency-key"] == "b-1"


def test_too_many_redirects(sink, client):
    sink.faults = lambda number, records: Fault(status=307, headers={"Location": sink.url})
    with pytest.raises(ConnectorError) as exc:
        http.send(client, "POST", sink.url, content=b"{}", allow_private=True)
    assert sink.requests == http.MAX_REDIRECTS + 1
    assert "Too many redirects" in exc.value.message and not exc.value.retryable


# --- classification ---------------------------------------------------------------------------------
def _response(status: int, body: bytes | str = b"", headers: dict[str, str] | None = None) -> httpx.Response:
    request = httpx.Request("POST", f"https://api.example.com/hook?api_key={SECRET}")
    content = body.encode() if isinstance(body, str) else body
    return httpx.Response(status, headers=headers, content=content, request=request)


@pytest.mark.parametrize("status", [200, 201, 202, 204])
def test_2xx_is_not_an_error(status):
    assert http.classify_response(_response(status)) is None


@pytest.mark.parametrize(
    ("status", "code", "retryable"),
    [
        (429, ErrorCode.RATE_LIMITED, True),
        (500, ErrorCode.DESTINATION_UNAVAILABLE, True),
        (502, ErrorCode.DESTINATION_UNAVAILABLE, True),
        (503, ErrorCode.DESTINATION_UNAVAILABLE, True),
        (504, ErrorCode.DESTINATION_UNAVAILABLE, True),
        (408, ErrorCode.DESTINATION_UNAVAILABLE, True),
        (425, ErrorCode.DESTINATION_UNAVAILABLE, True),
        (501, ErrorCode.DESTINATION_UNAVAILABLE, False),
        (401, ErrorCode.AUTH_FAILED, False),
        (403, ErrorCode.PERMISSION_DENIED, False),
        (413, ErrorCode.PAYLOAD_TOO_LARGE, False),
        (400, ErrorCode.DESTINATION_REJECTED, False),
        (404, ErrorCode.DESTINATION_REJECTED, False),
        (409, ErrorCode.DESTINATION_REJECTED, False),
        (422, ErrorCode.DESTINATION_REJECTED, False),
    ],
)
def test_status_classification(status, code, retryable):
    error = http.classify_response(_response(status, '{"message": "server says no"}'))
    assert error is not None
    assert (error.code, error.status, error.retryable) == (code, status, retryable)
    assert f"HTTP {status}" in error.message and "server says no" in error.message
    assert "api.example.com/hook" in error.message
    assert SECRET not in error.message  # the query string is never echoed


def test_retry_after_delta_seconds():
    error = http.classify_response(_response(429, "", {"Retry-After": "7"}))
    assert error.code == ErrorCode.RATE_LIMITED and error.retryable and error.retry_after == 7.0


def test_retry_after_http_date():
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    error = http.classify_response(_response(503, "", {"Retry-After": when}))
    assert error.retryable and 27 <= error.retry_after <= 31


def test_retry_after_parsing_edge_cases():
    now = 1_445_412_480.0  # Wed, 21 Oct 2015 07:28:00 GMT
    assert http.parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=now) == 10.0
    assert http.parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now=now) == 0.0  # in the past
    assert http.parse_retry_after("1.5") == 1.5
    assert http.parse_retry_after("-4") == 0.0
    assert http.parse_retry_after("soon") is None
    assert http.parse_retry_after(None) is None
    assert http.parse_retry_after("99999999") == http.MAX_RETRY_AFTER_SECONDS
    assert http.classify_response(_response(500)).retry_after is None


def test_custom_retryable_statuses():
    assert http.classify_response(_response(409), retryable_statuses={409}).retryable
    not_retried = http.classify_response(_response(429, "", {"Retry-After": "3"}), retryable_statuses={503})
    assert not not_retried.retryable and not_retried.code == ErrorCode.RATE_LIMITED


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{"message": "Invalid email"}', "Invalid email"),
        ('{"error": "invalid_request"}', "invalid_request"),
        ('{"error": {"code": "E1", "message": "Nested message"}}', "Nested message"),
        ('{"detail": "Not allowed"}', "Not allowed"),
        ('{"errors": [{"message": "First of many"}]}', "First of many"),
        ("<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>", "502 Bad Gateway"),
        ("plain   text\n  error", "plain text error"),
    ],
)
def test_server_message_extraction(body, expected):
    assert http.classify_response(_response(400, body)).message.endswith(f": {expected}")


def test_long_text_bodies_are_truncated():
    message = http.classify_response(_response(500, "x" * 10_000)).message
    assert len(message) < 400 and message.endswith("…")


def test_server_echoing_a_secret_is_redacted():
    error = http.classify_response(
        _response(401, f'{{"message": "token {SECRET} is revoked"}}'), secrets=[SECRET]
    )
    assert SECRET not in error.message and "[redacted] is revoked" in error.message


# --- transport errors ---------------------------------------------------------------------------------
def test_timeout_is_retryable(sink):
    sink.faults = lambda number, records: Fault.timeout(2.0)
    with http.build_client(timeout=0.3, allow_private=True) as fast_client:
        started = time.monotonic()
        with pytest.raises(ConnectorError) as exc:
            http.send(fast_client, "POST", sink.url, content=b"{}")
    assert time.monotonic() - started < 1.5
    assert exc.value.code == ErrorCode.DESTINATION_UNAVAILABLE and exc.value.retryable
    assert "Timed out" in exc.value.message


def test_connection_reset_is_retryable(sink, client):
    sink.faults = lambda number, records: Fault.connection_reset()
    with pytest.raises(ConnectorError) as exc:
        http.send(client, "POST", sink.url, content=b"{}", allow_private=True)
    assert exc.value.code == ErrorCode.DESTINATION_UNAVAILABLE and exc.value.retryable


def test_connection_refused_is_retryable(client):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ConnectorError) as exc:
        http.send(client, "POST", f"http://127.0.0.1:{port}/", content=b"{}", allow_private=True)
    assert exc.value.code == ErrorCode.DESTINATION_UNAVAILABLE and exc.value.retryable


def test_transport_errors_never_show_headers(sink, client):
    sink.faults = lambda number, records: Fault.connection_reset()
    with pytest.raises(ConnectorError) as exc:
        http.send(
            client,
            "POST",
            sink.url + f"?key={SECRET}",
            content=b"{}",
            headers={"Authorization": SECRET},
            allow_private=True,
        )
    assert SECRET not in exc.value.message


# --- redaction -------------------------------------------------------------------------------------
def test_redact():
    assert http.redact(f"a {SECRET} b {SECRET}", [SECRET]) == "a [redacted] b [redacted]"
    assert http.redact("abcdef", ["abc", "abcdef"]) == "[redacted]"  # longest first
    assert http.redact("nothing", ["", "zz"]) == "nothing"
    assert http.redact("a.b*c", ["b*"]) == "a.[redacted]c"  # secrets are literal, not regexes


def test_redacting_filter_cleans_messages_args_and_tracebacks(caplog):
    log = logging.getLogger("tests.redaction")
    redactor = http.RedactingFilter([SECRET])
    caplog.handler.addFilter(redactor)
    try:
        with caplog.at_level(logging.DEBUG, logger="tests.redaction"):
            log.info("sending with token %s", SECRET)
            log.warning(f"inline {SECRET}")
            try:
                raise ValueError(f"boom {SECRET}")
            except ValueError:
                log.exception("failed")
            redactor.add_secrets(["second-secret"])
            log.info("and %s", "second-secret")
    finally:
        caplog.handler.removeFilter(redactor)
    assert SECRET not in caplog.text and "second-secret" not in caplog.text
    assert caplog.text.count("[redacted]") == 4
    assert "boom [redacted]" in caplog.text
