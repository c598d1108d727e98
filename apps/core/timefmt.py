"""Timestamps as the API writes them: ISO 8601, UTC, with a Z."""

from __future__ import annotations

import datetime as dt


def iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def parse_iso(value: str) -> dt.datetime:
    """Parse an ISO 8601 timestamp into UTC; a naive one is taken as UTC. Raises ValueError.

    Normalised to UTC here because databases refuse some offsets Python accepts (PostgreSQL
    stops at ±15:59), and a timestamp near year 1 or 9999 may not survive the conversion.
    """
    parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=dt.UTC)
    try:
        return parsed.astimezone(dt.UTC)
    except OverflowError as exc:
        raise ValueError(f"{value!r} is out of range") from exc
