"""Encryption at rest for connection secrets.

Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``) rather than hand-rolled AES: it is
authenticated, versioned and well reviewed. ``SYNCLINE_ENCRYPTION_KEY`` may hold several
comma-separated keys: the first encrypts, all decrypt (MultiFernet), which is how a key is rotated.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import orjson
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class DecryptionError(Exception):
    """Stored ciphertext could not be decrypted with any configured key."""


@lru_cache(maxsize=4)
def _fernet(keys: str) -> MultiFernet:
    try:
        return MultiFernet([Fernet(k.strip().encode()) for k in keys.split(",") if k.strip()])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            "SYNCLINE_ENCRYPTION_KEY must be one or more comma-separated Fernet keys "
            "(generate one with: python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())')"
        ) from exc


def fernet() -> MultiFernet:
    return _fernet(settings.SYNCLINE_ENCRYPTION_KEY)


def encrypt_json(value: dict[str, Any]) -> str:
    return fernet().encrypt(orjson.dumps(value)).decode()


def decrypt_json(token: str) -> dict[str, Any]:
    try:
        return orjson.loads(fernet().decrypt(token.encode()))
    except InvalidToken as exc:
        raise DecryptionError(
            "Stored secrets could not be decrypted: SYNCLINE_ENCRYPTION_KEY does not hold the key "
            "they were encrypted with."
        ) from exc
