"""PostgreSQL rows to Arrow: one Arrow type per column, chosen from the result's type OIDs.

| PostgreSQL                        | Arrow                                             |
| --------------------------------- | ------------------------------------------------- |
| int2 / int4 / int8                | int16 / int32 / int64                             |
| float4 / float8                   | float32 / float64                                 |
| numeric(p,s), p <= 38             | decimal128(p, s)                                  |
| numeric without precision, p > 38 | string, exact (``format(Decimal, "f")``): no      |
|                                   | fixed-size decimal can hold every value of it     |
| bool                              | bool                                              |
| date                              | date32                                            |
| timestamp                         | timestamp[us]                                     |
| timestamptz                       | timestamp[us, tz=UTC]                             |
| anything else (text, varchar,     | string: PostgreSQL's own text form of the value   |
| json, jsonb, uuid, interval,      | (psycopg is told to load these types as text, so  |
| arrays, enums, bytea…)            | json stays JSON text, not Python objects)         |
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import psycopg
import pyarrow as pa
from psycopg.postgres import types as pg_types
from psycopg.types.string import TextLoader

_NUMERIC_OID = pg_types["numeric"].oid
_MAX_DECIMAL128_PRECISION = 38
_NATIVE: dict[int, pa.DataType] = {
    pg_types[name].oid: arrow_type
    for name, arrow_type in {
        "bool": pa.bool_(),
        "int2": pa.int16(),
        "int4": pa.int32(),
        "int8": pa.int64(),
        "float4": pa.float32(),
        "float8": pa.float64(),
        "date": pa.date32(),
        "timestamp": pa.timestamp("us"),
        "timestamptz": pa.timestamp("us", tz="UTC"),
    }.items()
}
# Every type psycopg would turn into a Python object we do not map natively (dict for json, UUID,
# timedelta, list for arrays…): loaded as the server's text instead. Types psycopg does not know
# (enums, extensions) already arrive as text.
_TEXT_LOADED_OIDS: frozenset[int] = frozenset(
    {t.oid for t in pg_types if t.oid not in _NATIVE and t.oid != _NUMERIC_OID}
    | {t.array_oid for t in pg_types if t.array_oid}
)


@dataclass(frozen=True)
class RowLayout:
    """The Arrow schema of a result, and how to convert each column's Python values for it."""

    schema: pa.Schema
    converters: tuple[Callable[[Any], Any] | None, ...]


def register_text_loaders(conn: psycopg.Connection[Any]) -> None:
    for oid in _TEXT_LOADED_OIDS:
        conn.adapters.register_loader(oid, TextLoader)


def row_layout(description: Sequence[psycopg.Column]) -> RowLayout:
    fields: list[pa.Field] = []
    converters: list[Callable[[Any], Any] | None] = []
    for column in description:
        arrow_type, converter = _arrow_type(column)
        fields.append(pa.field(column.name, arrow_type))
        converters.append(converter)
    return RowLayout(pa.schema(fields), tuple(converters))


def to_record_batch(rows: Sequence[tuple[Any, ...]], layout: RowLayout) -> pa.RecordBatch:
    arrays = []
    for values, field, convert in zip(zip(*rows, strict=True), layout.schema, layout.converters, strict=True):
        column = [None if v is None else convert(v) for v in values] if convert else list(values)
        arrays.append(pa.array(column, type=field.type, from_pandas=False))
    return pa.RecordBatch.from_arrays(arrays, schema=layout.schema)


def _arrow_type(column: psycopg.Column) -> tuple[pa.DataType, Callable[[Any], Any] | None]:
    if column.type_code == _NUMERIC_OID:
        precision, scale = column.precision, column.scale
        if precision is not None and precision <= _MAX_DECIMAL128_PRECISION:
            return pa.decimal128(precision, scale or 0), None
        return pa.string(), _decimal_text
    return _NATIVE.get(column.type_code, pa.string()), None


def _decimal_text(value: Decimal) -> str:
    # Plain notation, as PostgreSQL prints it: str() would give "1E-8" for 0.00000001.
    return format(value, "f")
