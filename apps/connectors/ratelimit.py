"""Token buckets the engine acquires before each request to a destination.

Both buckets use GCRA (the "virtual scheduling" form of a token bucket): the state is one number,
the theoretical arrival time (TAT) of the next token. A caller reserves its tokens by pushing the
TAT forward and then sleeps until its reservation is due, so waiting callers are served in order
and nobody spins. ``burst`` tokens can be taken at once after an idle period; beyond that, tokens
come at ``rate_per_second``.

- ``InProcessTokenBucket``: shared by the threads of one process (one bucket per key).
- ``RedisTokenBucket``: shared by every worker; one atomic Lua script reads and moves the TAT
  using Redis's own clock, so workers with skewed clocks still agree.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Protocol, runtime_checkable

import redis


class RateLimitTimeout(TimeoutError):
    """``acquire`` would have to wait longer than its ``timeout``; nothing was taken."""

    def __init__(self, wait: float, timeout: float) -> None:
        super().__init__(f"Rate limit: a token is due in {wait:.3f}s, longer than the {timeout:.3f}s allowed")
        self.wait = wait
        self.timeout = timeout


@runtime_checkable
class RateLimiter(Protocol):
    def acquire(self, tokens: int = 1, timeout: float | None = None) -> float:
        """Block until ``tokens`` are available and take them; return the seconds waited."""
        ...


class NoLimit:
    """The limiter of a destination without a rate limit."""

    def acquire(self, tokens: int = 1, timeout: float | None = None) -> float:
        return 0.0


NO_LIMIT = NoLimit()


def _validate(rate_per_second: float, burst: int) -> None:
    if not rate_per_second > 0:
        raise ValueError(f"rate_per_second must be positive, got {rate_per_second!r}")
    if burst < 1:
        raise ValueError(f"burst must be at least 1, got {burst!r}")


def _sleep_until_due(wait: float) -> float:
    if wait <= 0:
        return 0.0
    start = time.monotonic()
    time.sleep(wait)
    return time.monotonic() - start


class InProcessTokenBucket:
    """Thread-safe token bucket for one process."""

    def __init__(self, rate_per_second: float, burst: int) -> None:
        _validate(rate_per_second, burst)
        self._lock = threading.Lock()
        self._tat = 0.0  # monotonic time the bucket is full again; 0 = full now
        self.configure(rate_per_second, burst)

    def configure(self, rate_per_second: float, burst: int) -> None:
        """Change the limit in place (a destination's config was edited); reservations stay."""
        _validate(rate_per_second, burst)
        with self._lock:
            self.rate_per_second = float(rate_per_second)
            self.burst = int(burst)

    def acquire(self, tokens: int = 1, timeout: float | None = None) -> float:
        if tokens < 1:
            return 0.0
        with self._lock:
            interval = 1.0 / self.rate_per_second
            now = time.monotonic()
            tat = max(self._tat, now)
            new_tat = tat + tokens * interval
            wait = max(0.0, new_tat - self.burst * interval - now)
            if timeout is not None and wait > timeout:
                raise RateLimitTimeout(wait, timeout)
            self._tat = new_tat  # reserved: later callers queue behind us
        return _sleep_until_due(wait)


# KEYS[1] = bucket key; ARGV = interval_us, burst, tokens, max_wait_us (-1 = unbounded).
# Microsecond integers keep full precision in Lua's doubles; returns {granted, wait_us}.
_GCRA_LUA = """
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tokens = tonumber(ARGV[3])
local max_wait = tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then tat = now end
local new_tat = tat + tokens * interval
local wait = new_tat - burst * interval - now
if wait < 0 then wait = 0 end
if max_wait >= 0 and wait > max_wait then return {0, wait} end
local ttl_ms = math.floor((new_tat - now) / 1000) + 1000
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', ttl_ms)
return {1, wait}
"""

_clients: dict[str, redis.Redis] = {}
_clients_lock = threading.Lock()


def _redis_client(url: str) -> redis.Redis:
    """One client (and connection pool) per URL and process."""
    with _clients_lock:
        client = _clients.get(url)
        if client is None:
            client = _clients[url] = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        return client


class RedisTokenBucket:
    """Token bucket shared by every process that uses the same Redis and key."""

    KEY_PREFIX = "syncline:ratelimit:"

    def __init__(
        self,
        redis_url: str,
        key: str,
        rate_per_second: float,
        burst: int,
        *,
        client: redis.Redis | None = None,
    ) -> None:
        _validate(rate_per_second, burst)
        self.key = self.KEY_PREFIX + key
        self.rate_per_second = float(rate_per_second)
        self.burst = int(burst)
        self._redis = client if client is not None else _redis_client(redis_url)
        self._script = self._redis.register_script(_GCRA_LUA)

    def configure(self, rate_per_second: float, burst: int) -> None:
        _validate(rate_per_second, burst)
        self.rate_per_second, self.burst = float(rate_per_second), int(burst)

    def acquire(self, tokens: int = 1, timeout: float | None = None) -> float:
        if tokens < 1:
            return 0.0
        interval_us = max(1, round(1_000_000 / self.rate_per_second))
        max_wait_us = -1 if timeout is None else round(timeout * 1_000_000)
        granted, wait_us = self._script(keys=[self.key], args=[interval_us, self.burst, tokens, max_wait_us])
        wait = int(wait_us) / 1_000_000
        if not int(granted):
            raise RateLimitTimeout(wait, float(timeout or 0.0))
        return _sleep_until_due(wait)


_buckets: dict[tuple[str, str], InProcessTokenBucket | RedisTokenBucket] = {}
_buckets_lock = threading.Lock()


def default_burst(rate_per_second: float) -> int:
    """One second's worth of tokens, at least one."""
    return max(1, math.ceil(rate_per_second))


def limiter_for(
    key: str,
    rate_per_second: float | None,
    burst: int | None = None,
    redis_url: str | None = None,
) -> RateLimiter:
    """The limiter for ``key`` (e.g. a destination connection id), shared within the process.

    No rate (None or 0) → a no-op limiter. With ``redis_url`` the bucket lives in Redis and is
    shared by every worker; without it, by the threads of this process only.
    """
    if not rate_per_second or rate_per_second <= 0:
        return NO_LIMIT
    burst = burst or default_burst(rate_per_second)
    registry_key = (redis_url or "", key)
    with _buckets_lock:
        bucket = _buckets.get(registry_key)
        if bucket is None:
            if redis_url:
                bucket = RedisTokenBucket(redis_url, key, rate_per_second, burst)
            else:
                bucket = InProcessTokenBucket(rate_per_second, burst)
            _buckets[registry_key] = bucket
        elif (bucket.rate_per_second, bucket.burst) != (float(rate_per_second), burst):
            bucket.configure(rate_per_second, burst)
        return bucket
