"""A sync create/update body, checked field by field into clean values.

Both spellings of every field are accepted (``sourceQuery`` / ``source_query``); error details
name fields as the contract's request bodies do (camelCase, ``fieldMappings[2].source``,
``schedule.timezone``), so a client can point at the exact value it sent. This module checks the
shape of the body; ``apps.syncs.checks`` checks it against the warehouse and the destination.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from croniter import croniter
from django.utils import timezone

from apps.accounts.models import Workspace
from apps.connections.models import Connection
from apps.syncs import checks
from apps.syncs.checks import Errors
from apps.syncs.models import IncrementalStrategy, ScheduleType, Sync
from apps.syncs.scheduler import next_fire_time

# canonical name -> the name used in error details (the contract's camelCase request field).
LABELS: dict[str, str] = {
    "name": "name",
    "source_query": "sourceQuery",
    "source_id": "sourceId",
    "destination_id": "destinationId",
    "object_name": "objectName",
    "field_mappings": "fieldMappings",
    "sync_mode": "syncMode",
    "schedule": "schedule",
    "incremental": "incremental",
    "enabled": "enabled",
}
ALIASES: dict[str, str] = {**{v: k for k, v in LABELS.items()}, **{k: k for k in LABELS}}
REQUIRED = ("name", "source_query", "destination_id", "object_name", "field_mappings", "sync_mode")
MAPPING_KEYS = frozenset({"source", "destination", "key"})
MAX_NAME = 200
MAX_QUERY = 100_000
MAX_MAPPINGS = 500


class SyncValidationError(ValueError):
    """The body is not a valid sync; ``details`` maps each bad field to its messages."""

    def __init__(self, details: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in details.items()))
        self.details = details


@dataclass(frozen=True)
class SyncValues:
    """Everything a Sync row stores from its definition, validated."""

    name: str
    source: Connection | None  # None = the workspace's default warehouse at run time
    source_query: str
    destination: Connection
    object_name: str
    field_mappings: list[dict[str, Any]]
    sync_mode: str
    schedule_type: str
    schedule_expression: str
    schedule_timezone: str
    incremental_strategy: str
    incremental_column: str
    enabled: bool

    def as_model_fields(self) -> dict[str, Any]:
        # Not dataclasses.asdict: it would deep-copy the Connection instances.
        return {f.name: getattr(self, f.name) for f in fields(self)}


def current_input(sync: Sync) -> dict[str, Any]:
    """A stored sync as a canonical body, so an update is validated as the merged whole."""
    return {
        "name": sync.name,
        "source_query": sync.source_query,
        "source_id": sync.source_id,
        "destination_id": sync.destination_id,
        "object_name": sync.object_name,
        "field_mappings": sync.field_mappings,
        "sync_mode": sync.sync_mode,
        "schedule": sync.schedule,
        "incremental": sync.incremental,
        "enabled": sync.enabled,
    }


def sync_validate(
    *, workspace: Workspace, data: Mapping[str, Any], current: Sync | None = None
) -> SyncValues:
    """Clean values for a sync of ``workspace``; raises ``SyncValidationError`` with every problem."""
    errors = Errors()
    body = canonical_body(data, errors)
    merged = {**(current_input(current) if current is not None else {}), **body}
    for name in REQUIRED:
        if merged.get(name) is None:
            errors.add(LABELS[name], "This field is required.")

    name = _text(merged.get("name"), "name", MAX_NAME, errors)
    query = _text(merged.get("source_query"), "sourceQuery", MAX_QUERY, errors)
    source_id = _optional_id(merged.get("source_id"), "sourceId", errors)
    destination_id = _text(merged.get("destination_id"), "destinationId", 64, errors)
    object_name = _text(merged.get("object_name"), "objectName", 200, errors)
    mode = _text(merged.get("sync_mode"), "syncMode", 32, errors)
    mappings = _mappings(merged.get("field_mappings"), errors)
    schedule = _schedule(merged.get("schedule"), errors)
    strategy, column = _incremental(merged.get("incremental"), errors)
    enabled = merged.get("enabled", True)
    if not isinstance(enabled, bool):
        errors.add("enabled", "enabled must be true or false.")

    # Against the warehouse and the destination catalog. Each step runs only on the values the
    # previous ones accepted, so one mistake gives one message, not a cascade.
    stored_source, effective_source, sql = (None, None, None)
    if query is not None and not errors.has("sourceId"):
        stored_source, effective_source, sql = checks.resolve_source(
            workspace=workspace, source_id=source_id, source_query=query, errors=errors
        )
    destination = obj = None
    catalog: dict = {}
    if destination_id is not None and object_name is not None:
        destination, obj, catalog = checks.destination_catalog(
            workspace=workspace, destination_id=destination_id, object_name=object_name, errors=errors
        )
    dialect = checks.dialect_of(effective_source)
    if obj is not None and mode is not None:
        checks.check_mode(obj=obj, mode=mode, errors=errors)
        if mappings is not None and not errors.has("syncMode"):
            checks.check_mappings(obj=obj, catalog=catalog, mappings=mappings, mode=mode, errors=errors)
    if mappings is not None and dialect is not None:
        checks.check_expressions(mappings=mappings, dialect=dialect, errors=errors)
    if strategy == IncrementalStrategy.WATERMARK and mode == "mirror":
        errors.add(
            "incremental",
            "The watermark strategy cannot be used with mirror mode: rows that left the query "
            "cannot be detected from a watermark. Use the diff strategy.",
        )
    if effective_source is not None and sql is not None and not errors.has("sourceQuery"):
        checks.check_on_warehouse(
            source=effective_source,
            sql=sql,
            mappings=mappings if not errors.has_prefix("fieldMappings") else None,
            watermark_column=column if strategy == IncrementalStrategy.WATERMARK else "",
            errors=errors,
        )
    if errors:
        raise SyncValidationError(errors.details)
    # Narrowing only: every value left None above has added an error.
    assert name and query and destination and object_name and mode and mappings is not None and schedule
    return SyncValues(
        name=name,
        source=stored_source,
        source_query=query,
        destination=destination,
        object_name=object_name,
        field_mappings=mappings,
        sync_mode=mode,
        schedule_type=schedule[0],
        schedule_expression=schedule[1],
        schedule_timezone=schedule[2],
        incremental_strategy=strategy or IncrementalStrategy.DIFF,
        incremental_column=column,
        enabled=enabled,
    )


def canonical_body(data: Mapping[str, Any], errors: Errors) -> dict[str, Any]:
    """Top-level keys in their snake_case name; unknown or twice-given fields are errors."""
    body: dict[str, Any] = {}
    seen: dict[str, str] = {}
    unknown = [str(k) for k in data if k not in ALIASES]
    for key in unknown:
        errors.add(key, f"Unknown field {key!r}. Accepted fields: {', '.join(LABELS.values())}.")
    for key, value in data.items():
        canonical = ALIASES.get(key)
        if canonical is None:
            continue
        if canonical in seen:
            errors.add(LABELS[canonical], f"Given twice, as {seen[canonical]!r} and {key!r}; send one.")
        seen[canonical] = key
        body[canonical] = value
    return body


def _text(value: Any, label: str, max_length: int, errors: Errors) -> str | None:
    if value is None:
        return None  # "required" was reported already
    if not isinstance(value, str) or not value.strip():
        errors.add(label, f"{label} must be a non-empty string.")
        return None
    value = value.strip()
    if len(value) > max_length:
        errors.add(label, f"{label} must be at most {max_length} characters (got {len(value)}).")
        return None
    return value


def _optional_id(value: Any, label: str, errors: Errors) -> str | None:
    if value is None:
        return None
    return _text(value, label, 64, errors)


def _mappings(value: Any, errors: Errors) -> list[dict[str, Any]] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        errors.add("fieldMappings", "fieldMappings must be a non-empty list of {source, destination, key}.")
        return None
    if len(value) > MAX_MAPPINGS:
        errors.add("fieldMappings", f"At most {MAX_MAPPINGS} mappings per sync (got {len(value)}).")
        return None
    clean: list[dict[str, Any]] = []
    ok = True
    for index, item in enumerate(value):
        label = f"fieldMappings[{index}]"
        if not isinstance(item, dict):
            errors.add(label, "Each mapping must be an object {source, destination, key}.")
            ok = False
            continue
        if extra := sorted(str(k) for k in item if k not in MAPPING_KEYS):
            errors.add(
                label, f"Unknown mapping field(s) {', '.join(extra)}; expected source, destination, key."
            )
            ok = False
        source, destination, key = item.get("source"), item.get("destination"), item.get("key", False)
        if not isinstance(source, str) or not source.strip():
            errors.add(f"{label}.source", "source must be a column, SQL expression or literal (a string).")
            ok = False
        if not isinstance(destination, str) or not destination.strip():
            errors.add(f"{label}.destination", "destination must be a field API name (a string).")
            ok = False
        if key is None:
            key = False
        if not isinstance(key, bool):
            errors.add(f"{label}.key", "key must be true or false.")
            ok = False
        if ok:
            clean.append({"source": source.strip(), "destination": destination.strip(), "key": key})
    return clean if ok else None


def _schedule(value: Any, errors: Errors) -> tuple[str, str, str] | None:
    """(type, expression, timezone); a missing schedule is manual."""
    if value is None:
        return ScheduleType.MANUAL, "", "UTC"
    if not isinstance(value, dict):
        errors.add(
            "schedule", 'schedule must be {"type": "manual"} or {"type": "cron", "expression", "timezone"}.'
        )
        return None
    if extra := sorted(str(k) for k in value if k not in ("type", "expression", "timezone")):
        errors.add(
            "schedule", f"Unknown schedule field(s) {', '.join(extra)}; expected type, expression, timezone."
        )
        return None
    kind = value.get("type")
    if kind == ScheduleType.MANUAL:
        return ScheduleType.MANUAL, "", "UTC"
    if kind != ScheduleType.CRON:
        errors.add("schedule.type", f"schedule.type must be 'manual' or 'cron' (got {kind!r}).")
        return None
    expression, tz_name = value.get("expression"), value.get("timezone") or "UTC"
    ok = True
    if not isinstance(expression, str) or len(expression.split()) != 5 or not croniter.is_valid(expression):
        errors.add(
            "schedule.expression",
            f"{expression!r} is not a valid 5-field cron expression (minute hour day month weekday), "
            "e.g. '15 */4 * * *'.",
        )
        ok = False
    if not isinstance(tz_name, str) or not _is_timezone(tz_name):
        errors.add(
            "schedule.timezone", f"{tz_name!r} is not an IANA time zone name, e.g. 'UTC', 'Europe/Paris'."
        )
        ok = False
    if not ok:
        return None
    expression = " ".join(expression.split())
    try:
        next_fire_time(expression, tz_name, timezone.now())
    except Exception:  # croniter's own errors for dates that never come, e.g. '0 0 31 2 *'
        errors.add("schedule.expression", f"{expression!r} never fires (no such date).")
        return None
    return ScheduleType.CRON, expression, tz_name


@functools.cache
def _timezones() -> frozenset[str]:
    return frozenset(available_timezones())


def _is_timezone(name: str) -> bool:
    if name not in _timezones() and name != "UTC":
        return False
    try:
        ZoneInfo(name).utcoffset(dt.datetime(2000, 1, 1))
    except (KeyError, ValueError, OSError):
        return False
    return True


def _incremental(value: Any, errors: Errors) -> tuple[str | None, str]:
    """(strategy, watermark column); a missing incremental is diff."""
    if value is None:
        return IncrementalStrategy.DIFF, ""
    if not isinstance(value, dict):
        errors.add(
            "incremental", 'incremental must be {"strategy": "diff" | "none" | "watermark", "column"?}.'
        )
        return None, ""
    if extra := sorted(str(k) for k in value if k not in ("strategy", "column")):
        errors.add(
            "incremental", f"Unknown incremental field(s) {', '.join(extra)}; expected strategy, column."
        )
        return None, ""
    strategy = value.get("strategy")
    if strategy not in IncrementalStrategy.values:
        errors.add(
            "incremental.strategy",
            f"incremental.strategy must be one of {', '.join(IncrementalStrategy.values)} "
            f"(got {strategy!r}).",
        )
        return None, ""
    if strategy != IncrementalStrategy.WATERMARK:
        return strategy, ""
    column = value.get("column")
    if not isinstance(column, str) or not column.strip() or len(column) > 200:
        errors.add("incremental.column", "The watermark strategy needs column: a column the query returns.")
        return None, ""
    return strategy, column.strip()
