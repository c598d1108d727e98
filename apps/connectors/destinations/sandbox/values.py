"""Per-field value checks the sandbox applies, with messages like a real CRM's."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from apps.connectors.base import FieldSpec
from apps.core.patterns import EMAIL_PATTERN, PHONE_PATTERN

EMAIL_RE = re.compile(EMAIL_PATTERN)
PHONE_RE = re.compile(PHONE_PATTERN)


def check_value(spec: FieldSpec, value: Any) -> str | None:
    """Return why ``value`` is not acceptable for ``spec``, or None when it is. None values pass."""
    if value is None:
        return None
    kind = spec.type
    if kind in ("string", "email", "phone", "enum") and not isinstance(value, str):
        return f"Property '{spec.name}' expects a string, got {type(value).__name__}"
    if kind == "email" and not EMAIL_RE.match(value):
        return f"Email address {value!r} is invalid"
    if kind == "phone" and not PHONE_RE.match(value):
        return f"Phone number {value!r} is invalid"
    if kind == "enum" and spec.enum_values is not None and value not in spec.enum_values:
        return (
            f"{value!r} was not one of the allowed options for '{spec.name}': {', '.join(spec.enum_values)}"
        )
    if spec.max_length is not None and isinstance(value, str) and len(value) > spec.max_length:
        return f"Property '{spec.name}' is {len(value)} characters long; the maximum is {spec.max_length}"
    integer_ok = isinstance(value, int) or _is_integer_text(value)
    if kind == "integer" and (isinstance(value, bool) or not integer_ok):
        return f"{value!r} is not a valid integer for '{spec.name}'"
    number_ok = isinstance(value, int | float) or _is_number_text(value)
    if kind == "number" and (isinstance(value, bool) or not number_ok):
        return f"{value!r} is not a valid number for '{spec.name}'"
    if kind == "boolean" and not (isinstance(value, bool) or value in ("true", "false")):
        return f"{value!r} is not a valid boolean for '{spec.name}' (use true or false)"
    if kind == "date" and not _parses(value, dt.date.fromisoformat):
        return f"{value!r} is not a valid date for '{spec.name}' (expected YYYY-MM-DD)"
    if kind == "datetime" and not _parses(value, _parse_datetime):
        return f"{value!r} is not a valid ISO 8601 datetime for '{spec.name}'"
    if kind == "json" and not isinstance(value, dict | list):
        return f"Property '{spec.name}' expects a JSON object or array"
    return None


def _is_integer_text(value: Any) -> bool:
    return isinstance(value, str) and re.fullmatch(r"-?\d+", value) is not None


def _is_number_text(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        Decimal(value)
    except InvalidOperation:
        return False
    return True


def _parse_datetime(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def _parses(value: Any, parser: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parser(value)
    except ValueError:
        return False
    return True
