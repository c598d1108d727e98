"""Prefixed, time-ordered string ids: ``retl_sync_01jq8…``, ``retl_run_…``, ``dlq_…``, ``conn_…``.

The part after the prefix is a ULID in lower-case Crockford base32: 48 bits of milliseconds since
the epoch then 80 random bits, 26 characters. Sorting ids as strings sorts them by creation time,
so the primary key alone serves keyset pagination ("newest first" = ``ORDER BY id DESC``). Within
one millisecond a process increments the random part, so its own ids stay strictly increasing.
"""

from __future__ import annotations

import os
import threading
import time

ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, ascending in ASCII
ULID_LENGTH = 26
_RANDOM_BITS = 80

_lock = threading.Lock()
_last_ms = -1
_last_random = 0


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, digit = divmod(value, 32)
        chars.append(ALPHABET[digit])
    return "".join(reversed(chars))


def new_ulid(now_ms: int | None = None) -> str:
    global _last_ms, _last_random
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    with _lock:
        if ms <= _last_ms:
            # Same (or a clock stepped back) millisecond: stay monotonic within this process.
            ms = _last_ms
            rand = _last_random + 1
        else:
            rand = int.from_bytes(os.urandom(10), "big")
        _last_ms, _last_random = ms, rand
    return _encode(ms, 10) + _encode(rand % (1 << _RANDOM_BITS), 16)


def new_id(prefix: str) -> str:
    return f"{prefix}_{new_ulid()}"


def timestamp_ms(prefixed_id: str) -> int:
    """Milliseconds since the epoch encoded in an id (any prefix)."""
    ulid = prefixed_id.rsplit("_", 1)[-1][:10]
    value = 0
    for char in ulid:
        value = value * 32 + ALPHABET.index(char)
    return value


class IdFactory:
    """A picklable default for model id fields (Django migrations need an importable callable)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def __call__(self) -> str:
        return new_id(self.prefix)

    def deconstruct(self) -> tuple[str, tuple[str], dict]:
        return ("apps.core.ids.IdFactory", (self.prefix,), {})

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IdFactory) and other.prefix == self.prefix

    def __hash__(self) -> int:
        return hash(self.prefix)
