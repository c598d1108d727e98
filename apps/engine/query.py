"""Compiles the extract query: the user's query wrapped with the mapped expressions.

``SELECT <expr> AS c0, <expr> AS c1, … [, <watermark> AS __wm] FROM (<query>) AS src
[WHERE <watermark> >= ?]`` — built with sqlglot in the warehouse's own dialect, so mapping
expressions run in the warehouse and the watermark is a bound parameter.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from apps.engine.spec import MappedField

WATERMARK_ALIAS = "__wm"
ROW_HASH_ALIAS = "__h"  # the row's hash, computed by the warehouse when it can (see compile_extract)


class MappingError(ValueError):
    """A mapping's source expression is not valid SQL for the warehouse."""

    def __init__(self, destination: str, message: str) -> None:
        super().__init__(f"Mapping to '{destination}': {message}")
        self.destination = destination


@dataclass(frozen=True)
class ExtractQuery:
    sql: str
    params: tuple
    hashed: bool = False  # each row carries the warehouse's hash of it as ``__h``


def parse_expression(source: str, dialect: str, destination: str) -> exp.Expression:
    if not source or not source.strip():
        raise MappingError(destination, "the source expression is empty")
    try:
        statements = sqlglot.parse(f"SELECT {source}", read=dialect)
    except ParseError as exc:
        raise MappingError(destination, f"cannot parse {source!r}: {exc.errors[0]['description']}") from None
    select = statements[0] if len(statements) == 1 else None
    extra_clauses = [k for k, v in (select.args.items() if select else ()) if v and k != "expressions"]
    if not isinstance(select, exp.Select) or len(select.expressions) != 1 or extra_clauses:
        # Anything beyond one value (a FROM, a WHERE, a second statement) is not an expression.
        raise MappingError(destination, f"{source!r} is not a single SQL expression")
    parsed = select.expressions[0]
    if isinstance(parsed, exp.Alias):
        raise MappingError(destination, f"{source!r} has an alias; the destination field names the value")
    if parsed.find(exp.Query) is not None:
        raise MappingError(destination, "a sub-query is not allowed in a mapping; put it in the sync's query")
    if parsed.find(exp.Star) is not None:
        raise MappingError(destination, "'*' is not a field value")
    return parsed


def compile_extract(
    *,
    source_sql: str,
    dialect: str,
    fields: list[MappedField],
    watermark_column: str = "",
    watermark_value: object | None = None,
    row_hash_sql: str | None = None,
) -> ExtractQuery:
    """The extract query; with ``row_hash_sql`` (the source's hash over the mapped columns) it
    also returns each row's hash as ``__h``, so the state holds hashes the warehouse can
    recompute and a later run can diff on hashes alone (``hashes_only``)."""
    inner = source_sql.strip().rstrip(";")
    subquery = sqlglot.parse_one(inner, read=dialect).subquery("src")
    projections = [
        exp.alias_(parse_expression(f.mapping.source, dialect, f.mapping.destination), f.column, quoted=True)
        for f in fields
    ]
    params: tuple = ()
    select = exp.select(*projections).from_(subquery)
    if watermark_column:
        # Unquoted unless it needs quotes, so warehouses that fold case (Snowflake) resolve it.
        column = exp.column(watermark_column, table="src")
        select = select.select(exp.alias_(column.copy(), WATERMARK_ALIAS, quoted=True))
        if watermark_value is not None:
            # >= and not >: rows sharing the boundary value are read again and the diff against
            # the accepted state drops the ones already written, so a late row at the boundary
            # is never lost.
            select = select.where(exp.GTE(this=column, expression=exp.Placeholder()))
            params = (watermark_value,)
    sql = select.sql(dialect=dialect)
    if row_hash_sql is not None:
        sql = f'SELECT m.*, {row_hash_sql} AS "{ROW_HASH_ALIAS}" FROM ({sql}) AS m'
    return ExtractQuery(sql=sql, params=params, hashed=row_hash_sql is not None)


def hashes_only(extract: ExtractQuery) -> ExtractQuery:
    """Only the hash of every row of a hashed extract: what a diff needs first."""
    sql = f'SELECT "{ROW_HASH_ALIAS}" FROM ({extract.sql}) AS h'
    return ExtractQuery(sql=sql, params=extract.params, hashed=True)
