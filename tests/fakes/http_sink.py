"""A local fake HTTP destination for connector and engine tests and benchmarks.

``HttpSink`` is a real HTTP/1.1 keep-alive server on 127.0.0.1 (random port, background thread)
that speaks the custom HTTP destination's protocol: a body is ``{"records": [...]}`` or one record
object (or, with ``records_path="data.items"``, a templated body whose list sits at that dotted
path); a 2xx answer may carry ``{"errors": [{"index", "message", "code"}]}``. Faults are injected
per request through a hook ``(request_number, records) -> Fault | None`` (request numbers start
at 1 and count write requests only).

    with HttpSink(faults=FaultSchedule(seed=7, rate_limited=0.1, reject_record=0.02)) as sink:
        destination = HttpDestination(HttpConfig(url=sink.url), allow_private=True)
        ...
        assert len(sink.received) == expected

Like a careful real API, it replays the stored answer for an ``Idempotency-Key`` it has already
answered with 2xx (so records are not added twice) and answers 409 when the same key comes with
another body; ``dedupe_idempotency=False`` turns that off.

It is built for speed (one write per response, no per-request logging, ``count_only=True`` keeps
counters only), so benchmarks measure the client, not the fake.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

from tests.fakes.loopback import LoopbackServer


@dataclass(frozen=True)
class Fault:
    """What to do with one request instead of (or before) accepting it.

    - ``status``: answer with it (the records are not accepted), with ``body`` as JSON,
      ``retry_after`` as the ``Retry-After`` header and any extra ``headers``.
    - ``delay``: sleep this many seconds first (longer than the client's timeout = a timeout);
      with nothing else set the request is then processed normally, as a slow server would.
    - ``reset``: close the connection without answering (TCP RST) after reading the request.
    - ``reject_indices``: accept with 2xx but report these positions as failed records.
    """

    status: int | None = None
    body: Any = None
    retry_after: str | float | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    reset: bool = False
    reject_indices: tuple[int, ...] = ()
    reject_message: str = "Rejected by the fake sink"
    reject_code: str = "destination_rejected"

    @classmethod
    def rate_limited(cls, retry_after: str | float | None = 1) -> Fault:
        return cls(status=429, retry_after=retry_after, body={"error": {"message": "Too many requests"}})

    @classmethod
    def server_error(cls, status: int = 500, message: str = "Internal error") -> Fault:
        return cls(status=status, body={"message": message})

    @classmethod
    def timeout(cls, seconds: float) -> Fault:
        return cls(delay=seconds)

    @classmethod
    def connection_reset(cls) -> Fault:
        return cls(reset=True)

    @classmethod
    def reject(
        cls,
        indices: Iterable[int],
        message: str = "Rejected by the fake sink",
        code: str = "destination_rejected",
    ) -> Fault:
        return cls(reject_indices=tuple(indices), reject_message=message, reject_code=code)


type FaultHook = Callable[[int, list[dict[str, Any]]], Fault | None]


def reject_where(
    predicate: Callable[[dict[str, Any]], bool],
    message: str = "Rejected by the fake sink",
    code: str = "invalid_field_value",
) -> FaultHook:
    """A fault hook that rejects, in every request, the records matching ``predicate``."""

    def hook(request_number: int, records: list[dict[str, Any]]) -> Fault | None:
        indices = tuple(i for i, record in enumerate(records) if predicate(record))
        return Fault.reject(indices, message, code) if indices else None

    return hook


class FaultSchedule:
    """Random faults, deterministic per seed, for randomised engine tests.

    Whole-request faults are drawn per request number (so a retry of the same batch, which is a
    new request, draws again and eventually gets through); per-record rejections are drawn per
    record content (so a record that is "bad" stays bad on every retry, like a real one).
    """

    def __init__(
        self,
        seed: int,
        *,
        rate_limited: float = 0.0,
        server_error: float = 0.0,
        timeout: float = 0.0,
        reset: float = 0.0,
        reject_record: float = 0.0,
        retry_after: float | None = 0.05,
        timeout_seconds: float = 1.0,
        timeout_processes: bool = True,
        reject_code: str = "invalid_field_value",
    ) -> None:
        total = rate_limited + server_error + timeout + reset
        if total > 1 or min(rate_limited, server_error, timeout, reset, reject_record) < 0:
            raise ValueError("fault probabilities must be >= 0 and sum to at most 1")
        self.seed = seed
        self._thresholds = (
            (rate_limited, "rate_limited"),
            (server_error, "server_error"),
            (timeout, "timeout"),
            (reset, "reset"),
        )
        self.reject_record = reject_record
        self.retry_after = retry_after
        self.timeout_seconds = timeout_seconds
        self.timeout_processes = timeout_processes
        self.reject_code = reject_code
        self.injected: Counter[str] = Counter()
        self._lock = threading.Lock()

    def _count(self, kind: str, n: int = 1) -> None:
        with self._lock:
            self.injected[kind] += n

    def record_is_bad(self, record: dict[str, Any]) -> bool:
        if self.reject_record <= 0:
            return False
        digest = hashlib.blake2b(
            orjson.dumps(record, option=orjson.OPT_SORT_KEYS), key=str(self.seed).encode(), digest_size=8
        ).digest()
        return int.from_bytes(digest) / 2**64 < self.reject_record

    def __call__(self, request_number: int, records: list[dict[str, Any]]) -> Fault | None:
        draw = random.Random(f"{self.seed}:{request_number}").random()
        for probability, kind in self._thresholds:
            if draw < probability:
                self._count(kind)
                if kind == "rate_limited":
                    return Fault.rate_limited(self.retry_after)
                if kind == "server_error":
                    return Fault.server_error(503, "Service unavailable (injected)")
                if kind == "timeout":
                    status = None if self.timeout_processes else 503
                    return Fault(delay=self.timeout_seconds, status=status)
                return Fault.connection_reset()
            draw -= probability
        bad = tuple(i for i, record in enumerate(records) if self.record_is_bad(record))
        if bad:
            self._count("rejected_records", len(bad))
            return Fault.reject(bad, "Invalid record (injected)", self.reject_code)
        return None


@dataclass(frozen=True)
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]
    records: int
    status: int
    body: bytes


class HttpSink(LoopbackServer):
    """The fake destination server. Use as a context manager, or ``start()`` / ``stop()``."""

    def __init__(
        self,
        *,
        faults: FaultHook | None = None,
        count_only: bool = False,
        require_headers: Mapping[str, str] | None = None,
        hmac_secret: str | None = None,
        hmac_header: str = "X-Signature",
        dedupe_idempotency: bool = True,
        probe_statuses: Mapping[str, int] | None = None,
        path: str = "/records",
        records_path: str | None = None,
    ) -> None:
        self.faults = faults
        self.count_only = count_only
        self.require_headers = {k.lower(): v for k, v in (require_headers or {}).items()}
        self.hmac_secret = hmac_secret
        self.hmac_header = hmac_header
        self.dedupe_idempotency = dedupe_idempotency
        self.probe_statuses = {k.upper(): v for k, v in (probe_statuses or {}).items()}
        self.path = path
        self.records_path = records_path
        self._lock = threading.Lock()
        self.clear()

    # --- lifecycle ---------------------------------------------------------------------------
    def _make_server(self) -> ThreadingHTTPServer:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.sink = self
        return server

    @property
    def url(self) -> str:
        return self.base_url + self.path

    # --- state -------------------------------------------------------------------------------
    def clear(self) -> None:
        with self._lock:
            self._received: list[dict[str, Any]] = []
            self._log: list[ReceivedRequest] = []
            self._answers: dict[str, tuple[bytes, int, bytes]] = {}  # key -> (body digest, status, body)
            self.requests = 0  # write requests (POST/PUT/PATCH/DELETE)
            self.probes = 0  # HEAD/GET/OPTIONS
            self.bodies_bytes = 0
            self.record_count = 0  # accepted records (also in count_only mode)
            self.rejected_count = 0
            self.replays = 0  # answered from the idempotency store

    @property
    def received(self) -> list[dict[str, Any]]:
        """Accepted records in arrival order (a snapshot)."""
        with self._lock:
            return list(self._received)

    @property
    def request_log(self) -> list[ReceivedRequest]:
        """Every write request (not kept in count_only mode)."""
        with self._lock:
            return list(self._log)

    # --- request handling (called from server threads) --------------------------------------
    def _next_number(self, size: int) -> int:
        with self._lock:
            self.requests += 1
            self.bodies_bytes += size
            return self.requests

    def _authorised(self, headers: Mapping[str, str], body: bytes) -> str | None:
        for name, expected in self.require_headers.items():
            if headers.get(name) != expected:
                return f"Missing or invalid {name} header"
        if self.hmac_secret is not None:
            expected = hmac.new(self.hmac_secret.encode(), body, hashlib.sha256).hexdigest()
            if not hmac.compare_digest(headers.get(self.hmac_header.lower(), ""), expected):
                return f"Invalid {self.hmac_header} signature"
        return None

    def handle_write(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes, dict[str, str], Fault | None]:
        """(status, JSON body, extra headers, fault to act on) for one write request."""
        number = self._next_number(len(body))
        denied = self._authorised(headers, body)
        if denied is not None:
            return self._logged(method, path, headers, body, 0, 401, _error(denied, "auth_failed"))
        try:
            parsed = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            return self._logged(method, path, headers, body, 0, 400, _error("Body is not JSON"))
        if self.records_path is not None:
            records = _at_path(parsed, self.records_path)
            if not isinstance(records, list):
                return self._logged(
                    method, path, headers, body, 0, 400, _error(f"Expected a list at {self.records_path}")
                )
        elif isinstance(parsed, dict) and isinstance(parsed.get("records"), list):
            records = parsed["records"]
        elif isinstance(parsed, dict):
            records = [parsed]
        elif isinstance(parsed, list):
            records = parsed
        else:
            return self._logged(method, path, headers, body, 0, 400, _error("Expected a JSON object"))

        key = headers.get("idempotency-key") if self.dedupe_idempotency else None
        digest = hashlib.blake2b(body, digest_size=16).digest() if key else b""
        if key:
            with self._lock:
                stored = self._answers.get(key)
                if stored is not None:
                    self.replays += 1
            if stored is not None:
                if stored[0] != digest:
                    conflict = _error("Idempotency-Key reused with another body", "conflict")
                    return self._logged(method, path, headers, body, len(records), 409, conflict)
                return self._logged(method, path, headers, body, len(records), stored[1], stored[2])

        fault = self.faults(number, records) if self.faults is not None else None
        if fault is not None and (fault.reset or fault.status is not None):
            status = fault.status or 0
            payload = orjson.dumps(fault.body) if fault.body is not None else b""
            extra = dict(fault.headers)
            if fault.retry_after is not None:
                extra["Retry-After"] = str(fault.retry_after)
            self._logged(method, path, headers, body, len(records), status, payload)
            return status, payload, extra, fault

        rejected = _rejections(fault, len(records))
        accepted = [r for i, r in enumerate(records) if i not in rejected]
        answer: dict[str, Any] = {"accepted": len(accepted)}
        if rejected:
            answer["errors"] = [
                {"index": i, "message": message, "code": code}
                for i, (message, code) in sorted(rejected.items())
            ]
        payload = orjson.dumps(answer)
        with self._lock:
            self.record_count += len(accepted)
            self.rejected_count += len(rejected)
            if not self.count_only:
                self._received.extend(accepted)
            if key:
                self._answers[key] = (digest, 200, payload)
        self._logged(method, path, headers, body, len(records), 200, payload)
        return 200, payload, {}, fault

    def _logged(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes,
        records: int,
        status: int,
        payload: bytes,
    ) -> tuple[int, bytes, dict[str, str], None]:
        if not self.count_only:
            entry = ReceivedRequest(method, path, headers, records, status, body)
            with self._lock:
                self._log.append(entry)
        return status, payload, {}, None

    def handle_probe(self, method: str, headers: dict[str, str]) -> tuple[int, bytes]:
        with self._lock:
            self.probes += 1
        denied = self._authorised(headers, b"")
        if denied is not None:
            return 401, _error(denied, "auth_failed")
        return self.probe_statuses.get(method, 200), b""


def _error(message: str, code: str = "invalid_request") -> bytes:
    return orjson.dumps({"error": {"code": code, "message": message}})


def _at_path(data: Any, path: str) -> Any:
    for part in path.split(".") if path else ():
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def _rejections(fault: Fault | None, count: int) -> dict[int, tuple[str, str]]:
    if fault is None:
        return {}
    return {i: (fault.reject_message, fault.reject_code) for i in fault.reject_indices if 0 <= i < count}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a handler sleeping for a timeout fault must not hold up stop()
    allow_reuse_address = True
    request_queue_size = 128
    sink: HttpSink

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients hanging up on a slow answer are part of the tests


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like a real API
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # no per-request logging: benchmarks go through here

    def _headers(self) -> dict[str, str]:
        return {k.lower(): v for k, v in self.headers.items()}

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, payload: bytes, extra: Mapping[str, str] | None = None) -> None:
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Status"
        head = [f"HTTP/1.1 {status} {reason}", f"Content-Length: {len(payload)}"]
        if payload:
            head.append("Content-Type: application/json")
        head += [f"{k}: {v}" for k, v in (extra or {}).items()]
        try:
            self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + payload)
        except OSError:
            self.close_connection = True  # the client gave up (timeout)

    def _reset(self) -> None:
        # SO_LINGER 0 makes close() send RST instead of FIN: a "connection reset by peer".
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.rfile.close()
        self.wfile.close()
        self.connection.close()
        self.close_connection = True

    def _write(self) -> None:
        body = self._body()
        sink = self.server.sink
        status, payload, extra, fault = sink.handle_write(self.command, self.path, self._headers(), body)
        if fault is not None and fault.delay:
            time.sleep(fault.delay)
        if fault is not None and fault.reset:
            self._reset()
            return
        self._send(status, payload, extra)

    def _probe(self) -> None:
        self._body()
        status, payload = self.server.sink.handle_probe(self.command, self._headers())
        if self.command == "HEAD":
            payload = b""
        self._send(status, payload)

    do_POST = do_PUT = do_PATCH = do_DELETE = _write
    do_HEAD = do_GET = do_OPTIONS = _probe
