"""Limits every source query obeys: one read-only SELECT, and a bounded run time.

``ensure_read_only`` parses the SQL with sqlglot in the source's own dialect *before* anything
reaches the warehouse, and refuses anything but exactly one SELECT (set operations and
``WITH … SELECT`` included). It fails closed: SQL sqlglot cannot parse, or parses only as an
opaque command, is refused. The sources add a second barrier where the engine offers one
(read-only connection or transaction), because a parser of another vendor's grammar can be
fooled; this check is what gives the user a clear message early.
"""

from __future__ import annotations

import re

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, SqlglotError
from sqlglot.tokens import TokenType

# Statements (or statement-like clauses) that may not appear anywhere in a sync query, with the
# name the user knows them by. A CTE may hold a DELETE … RETURNING in PostgreSQL, so the whole
# tree is walked, not only its root. sqlglot also falls back to an opaque ``Command`` for syntax it
# does not model (VACUUM, CALL, LOAD…): what that does cannot be known, so it is refused too.
_FORBIDDEN_NODES: tuple[tuple[type[exp.Expr], str], ...] = (
    (exp.Insert, "INSERT"),
    (exp.Update, "UPDATE"),
    (exp.Delete, "DELETE"),
    (exp.Merge, "MERGE"),
    (exp.Create, "CREATE"),
    (exp.Drop, "DROP"),
    (exp.Alter, "ALTER"),
    (exp.TruncateTable, "TRUNCATE"),
    (exp.Copy, "COPY"),
    (exp.Attach, "ATTACH"),
    (exp.Detach, "DETACH"),
    (exp.Install, "INSTALL"),
    (exp.Pragma, "PRAGMA"),
    (exp.Set, "SET"),
    (exp.Grant, "GRANT"),
    (exp.Revoke, "REVOKE"),
    (exp.Transaction, "BEGIN"),
    (exp.Commit, "COMMIT"),
    (exp.Rollback, "ROLLBACK"),
    (exp.Use, "USE"),
    (exp.Into, "SELECT … INTO (it creates a table)"),
    (exp.Lock, "SELECT … FOR UPDATE/SHARE (it locks rows)"),
)

# Functions that write files, change server or session state, reach other databases, or act on
# other sessions, callable from inside a SELECT. Lower-case names; any dialect.
_FORBIDDEN_FUNCTIONS: frozenset[str] = frozenset(
    {
        # PostgreSQL: large objects read/write server files; dblink runs SQL outside our read-only
        # transaction; the rest administer the server or other sessions.
        "lo_import",
        "lo_export",
        "lo_unlink",
        "lo_create",
        "lo_creat",
        "lo_put",
        "lo_from_bytea",
        "lo_truncate",
        "pg_file_write",
        "pg_file_rename",
        "pg_file_unlink",
        "pg_file_sync",
        "dblink",
        "dblink_exec",
        "dblink_connect",
        "dblink_connect_u",
        "dblink_send_query",
        "dblink_open",
        "pg_terminate_backend",
        "pg_cancel_backend",
        "pg_reload_conf",
        "pg_rotate_logfile",
        "pg_switch_wal",
        "pg_promote",
        "pg_create_restore_point",
        "pg_notify",
        "set_config",
        "pg_advisory_lock",
        "pg_advisory_xact_lock",
        "pg_advisory_lock_shared",
        "pg_advisory_xact_lock_shared",
        "pg_logical_emit_message",
        "pg_stat_reset",
        # SQLite: extension loading, the shell's file writer where it is compiled in, and the
        # tokenizer hook known for memory-corruption exploits.
        "load_extension",
        "writefile",
        "fts3_tokenizer",
        # DuckDB: functions that persist or reconfigure the database.
        "checkpoint",
        "force_checkpoint",
    }
)
# Snowflake's SYSTEM$ functions cancel queries, abort sessions, change settings…: none belongs in a
# sync query, so the whole family is refused rather than a list that would go stale.
_FORBIDDEN_FUNCTION_PREFIXES: tuple[str, ...] = ("system$",)


_ONLY_SELECT = "a sync query must be one read-only SELECT (or WITH … SELECT)."
# First words that open a query: a parse failure after one of them is a plain syntax error, while
# after any other word it is a statement we would refuse anyway, so we name it instead.
_QUERY_OPENERS = frozenset({"SELECT", "WITH", "FROM", "(", "VALUES", "TABLE"})
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


class UnsafeQueryError(ValueError):
    """The SQL is not exactly one read-only SELECT; nothing was sent to the warehouse."""


class QueryTimeoutError(TimeoutError):
    """The warehouse took longer than the source's ``timeout_seconds`` and the query was stopped."""

    def __init__(self, timeout_seconds: float, source_label: str) -> None:
        super().__init__(
            f"{source_label} query stopped: it ran longer than the timeout of {timeout_seconds:g} s "
            "(timeout_seconds in the connection settings)."
        )
        self.timeout_seconds = timeout_seconds


def ensure_read_only(sql: str, dialect: str) -> None:
    """Raise ``UnsafeQueryError`` unless ``sql`` is exactly one read-only SELECT in ``dialect``."""
    try:
        parsed = sqlglot.parse(sql, read=dialect)
    except SqlglotError as exc:
        keyword = _leading_keyword(sql, dialect)
        if keyword and keyword not in _QUERY_OPENERS:
            raise UnsafeQueryError(f"{keyword} statements are not allowed: {_ONLY_SELECT}") from None
        raise UnsafeQueryError(
            f"The query could not be parsed as {dialect} SQL, so it was refused: {_parser_message(exc)}"
        ) from None
    # A trailing ";" (or a comment after it) parses as an empty statement, not as a second one.
    statements = [s for s in parsed if s is not None and not isinstance(s, exp.Semicolon)]
    if not statements:
        raise UnsafeQueryError("The query is empty: write one SELECT statement.")
    if len(statements) > 1:
        raise UnsafeQueryError(
            f"The query holds {len(statements)} statements; only a single SELECT is allowed."
        )
    root = statements[0]
    if not isinstance(root, exp.Select | exp.SetOperation | exp.Subquery):
        name = _forbidden_name(root) or _leading_keyword(sql, dialect) or root.key.upper()
        raise UnsafeQueryError(f"{name} statements are not allowed: {_ONLY_SELECT}")
    for node in root.walk():
        if name := _forbidden_name(node):
            raise UnsafeQueryError(f"{name} is not allowed inside a sync query: it must only read.")


def statement_body(sql: str, dialect: str) -> str:
    """``sql`` without its trailing ";" and comments, so a source can wrap it in a subquery.

    Call it on SQL that ``ensure_read_only`` accepted (a single statement).
    """
    tokens = [t for t in sqlglot.tokenize(sql, read=dialect) if t.token_type != TokenType.SEMICOLON]
    return sql[: tokens[-1].end + 1] if tokens else ""


def _forbidden_name(node: exp.Expr) -> str | None:
    """What the user would call ``node`` if it may not run in a sync query, else None."""
    if isinstance(node, exp.Command):
        return node.name.upper()
    for cls, name in _FORBIDDEN_NODES:
        if isinstance(node, cls):
            return name
    if isinstance(node, exp.Func):
        func = (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).lower()
        if func in _FORBIDDEN_FUNCTIONS or func.startswith(_FORBIDDEN_FUNCTION_PREFIXES):
            return f"The function {func}()"
    return None


def _parser_message(exc: SqlglotError) -> str:
    """sqlglot's own description and position, without the terminal colours of its highlight."""
    errors = exc.errors if isinstance(exc, ParseError) else []
    if errors:
        first = errors[0]
        return f"{first.get('description')} (line {first.get('line')}, column {first.get('col')})."
    return _ANSI_ESCAPE.sub("", str(exc))


def _leading_keyword(sql: str, dialect: str) -> str | None:
    """The statement's first word as the user wrote it (``COPY``, ``VACUUM``…), for messages."""
    try:
        tokens = sqlglot.tokenize(sql, read=dialect)
    except SqlglotError:
        return None
    return tokens[0].text.upper() if tokens else None
