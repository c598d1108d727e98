"""Keyset pagination on the time-ordered id: stable under concurrent inserts (a new item has a
larger id, so it can only appear on the first page), no item twice, none missing, and O(page) at
any depth (an index range scan from the cursor)."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from rest_framework.request import Request

from apps.api.errors import invalid_request

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def parse_limit(raw: str | None) -> int:
    if raw in (None, ""):
        return DEFAULT_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        raise invalid_request(
            "limit must be an integer.", {"limit": [f"{raw!r} is not an integer."]}
        ) from None
    if not 1 <= limit <= MAX_LIMIT:
        raise invalid_request(f"limit must be between 1 and {MAX_LIMIT}.", {"limit": [f"Got {limit}."]})
    return limit


def encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


_CURSOR_CHARS = re.compile(r"^[A-Za-z0-9_-]+$")
_PREFIXED_ID = re.compile(r"^[a-z][a-z_]*_[0-9a-z]{26}$")


def decode_cursor(cursor: str) -> str:
    try:
        if not _CURSOR_CHARS.match(cursor):
            raise ValueError(cursor)
        last_id = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not _PREFIXED_ID.match(last_id):
            raise ValueError(last_id)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise invalid_request(
            "cursor is not valid; use meta.page.cursor of the previous page.",
            {"cursor": ["Malformed cursor."]},
        ) from None
    return last_id


def keyset_page(
    request: Request, queryset: QuerySet, serialize: Callable[[Any], dict], *, key: str = "pk"
) -> dict[str, Any]:
    """One page, newest first: ``{"data": [...], "meta": {"page": {"limit", "cursor"}}}``.

    ``key`` is the field pages are sorted and cut on: the primary key, or a joined copy of it
    when the rows are found through another table's index (PostgreSQL does not carry ``<``
    across a join, so the cut must name the indexed side).
    """
    limit = parse_limit(request.query_params.get("limit"))
    cursor = request.query_params.get("cursor")
    ordered = queryset.order_by(f"-{key}")
    if cursor:
        ordered = ordered.filter(**{f"{key}__lt": decode_cursor(cursor)})
    items = list(ordered[: limit + 1])
    next_cursor = encode_cursor(items[limit - 1].pk) if len(items) > limit else None
    return {
        "data": [serialize(i) for i in items[:limit]],
        "meta": {"page": {"limit": limit, "cursor": next_cursor}},
    }
