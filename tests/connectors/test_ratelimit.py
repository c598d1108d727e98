"""Token buckets: the rate is really enforced, in one process and across processes via Redis.

The Redis tests use the real server at 127.0.0.1:6379 (db 9). They must fail, not skip, when it
is missing: the shared limiter is what keeps many workers under a destination's rate limit.
"""

from __future__ import annotations

import threading
import time
import uuid

import pytest
import redis

from apps.connectors.ratelimit import (
    NO_LIMIT,
    InProcessTokenBucket,
    RateLimiter,
    RateLimitTimeout,
    RedisTokenBucket,
    limiter_for,
)

REDIS_URL = "redis://127.0.0.1:6379/9"


def timed(fn) -> float:
    started = time.monotonic()
    fn()
    return time.monotonic() - started


def acquire_many(limiter: RateLimiter, n: int) -> None:
    for _ in range(n):
        limiter.acquire()


# --- in-process ---------------------------------------------------------------------------------------
def test_rate_is_enforced_after_the_burst():
    bucket = InProcessTokenBucket(rate_per_second=50, burst=5)
    elapsed = timed(lambda: acquire_many(bucket, 20))
    # 5 at once, then 15 more at 50/s = 0.3 s.
    assert 0.25 <= elapsed < 0.6


def test_burst_is_immediate_and_wait_is_reported():
    bucket = InProcessTokenBucket(rate_per_second=10, burst=5)
    assert timed(lambda: acquire_many(bucket, 5)) < 0.05
    waited = bucket.acquire()
    assert 0.07 <= waited < 0.2
    assert 0.15 <= bucket.acquire(tokens=2) < 0.35  # two tokens cost two intervals


def test_two_threads_share_one_bucket():
    key = f"shared-{uuid.uuid4()}"
    limiter = limiter_for(key, 50, 5)
    assert limiter_for(key, 50, 5) is limiter

    def worker() -> None:
        acquire_many(limiter_for(key, 50, 5), 10)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    assert 0.25 <= elapsed < 0.6  # 20 tokens through one bucket, not 10 through each


def test_timeout_refuses_without_taking_tokens():
    bucket = InProcessTokenBucket(rate_per_second=2, burst=1)
    bucket.acquire()
    with pytest.raises(RateLimitTimeout) as exc:
        bucket.acquire(timeout=0.05)
    assert exc.value.wait > 0.05
    # The refused call reserved nothing: the next token is still due in ~0.5 s, not ~1 s.
    assert bucket.acquire(timeout=1.0) < 0.6


def test_no_rate_means_no_limit():
    for rate in (None, 0):
        limiter = limiter_for("unlimited", rate)
        assert limiter is NO_LIMIT
        assert timed(lambda limiter=limiter: acquire_many(limiter, 1000)) < 0.1


def test_reconfiguring_a_key_updates_its_bucket():
    key = f"reconf-{uuid.uuid4()}"
    bucket = limiter_for(key, 10, 1)
    assert limiter_for(key, 100, 3) is bucket
    assert (bucket.rate_per_second, bucket.burst) == (100.0, 3)
    assert limiter_for(f"default-burst-{uuid.uuid4()}", 50).burst == 50


def test_invalid_parameters():
    with pytest.raises(ValueError):
        InProcessTokenBucket(0, 1)
    with pytest.raises(ValueError):
        InProcessTokenBucket(10, 0)


# --- Redis ------------------------------------------------------------------------------------------------
@pytest.fixture
def redis_key():
    key = f"test-{uuid.uuid4()}"
    yield key
    redis.Redis.from_url(REDIS_URL).delete(RedisTokenBucket.KEY_PREFIX + key)


def test_redis_bucket_enforces_the_rate(redis_key):
    bucket = RedisTokenBucket(REDIS_URL, redis_key, rate_per_second=50, burst=5)
    elapsed = timed(lambda: acquire_many(bucket, 20))
    assert 0.25 <= elapsed < 0.8


def test_redis_bucket_is_shared_by_separate_clients(redis_key):
    """Two bucket objects with their own connections (as two workers would have) share the rate."""
    first = RedisTokenBucket(REDIS_URL, redis_key, 50, 5, client=redis.Redis.from_url(REDIS_URL))
    second = RedisTokenBucket(REDIS_URL, redis_key, 50, 5, client=redis.Redis.from_url(REDIS_URL))
    threads = [threading.Thread(target=acquire_many, args=(b, 10)) for b in (first, second)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    assert 0.25 <= elapsed < 0.8
    ttl = redis.Redis.from_url(REDIS_URL).pttl(RedisTokenBucket.KEY_PREFIX + redis_key)
    assert 0 < ttl <= 2000  # the key expires once the bucket is full again


def test_redis_timeout_and_limiter_for(redis_key):
    limiter = limiter_for(redis_key, 2, 1, redis_url=REDIS_URL)
    assert isinstance(limiter, RedisTokenBucket)
    assert limiter_for(redis_key, 2, 1, redis_url=REDIS_URL) is limiter
    assert limiter.acquire() < 0.05
    with pytest.raises(RateLimitTimeout):
        limiter.acquire(timeout=0.05)
    assert 0.3 <= limiter.acquire(timeout=1.0) < 0.7
