"""Per-key request limits: a fixed one-minute window counted in Django's cache (process memory
in the embedded product, Redis when SYNCLINE_REDIS_URL is set, so every web process shares it)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

WINDOW_SECONDS = 60


@dataclass(frozen=True)
class RateLimitState:
    limit: int
    remaining: int
    reset_at: int  # epoch seconds when the window ends

    @property
    def exceeded(self) -> bool:
        return self.remaining < 0

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(0, self.remaining)),
            "X-RateLimit-Reset": str(self.reset_at),
        }

    def retry_after(self) -> int:
        return max(1, self.reset_at - int(time.time()))


def hit(key_id: str, *, now: float | None = None) -> RateLimitState:
    limit = settings.SYNCLINE_API_RATE_LIMIT_PER_MINUTE
    now = time.time() if now is None else now
    window = int(now // WINDOW_SECONDS)
    cache_key = f"api-rate:{key_id}:{window}"
    cache.add(cache_key, 0, timeout=WINDOW_SECONDS * 2)
    try:
        count = cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.set(cache_key, 1, timeout=WINDOW_SECONDS * 2)
        count = 1
    return RateLimitState(limit=limit, remaining=limit - count, reset_at=(window + 1) * WINDOW_SECONDS)
