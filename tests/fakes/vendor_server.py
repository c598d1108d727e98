"""A base for local fakes of vendor APIs: a real HTTP server on 127.0.0.1 with routes.

A vendor fake subclasses ``FakeVendorApi``, declares its routes with ``@route(METHOD, regex)``
and implements ``authenticate`` (the vendor's auth check and its real 401 shape) and
``rate_limited`` (the vendor's real 429 answer). Handlers take a ``FakeRequest`` (path groups,
query, headers, parsed JSON body) and return a ``FakeResponse``.

    class FakeAcme(FakeVendorApi):
        def authenticate(self, request): ...
        def rate_limited(self, request): return FakeResponse(429, {...}, {"Retry-After": "1"})

        @route("POST", r"/v1/things/batch")
        def batch(self, request): ...

    with FakeAcme() as fake:
        fake.url  # http://127.0.0.1:<port>
        fake.throttle(1)          # the next write answers with the vendor's 429
        fake.fail_next(503, {...})  # the next write answers with this status
        fake.requests             # every request received, in order

Writes are the requests whose method is not GET/HEAD/OPTIONS (``throttle`` and ``fail_next``
apply to those only, so a catalog read in between does not eat the fault). State is kept in
plain dicts on the instance; handlers run under one lock, so they need no locking of their own.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from tests.fakes.loopback import LoopbackServer

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass
class FakeRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    groups: dict[str, str] = field(default_factory=dict)

    @property
    def json(self) -> Any:
        return orjson.loads(self.body) if self.body else None

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class FakeResponse:
    status: int = 200
    body: Any = None  # JSON-serialisable, or bytes sent as they are
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Any, FakeRequest], FakeResponse]


def route(method: str, pattern: str) -> Callable[[Handler], Handler]:
    """Mark a method of a ``FakeVendorApi`` subclass as the handler of ``METHOD pattern``."""

    def mark(handler: Handler) -> Handler:
        handler._route = (method.upper(), re.compile(pattern + r"\Z"))  # type: ignore[attr-defined]
        return handler

    return mark


class FakeVendorApi(LoopbackServer):
    """Base of the vendor fakes; see the module docstring."""

    def __init__(self) -> None:
        self.requests: list[FakeRequest] = []
        self.lock = threading.RLock()
        self._throttle = 0
        self._failures: list[FakeResponse] = []
        # Looked up on the class (not the instance) so properties such as ``url`` are not called.
        handlers = {n: a for klass in reversed(type(self).__mro__) for n, a in vars(klass).items()}
        self._routes = [
            (*attr._route, getattr(self, name)) for name, attr in handlers.items() if hasattr(attr, "_route")
        ]

    # --- what a subclass provides -------------------------------------------------------------
    def authenticate(self, request: FakeRequest) -> FakeResponse | None:
        """None when the request is authorised; else the vendor's own 401/403 answer."""
        return None

    def rate_limited(self, request: FakeRequest) -> FakeResponse:
        """The vendor's own 429 answer."""
        return FakeResponse(429, {"message": "Too many requests"}, {"Retry-After": "1"})

    def not_found(self, request: FakeRequest) -> FakeResponse:
        return FakeResponse(404, {"message": f"No route for {request.method} {request.path}"})

    # --- fault injection ----------------------------------------------------------------------
    def throttle(self, count: int = 1) -> None:
        """The next ``count`` writes get the vendor's 429."""
        with self.lock:
            self._throttle += count

    def fail_next(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        """The next write (after any throttled ones) gets this answer instead of being handled."""
        with self.lock:
            self._failures.append(FakeResponse(status, body, dict(headers or {})))

    def writes(self, path_pattern: str = ".*") -> list[FakeRequest]:
        """Write requests received so far whose path matches ``path_pattern``."""
        pattern = re.compile(path_pattern)
        return [r for r in self.requests if r.method not in READ_METHODS and pattern.search(r.path)]

    # --- dispatch -----------------------------------------------------------------------------
    def handle(self, request: FakeRequest) -> FakeResponse:
        with self.lock:
            self.requests.append(request)
            denied = self.authenticate(request)
            if denied is not None:
                return denied
            is_write = request.method not in READ_METHODS
            if is_write and self._throttle:
                self._throttle -= 1
                return self.rate_limited(request)
            if is_write and self._failures:
                return self._failures.pop(0)
            for method, pattern, handler in self._routes:
                if method != request.method:
                    continue
                match = pattern.match(request.path)
                if match:
                    request.groups = match.groupdict()
                    return handler(request)
            return self.not_found(request)

    # --- server -------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return self.base_url

    def _make_server(self) -> ThreadingHTTPServer:
        api = self

        class RequestHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                request = FakeRequest(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query, keep_blank_values=True),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                try:
                    response = api.handle(request)
                except Exception as exc:  # a bug in the fake: answer 500 and say what it was
                    response = FakeResponse(500, {"message": f"fake crashed: {exc!r}"})
                payload = (
                    response.body
                    if isinstance(response.body, bytes)
                    else (b"" if response.body is None else orjson.dumps(response.body))
                )
                self.send_response(response.status)
                headers = {"Content-Type": "application/json", **response.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return ThreadingHTTPServer(("127.0.0.1", 0), RequestHandler)
