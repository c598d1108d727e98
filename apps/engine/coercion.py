"""Coercion and validation of mapped values, as DuckDB SQL run on whole batches at once.

Each destination field type gets a value expression (what is sent) and a list of checks (why a
row cannot be sent). Everything runs vectorised inside the engine's DuckDB workbench: no Python
loop touches a row. The first failing check of a row becomes its DLQ reason,
``<error code>|<field>|<message>``.
"""

from __future__ import annotations

from dataclasses import dataclass

from apps.connectors.base import CREATING_MODES, ErrorCode
from apps.core.patterns import EMAIL_PATTERN, PHONE_PATTERN
from apps.engine.spec import MappedField

REASON_SEPARATOR = "|"


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True)
class Check:
    condition: str  # SQL that is TRUE when the value is NOT acceptable
    code: str
    message: str  # SQL string expression


@dataclass(frozen=True)
class CoercedField:
    value: str  # SQL of the coerced, typed value: what is validated and hashed
    checks: tuple[Check, ...]
    json_value: str = ""  # SQL of the value as it goes into the payload (formatted); default: value

    @property
    def output(self) -> str:
        return self.json_value or self.value


def _text(raw: str) -> str:
    return f"trim(CAST({raw} AS VARCHAR))"


def _shown(raw: str) -> str:
    """The raw value as text for an error message, shortened."""
    return f"left(CAST({raw} AS VARCHAR), 200)"


def coerce_field(field: MappedField, raw_type: str, mode: str) -> CoercedField:
    """Value expression and checks for one mapped field, given its column's DuckDB type."""
    raw = quote_ident(field.column)
    spec = field.spec
    name = quote_literal(spec.name)
    invalid = ErrorCode.INVALID_FIELD_VALUE
    checks: list[Check] = []
    json_value = ""

    def bad(condition: str, message_sql: str) -> None:
        checks.append(Check(condition, invalid, message_sql))

    kind = spec.type
    if field.passthrough:
        return CoercedField(value=raw, checks=(), json_value=_passthrough(raw, raw_type))
    if kind in ("string", "email", "phone", "enum"):
        value = _text(raw)
        if kind == "email":
            bad(
                f"{value} IS NOT NULL AND NOT regexp_full_match({value}, {quote_literal(EMAIL_PATTERN)})",
                f"'Email address ''' || {_shown(raw)} || ''' is invalid'",
            )
        if kind == "phone":
            bad(
                f"{value} IS NOT NULL AND NOT regexp_full_match({value}, {quote_literal(PHONE_PATTERN)})",
                f"'Phone number ''' || {_shown(raw)} || ''' is invalid'",
            )
        if kind == "enum" and spec.enum_values is not None:
            options = ", ".join(quote_literal(v) for v in spec.enum_values)
            bad(
                f"{value} IS NOT NULL AND {value} NOT IN ({options})",
                f"'''' || {_shown(raw)} || ''' is not one of the allowed values of ' || {name}",
            )
        if spec.max_length is not None:
            bad(
                f"length({value}) > {int(spec.max_length)}",
                f"{name} || ' is ' || length({value}) || ' characters long; "
                f"the maximum is {int(spec.max_length)}'",
            )
    elif kind == "integer":
        value = f"TRY_CAST({raw} AS BIGINT)"
        # DuckDB rounds 1.5 to 2 when casting; comparing with the DOUBLE value catches fractions.
        bad(
            f"{raw} IS NOT NULL AND ({value} IS NULL OR TRY_CAST({raw} AS DOUBLE) <> {value})",
            f"'''' || {_shown(raw)} || ''' is not an integer (' || {name} || ')'",
        )
    elif kind == "number":
        exact = raw_type.upper().startswith(
            ("DECIMAL", "NUMERIC", "BIGINT", "INTEGER", "SMALLINT", "HUGEINT")
        )
        value = raw if exact else f"TRY_CAST({raw} AS DOUBLE)"  # decimals keep every digit
        bad(
            f"{raw} IS NOT NULL AND {value} IS NULL",
            f"'''' || {_shown(raw)} || ''' is not a number (' || {name} || ')'",
        )
        bad(
            f"{value} IS NOT NULL AND (isnan(CAST({value} AS DOUBLE)) OR isinf(CAST({value} AS DOUBLE)))",
            f"{name} || ' is not a finite number'",
        )
    elif kind == "boolean":
        value = f"TRY_CAST({raw} AS BOOLEAN)"
        bad(
            f"{raw} IS NOT NULL AND {value} IS NULL",
            f"'''' || {_shown(raw)} || ''' is not a boolean (' || {name} || ')'",
        )
    elif kind == "date":
        value = f"TRY_CAST({raw} AS DATE)"
        json_value = f"strftime({value}, '%Y-%m-%d')"
        bad(
            f"{raw} IS NOT NULL AND {value} IS NULL",
            f"'''' || {_shown(raw)} || ''' is not a date (' || {name} || ')'",
        )
    elif kind == "datetime":
        # The workbench runs with TimeZone=UTC: naive timestamps are taken as UTC, zoned ones are
        # converted, and every datetime leaves as ISO 8601 with a Z.
        value = f"TRY_CAST({raw} AS TIMESTAMPTZ)"
        json_value = iso_utc(value)
        bad(
            f"{raw} IS NOT NULL AND {value} IS NULL",
            f"'''' || {_shown(raw)} || ''' is not a date-time (' || {name} || ')'",
        )
    elif kind == "json":
        is_text = raw_type.upper() in ("VARCHAR", "TEXT", "STRING", "JSON")
        value = f"TRY_CAST({raw} AS JSON)" if is_text else f"to_json({raw})"
        bad(
            f"{raw} IS NOT NULL AND {value} IS NULL",
            f"'''' || {_shown(raw)} || ''' is not valid JSON (' || {name} || ')'",
        )
    else:  # pragma: no cover - FieldSpec.type is a closed set
        raise ValueError(f"unknown field type {kind!r}")

    if spec.required and mode in CREATING_MODES:
        checks.insert(
            0,
            Check(
                f"{value} IS NULL OR CAST({value} AS VARCHAR) = ''",
                ErrorCode.MISSING_REQUIRED_FIELD,
                f"'Missing required field ' || {name}",
            ),
        )
    return CoercedField(value=value, checks=tuple(checks), json_value=json_value)


def iso_utc(timestamp: str) -> str:
    """A timestamp (zoned or not) as ISO 8601 in UTC with milliseconds and a Z.

    The workbench runs with TimeZone=UTC, so casting to a plain TIMESTAMP gives the UTC wall
    clock of a zoned value and keeps a naive one as it is (naive values are taken as UTC).
    Formatting the plain TIMESTAMP is what makes this cheap: ``strftime`` of a TIMESTAMPTZ goes
    through ICU's calendar for every value, about twice the cost (a full run of a million rows
    spends a third of its payload rendering on this one column otherwise).
    """
    return f"strftime(CAST({timestamp} AS TIMESTAMP), '%Y-%m-%dT%H:%M:%S.%gZ')"


def _passthrough(raw: str, raw_type: str) -> str:
    """Free-form fields keep the warehouse's value; only dates and times get a fixed format."""
    upper = raw_type.upper()
    if upper.startswith("TIMESTAMP"):
        return iso_utc(raw)
    if upper == "DATE":
        return f"strftime({raw}, '%Y-%m-%d')"
    return raw


def reason_sql(fields: list[tuple[MappedField, CoercedField]]) -> str:
    """One CASE giving the first failing check of a row as ``code|field|message``, else NULL."""
    whens = [
        f"WHEN {check.condition} THEN "
        f"{quote_literal(REASON_SEPARATOR.join((check.code, mapped.spec.name, '')))} || {check.message}"
        for mapped, coerced in fields
        for check in coerced.checks
    ]
    if not whens:
        return "CAST(NULL AS VARCHAR)"
    return "CASE " + " ".join(whens) + " END"


def split_reason(reason: str) -> tuple[str, str, str]:
    code, field, message = reason.split(REASON_SEPARATOR, 2)
    return code, field, message
