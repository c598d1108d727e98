"""Outbound HTTP for connectors: the one place an httpx client is built and a request is sent.

Everything here is about sending one request safely and saying what happened; nothing retries.
The engine's loader owns retry and backoff, so transport failures and error statuses come back
as a classified ``ConnectorError`` (``retryable``, ``retry_after``) and the caller decides.

Safety rules enforced here:

- SSRF guard (see ``netguard``): every target is checked before the request and again by the
  connection itself, which resolves the name, vets every address and connects to a vetted address
  (so DNS rebinding between check and connect cannot slip through). Redirects are followed here,
  hop by hop, so each hop passes the same checks.
- No environment proxies or ``.netrc`` (``trust_env=False``): both would bypass the guard or add
  credentials nobody configured.
- Error messages are built from the status, the target host/path and the server's own message;
  never from request headers, and never with the URL's query string (it may hold a key).
"""

from __future__ import annotations

import email.utils
import functools
import logging
import re
import ssl
import time
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from datetime import UTC
from typing import Any

import httpcore
import httpx
import orjson

from apps.connectors import netguard
from apps.connectors.base import ConnectorError, ErrorCode
from apps.connectors.ratelimit import NO_LIMIT, RateLimiter

logger = logging.getLogger(__name__)
# httpx logs every request at INFO with its full URL (query strings included). At our request rates
# that is noise, and the URL may carry a key; keep it quiet unless logging config says otherwise.
if logging.getLogger("httpx").level == logging.NOTSET:
    logging.getLogger("httpx").setLevel(logging.WARNING)

MAX_REDIRECTS = 5
DEFAULT_RETRYABLE_STATUSES: frozenset[int] = frozenset({408, 425, 429, 500, 502, 503, 504})
MAX_RETRY_AFTER_SECONDS = 86_400.0
_MESSAGE_LIMIT = 300
USER_AGENT = "Syncline/1.0 (+reverse-etl)"
# Headers that may follow a redirect to another host; anything else (API keys, signatures,
# custom auth) stays with the host it was configured for.
_CROSS_HOST_SAFE_HEADERS = frozenset(
    {"accept", "accept-encoding", "content-type", "content-length", "user-agent", "host", "idempotency-key"}
)
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


# --- client --------------------------------------------------------------------------------
class _GuardedBackend(httpcore.SyncBackend):
    """Resolves, vets and connects to an address itself instead of letting the socket resolve."""

    def __init__(self, allow_private: bool | None) -> None:
        self._allow_private = allow_private

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = netguard.resolve(host, port)
        except OSError as exc:
            raise httpcore.ConnectError(f"could not resolve {host}: {exc}") from None
        # The policy ``send`` was called with wins over the client's own default.
        override = netguard.allow_private_override.get()
        allowed = override if override is not None else netguard.effective_allow_private(self._allow_private)
        if not allowed:
            netguard.vet_addresses(host, addresses)  # raises ConnectorError, passed through httpx
        last_error: Exception | None = None
        for ip in addresses:
            try:
                return super().connect_tcp(str(ip), port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        assert last_error is not None  # resolve() never returns an empty list
        raise last_error


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One verifying TLS context for every client: building one loads the CA bundle (~40 ms),
    which a run paid twice per destination client. Contexts are safe to share between threads."""
    return httpx.create_ssl_context(trust_env=False)


class _GuardedTransport(httpx.HTTPTransport):
    def __init__(self, *, allow_private: bool | None, limits: httpx.Limits) -> None:
        super().__init__(verify=_ssl_context(), limits=limits, trust_env=False)
        # httpx has no public knob for the network backend; the pool it built is replaced by an
        # identical one whose connections go through the guard.
        self._pool = httpcore.ConnectionPool(
            ssl_context=_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_GuardedBackend(allow_private),
        )


class GuardedClient(httpx.Client):
    """An ``httpx.Client`` that remembers the private-address policy it was built with."""

    def __init__(self, *, allow_private: bool | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.allow_private = allow_private


def build_client(
    *,
    timeout: float = 30,
    headers: Mapping[str, str] | None = None,
    allow_private: bool | None = None,
) -> httpx.Client:
    """A keep-alive client whose every connection passes the SSRF guard.

    ``allow_private=None`` reads ``SYNCLINE_ALLOW_PRIVATE_DESTINATIONS`` at connect time.
    Redirects are not followed by httpx: ``send`` follows them so each hop is checked.
    """
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=16, keepalive_expiry=30.0)
    return GuardedClient(
        allow_private=allow_private,
        transport=_GuardedTransport(allow_private=allow_private, limits=limits),
        # A slow connect means an unreachable host; reads get the full budget (big batches).
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        headers={"User-Agent": USER_AGENT, **(headers or {})},
        follow_redirects=False,
        trust_env=False,
    )


def parse_http_url(value: str, *, credentials_hint: str = "") -> httpx.URL:
    """``value`` as an absolute http(s) URL with a host and no credentials, or ValueError."""
    try:
        url = httpx.URL(value)
    except httpx.InvalidURL as exc:
        raise ValueError(f"not a valid URL: {exc}") from None
    if url.scheme not in ("http", "https"):
        raise ValueError("must be an http:// or https:// URL")
    if not url.host:
        raise ValueError("must include a host")
    if url.userinfo:
        raise ValueError(f"must not contain credentials{credentials_hint}")
    return url


# --- sending -------------------------------------------------------------------------------
def safe_url(url: httpx.URL | str) -> str:
    """The URL without credentials, query or fragment: fit for messages and logs."""
    url = httpx.URL(url) if isinstance(url, str) else url
    port = f":{url.port}" if url.port else ""
    return f"{url.scheme}://{url.host}{port}{url.path}"


def _check(url: httpx.URL, allow_private: bool) -> None:
    port = url.port or (443 if url.scheme == "https" else 80)
    netguard.check_target(url.scheme, url.host, port, allow_private=allow_private)


def _transport_error(exc: httpx.HTTPError, request: httpx.Request) -> ConnectorError:
    target = f"{request.method} {safe_url(request.url)}"
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        kind = {
            httpx.ConnectTimeout: "connecting",
            httpx.ReadTimeout: "waiting for the response",
            httpx.WriteTimeout: "sending the request",
            httpx.PoolTimeout: "waiting for a free connection",
        }.get(type(exc), "talking to the server")
        return ConnectorError(
            f"Timed out {kind}: {target}",
            code=ErrorCode.DESTINATION_UNAVAILABLE,
            retryable=True,
        )
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.LocalProtocolError | httpx.InvalidURL):
        return ConnectorError(
            f"Cannot send {target}: {detail}", code=ErrorCode.DESTINATION_REJECTED, retryable=False
        )
    # Connection refused/reset, DNS failure, server hung up without answering: worth another try.
    return ConnectorError(
        f"Connection failed ({type(exc).__name__}): {target}: {detail}",
        code=ErrorCode.DESTINATION_UNAVAILABLE,
        retryable=True,
    )


def _next_hop(request: httpx.Request, redirect: httpx.Request) -> httpx.Request:
    if redirect.url.host != request.url.host:
        for name in list(redirect.headers):
            if name.lower() not in _CROSS_HOST_SAFE_HEADERS:
                del redirect.headers[name]
    return redirect


# The engine's rate limit for the write in progress on this thread (set by the loader around
# ``Destination.write``): every request a connector sends takes a token, however many requests
# one write takes (chunks, a resend of the records a 400 did not name, a token refresh).
request_limiter: ContextVar[RateLimiter] = ContextVar("request_limiter", default=NO_LIMIT)


def send(
    client: httpx.Client,
    method: str,
    url: str | httpx.URL,
    *,
    content: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    allow_private: bool | None = None,
) -> httpx.Response:
    """Send one request (following up to 5 redirects, each checked); return the final response.

    Raises ``ConnectorError``: ``destination_rejected`` (not retryable) when the guard refuses a
    hop, ``destination_unavailable`` (retryable) for timeouts and connection failures. Error
    statuses are returned, not raised: pass the response to ``classify_response``.
    """
    if allow_private is None:
        allow_private = getattr(client, "allow_private", None)
    allowed = netguard.effective_allow_private(allow_private)
    token = netguard.allow_private_override.set(allowed)
    try:
        try:
            request = client.build_request(method, url, content=content, headers=headers)
        except httpx.HTTPError as exc:  # InvalidURL and friends
            raise ConnectorError(
                f"Invalid request URL: {exc}", code=ErrorCode.DESTINATION_REJECTED, retryable=False
            ) from None
        limiter = request_limiter.get()
        for _hop in range(MAX_REDIRECTS + 1):
            _check(request.url, allowed)
            limiter.acquire()
            try:
                response = client.send(request)
            except httpx.HTTPError as exc:
                raise _transport_error(exc, request) from None
            redirect = response.next_request
            if response.status_code not in _REDIRECT_STATUSES or redirect is None:
                return response
            response.close()
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug("redirect %s -> %s", safe_url(request.url), safe_url(redirect.url))
            request = _next_hop(request, redirect)
        raise ConnectorError(
            f"Too many redirects (more than {MAX_REDIRECTS}) starting at {safe_url(url)}",
            code=ErrorCode.DESTINATION_REJECTED,
            retryable=False,
        )
    finally:
        netguard.allow_private_override.reset(token)


# --- classification --------------------------------------------------------------------------
def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delta-seconds or an HTTP-date."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # HTTP-dates are GMT by definition
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MESSAGE_LIMIT else text[: _MESSAGE_LIMIT - 1] + "…"


def _message_from_json(data: Any) -> str | None:
    if not isinstance(data, dict):
        return None
    for key in ("message", "error", "detail", "error_description", "title"):
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return value
        if isinstance(value, dict):
            nested = _message_from_json(value)
            if nested:
                return nested
    errors = data.get("errors")
    if isinstance(errors, list) and errors:
        first = errors[0]
        return first if isinstance(first, str) else _message_from_json(first)
    return None


_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def server_message(response: httpx.Response) -> str:
    """The server's own explanation: a JSON body's message/error, else the start of the text."""
    body = response.content
    if not body:
        return response.reason_phrase or ""
    stripped = body.lstrip()
    if stripped[:1] in (b"{", b"["):
        try:
            message = _message_from_json(orjson.loads(body))
        except orjson.JSONDecodeError:
            message = None
        if message:
            return _shorten(message)
    if stripped[:1] == b"<":  # an HTML error page: its title says more than its markup
        match = _TITLE.search(body[:8192])
        if match:
            return _shorten(match.group(1).decode("utf-8", "replace"))
    return _shorten(body[:4096].decode("utf-8", "replace"))


def code_for_status(status: int) -> ErrorCode:
    """The error code an HTTP error status means when the body says nothing more specific."""
    if status == 429:
        return ErrorCode.RATE_LIMITED
    if status >= 500 or status in (408, 425):
        return ErrorCode.DESTINATION_UNAVAILABLE
    if status == 401:
        return ErrorCode.AUTH_FAILED
    if status == 403:
        return ErrorCode.PERMISSION_DENIED
    if status == 413:
        return ErrorCode.PAYLOAD_TOO_LARGE
    return ErrorCode.DESTINATION_REJECTED


def classify_response(
    response: httpx.Response,
    *,
    retryable_statuses: frozenset[int] | Iterable[int] = DEFAULT_RETRYABLE_STATUSES,
    secrets: Iterable[str] = (),
) -> ConnectorError | None:
    """None for 2xx; otherwise the error to raise, with the status and the server's message.

    ``secrets`` are redacted from the server's message (some APIs echo the credential back).
    """
    status = response.status_code
    if 200 <= status < 300:
        return None
    retryable = status in retryable_statuses
    message = redact(server_message(response), secrets)
    try:
        target = safe_url(response.request.url)
    except RuntimeError:  # a response built by hand, without its request
        target = "the destination"
    head = f"HTTP {status} {response.reason_phrase}".rstrip()
    return ConnectorError(
        f"{head} from {target}: {message}",
        code=code_for_status(status),
        status=status,
        retryable=retryable,
        retry_after=parse_retry_after(response.headers.get("Retry-After")) if retryable else None,
    )


# --- secret redaction --------------------------------------------------------------------------
REDACTED = "[redacted]"


def _pattern(secrets: Iterable[str]) -> re.Pattern[str] | None:
    # Longest first, so a secret that contains another is removed whole.
    values = sorted({s for s in secrets if s}, key=len, reverse=True)
    return re.compile("|".join(map(re.escape, values))) if values else None


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of every non-empty secret replaced by ``[redacted]``."""
    pattern = _pattern(secrets)
    return pattern.sub(REDACTED, text) if pattern is not None and text else text


class RedactingFilter(logging.Filter):
    """Removes the given secrets from log records (message, arguments and traceback text).

    Attach it to handlers (a filter on a logger does not see records from child loggers).
    """

    def __init__(self, secrets: Iterable[str] = (), name: str = "") -> None:
        super().__init__(name)
        self._secrets: set[str] = {s for s in secrets if s}
        self._pattern = _pattern(self._secrets)

    def add_secrets(self, secrets: Iterable[str]) -> None:
        self._secrets.update(s for s in secrets if s)
        self._pattern = _pattern(self._secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        pattern = self._pattern
        if pattern is None:
            return True
        message = record.getMessage()
        cleaned = pattern.sub(REDACTED, message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = pattern.sub(REDACTED, record.exc_text)
        if record.stack_info:
            record.stack_info = pattern.sub(REDACTED, record.stack_info)
        return True
