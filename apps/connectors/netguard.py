"""SSRF guard: which network addresses a destination may be sent to.

A destination URL is user input, so without this check a workspace member could make our workers
call the cloud metadata service, the database or anything else on the private network. An address
is refused when it is private, loopback, link-local, multicast, reserved, unspecified or otherwise
not globally routable, after unwrapping IPv6 forms that embed an IPv4 address. The check runs on
the addresses a name resolves to, so a public name pointing at 10.0.0.5 is refused too.

Operators who do want private targets (on-premise endpoints, tests) set
``SYNCLINE_ALLOW_PRIVATE_DESTINATIONS = True``.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from contextvars import ContextVar

from apps.connectors.base import ConnectorError, ErrorCode

type IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

SETTING_NAME = "SYNCLINE_ALLOW_PRIVATE_DESTINATIONS"
ALLOWED_SCHEMES = frozenset({"http", "https"})
# Names that mean "this machine" whatever DNS says (RFC 6761).
_LOCAL_NAMES = ("localhost", "localhost.localdomain")
_RESOLVE_CACHE_SECONDS = 30.0

# Set by ``http.send`` for the duration of one call, so the connection-level check (which only
# sees host and port) applies the same policy as the caller asked for.
allow_private_override: ContextVar[bool | None] = ContextVar("syncline_allow_private", default=None)


def private_allowed_by_settings() -> bool:
    """Read the Django setting lazily: connector code can be used before Django is set up."""
    try:
        from django.conf import settings

        return bool(getattr(settings, SETTING_NAME, False))
    except Exception:  # ImproperlyConfigured outside Django: be strict.
        return False


def effective_allow_private(allow_private: bool | None) -> bool:
    if allow_private is not None:
        return allow_private
    override = allow_private_override.get()
    if override is not None:
        return override
    return private_allowed_by_settings()


def blocked_reason(ip: IPAddress) -> str | None:
    """Why ``ip`` must not be contacted, or None when it is a public address."""
    if isinstance(ip, ipaddress.IPv6Address):
        # ::ffff:10.0.0.1, 2002:0a00:0001:: (6to4) and Teredo all carry an IPv4 address that the
        # kernel would actually reach; judge that one.
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None:
            return blocked_reason(embedded)
    checks = (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),  # before private: Python counts 240.0.0.0/4 as both
        ("private", ip.is_private),
    )
    for reason, hit in checks:
        if hit:
            return reason
    if not ip.is_global:  # e.g. 100.64.0.0/10 carrier-grade NAT
        return "non-public"
    return None


def refusal(host: str, ip: IPAddress | str, reason: str) -> ConnectorError:
    return ConnectorError(
        f"Refusing to connect to {host} ({ip}): it is a {reason} address. Private, loopback and "
        f"link-local destinations are only allowed when the server runs with {SETTING_NAME}=true.",
        code=ErrorCode.DESTINATION_REJECTED,
        retryable=False,
    )


def _literal_ip(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def resolve(host: str, port: int) -> list[IPAddress]:
    """All addresses ``host`` resolves to, in resolver order, without duplicates."""
    literal = _literal_ip(host)
    if literal is not None:
        return [literal]
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: dict[IPAddress, None] = {}
    for _family, _type, _proto, _canon, sockaddr in infos:
        seen.setdefault(ipaddress.ip_address(str(sockaddr[0]).split("%")[0]), None)
    return list(seen)


def vet_addresses(host: str, addresses: list[IPAddress]) -> None:
    """Raise if any address is forbidden: a name with one private record is not trusted."""
    lowered = host.lower().rstrip(".")
    if lowered in _LOCAL_NAMES or lowered.endswith(".localhost"):
        raise refusal(host, addresses[0] if addresses else "local name", "loopback")
    for ip in addresses:
        reason = blocked_reason(ip)
        if reason is not None:
            raise refusal(host, ip, reason)


class _ResolveCache:
    """Short-lived cache for the per-request pre-flight check (the connect-time check is fresh)."""

    def __init__(self, ttl: float) -> None:
        self._ttl = ttl
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, int], tuple[float, list[IPAddress]]] = {}

    def get(self, host: str, port: int) -> list[IPAddress]:
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get((host, port))
            if entry is not None and entry[0] > now:
                return entry[1]
        addresses = resolve(host, port)
        with self._lock:
            if len(self._entries) > 4096:  # bounded: destinations are few, hosts fewer
                self._entries.clear()
            self._entries[(host, port)] = (now + self._ttl, addresses)
        return addresses


_cache = _ResolveCache(_RESOLVE_CACHE_SECONDS)


def check_target(scheme: str, host: str, port: int, *, allow_private: bool) -> None:
    """Pre-flight check of one request target (every redirect hop goes through it)."""
    if scheme not in ALLOWED_SCHEMES:
        raise ConnectorError(
            f"Only http and https URLs are allowed, not {scheme or 'a URL without scheme'}:.",
            code=ErrorCode.DESTINATION_REJECTED,
            retryable=False,
        )
    if not host:
        raise ConnectorError("The URL has no host.", code=ErrorCode.DESTINATION_REJECTED, retryable=False)
    if allow_private:
        return
    try:
        addresses = _cache.get(host, port)
    except OSError as exc:
        raise ConnectorError(
            f"Could not resolve {host}: {exc}",
            code=ErrorCode.DESTINATION_UNAVAILABLE,
            retryable=True,
        ) from None
    vet_addresses(host, addresses)
