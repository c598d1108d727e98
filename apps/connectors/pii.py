"""Primitives for matching people on ad platforms: normalise an identifier, then SHA-256 it.

Ads platforms (Google Ads Customer Match, Meta Custom Audiences) match users on hashed
identifiers and each documents its own normalisation rules; those rules live in each connector.
What they share is here: the hash itself (lower-case hex SHA-256 of the UTF-8 text), recognising
a value the warehouse already hashed (so it is passed through, not hashed twice), and the basic
clean-ups both platforms ask for.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def sha256_hex(value: str) -> str:
    """Lower-case hex SHA-256 of ``value`` encoded as UTF-8."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def is_sha256_hex(value: str) -> bool:
    """True for a value that is already a SHA-256 digest (64 hex digits, any case)."""
    return bool(_SHA256_HEX.match(value.strip().lower()))


def already_hashed(value: str) -> str | None:
    """The digest (lower-cased) when the warehouse already hashed ``value``, else None: such a
    value is passed through, not normalised and hashed again."""
    return value.strip().lower() if is_sha256_hex(value) else None


def collapse_whitespace(value: str) -> str:
    return " ".join(value.split())


def basic_email(value: str) -> str | None:
    """Trimmed, lower-cased email, or None when it is not an email address at all."""
    email = value.strip().lower()
    return email if _EMAIL.match(email) else None


def digits(value: str) -> str:
    """Only the ASCII digits of ``value``."""
    return "".join(ch for ch in value if "0" <= ch <= "9")


def strip_accents(value: str) -> str:
    """``value`` without combining marks (é -> e), for platforms that match on plain letters."""
    decomposed = unicodedata.normalize("NFKD", value)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))
