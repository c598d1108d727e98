import pytest

from apps.connectors.sql_guard import UnsafeQueryError, ensure_read_only, statement_body

ACCEPTED = [
    ("duckdb", "SELECT 1"),
    ("duckdb", "SELECT 1;"),
    ("postgres", "SELECT 1;  -- trailing comment after the one statement"),
    ("duckdb", "-- leading comment\nSELECT /* inline */ id FROM t"),
    ("postgres", "SELECT a.id, b.name FROM a JOIN b ON a.id = b.a_id LEFT JOIN c USING (id)"),
    (
        "postgres",
        "WITH recent AS (SELECT * FROM orders WHERE at > now() - interval '1 day') SELECT * FROM recent",
    ),
    (
        "postgres",
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5) SELECT i FROM n",
    ),
    (
        "snowflake",
        "SELECT id, ROW_NUMBER() OVER (PARTITION BY org ORDER BY at DESC) AS rn FROM users QUALIFY rn = 1",
    ),
    ("duckdb", "SELECT id, sum(x) OVER (ORDER BY id ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM t"),
    ("postgres", "SELECT 1 UNION SELECT 2 EXCEPT SELECT 3"),
    ("postgres", "(SELECT 1) UNION ALL (SELECT 2)"),
    ("duckdb", "SELECT * FROM read_parquet('x.parquet')"),
    ("duckdb", "SELECT * FROM read_csv('data/*.csv', header = true)"),
    ("duckdb", "FROM 'x.parquet'"),
    ("duckdb", "SELECT * FROM t WHERE id >= ? AND name LIKE 'a%'"),
    ("postgres", "SELECT * FROM t WHERE id = %s AND name LIKE 'a%'"),
    ("sqlite", "SELECT * FROM t WHERE id = ?"),
    ("snowflake", "SELECT * FROM t WHERE id = ?"),
    ("postgres", "SELECT $$it's; DROP TABLE x$$ AS s"),  # dollar quoting keeps the ; in the string
    ("snowflake", "SELECT 'it\\'s; DROP TABLE x' AS s"),  # Snowflake escapes quotes with a backslash
]


@pytest.mark.parametrize(("dialect", "sql"), ACCEPTED)
def test_accepts_one_read_only_select(dialect, sql):
    ensure_read_only(sql, dialect)


REFUSED = [
    # (dialect, sql, words the message must contain)
    ("postgres", "INSERT INTO t VALUES (1)", "INSERT"),
    ("duckdb", "INSERT OR REPLACE INTO t VALUES (1)", "INSERT"),
    ("postgres", "UPDATE t SET a = 1", "UPDATE"),
    ("postgres", "DELETE FROM t", "DELETE"),
    ("postgres", "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE", "MERGE"),
    ("duckdb", "UPSERT INTO t VALUES (1)", "UPSERT"),
    ("sqlite", "REPLACE INTO t VALUES (1)", "REPLACE"),
    ("postgres", "CREATE TABLE t (a int)", "CREATE"),
    ("duckdb", "CREATE TABLE evil AS SELECT 1", "CREATE"),
    ("snowflake", "CREATE OR REPLACE TABLE t AS SELECT 1", "CREATE"),
    ("postgres", "DROP TABLE t", "DROP"),
    ("postgres", "ALTER TABLE t ADD COLUMN b int", "ALTER"),
    ("postgres", "TRUNCATE t", "TRUNCATE"),
    ("postgres", "COPY t TO STDOUT", "COPY"),
    ("duckdb", "COPY t TO 'out.csv'", "COPY"),
    ("duckdb", "COPY (SELECT 1) TO 'out.parquet' (FORMAT parquet)", "COPY"),
    ("snowflake", "COPY INTO @stage FROM t", "COPY"),
    ("postgres", "SELECT * INTO new_table FROM t", "INTO"),
    ("duckdb", "ATTACH 'other.db' AS other", "ATTACH"),
    ("sqlite", "ATTACH DATABASE 'other.db' AS other", "ATTACH"),
    ("duckdb", "DETACH other", "DETACH"),
    ("duckdb", "INSTALL httpfs", "INSTALL"),
    ("duckdb", "LOAD httpfs", "LOAD"),
    ("duckdb", "PRAGMA enable_profiling", "PRAGMA"),
    ("sqlite", "PRAGMA journal_mode = WAL", "PRAGMA"),
    ("postgres", "SET statement_timeout = 0", "SET"),
    ("duckdb", "SET threads = 1", "SET"),
    ("postgres", "RESET statement_timeout", "RESET"),
    ("postgres", "CALL refresh_everything()", "CALL"),
    ("duckdb", "CALL pragma_version()", "CALL"),
    ("duckdb", "EXPORT DATABASE 'out'", "EXPORT"),
    ("duckdb", "IMPORT DATABASE 'in'", "IMPORT"),
    ("postgres", "GRANT SELECT ON t TO someone", "GRANT"),
    ("postgres", "REVOKE ALL ON t FROM someone", "REVOKE"),
    ("postgres", "VACUUM", "VACUUM"),
    ("sqlite", "VACUUM INTO 'copy.db'", "VACUUM"),
    ("duckdb", "CHECKPOINT", "CHECKPOINT"),
    ("postgres", "SELECT 1; DROP TABLE x", "2 statements"),
    ("duckdb", "SELECT 1; SELECT 2", "2 statements"),
    # The backslash does not escape the quote in PostgreSQL: the DROP is a second statement.
    ("postgres", "SELECT 'a\\'; DROP TABLE x; --'", "2 statements"),
    ("postgres", "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", "DELETE"),
    ("postgres", "WITH u AS (UPDATE t SET a = 1 RETURNING *) SELECT count(*) FROM u", "UPDATE"),
    ("postgres", "WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x", "INSERT"),
    ("postgres", "SELECT * FROM t FOR UPDATE", "FOR UPDATE"),
    ("postgres", "SELECT lo_export(1, '/tmp/x')", "lo_export"),
    ("postgres", "SELECT * FROM dblink('other', 'DELETE FROM t') AS r(a int)", "dblink"),
    ("postgres", "SELECT pg_terminate_backend(42)", "pg_terminate_backend"),
    ("sqlite", "SELECT load_extension('evil.so')", "load_extension"),
    ("snowflake", "SELECT SYSTEM$CANCEL_ALL_QUERIES(1)", "system$cancel_all_queries"),
    ("postgres", "SHOW search_path", "SHOW"),
    ("postgres", "", "empty"),
    ("postgres", "   ;  ", "empty"),
    ("duckdb", "-- nothing but a comment", "empty"),
]


@pytest.mark.parametrize(("dialect", "sql", "named"), REFUSED)
def test_refuses_anything_but_one_select(dialect, sql, named):
    with pytest.raises(UnsafeQueryError) as info:
        ensure_read_only(sql, dialect)
    assert named.lower() in str(info.value).lower()


def test_unparseable_sql_is_refused_with_the_parsers_message():
    with pytest.raises(UnsafeQueryError, match=r"could not be parsed as postgres SQL.*line 1") as info:
        ensure_read_only("SELECT FROM WHERE (", "postgres")
    assert "\x1b[" not in str(info.value)  # no terminal colours in a message shown in the UI


def test_unsafe_query_error_is_a_value_error():
    assert issubclass(UnsafeQueryError, ValueError)


@pytest.mark.parametrize(
    ("sql", "body"),
    [
        ("SELECT 1", "SELECT 1"),
        ("SELECT 1;", "SELECT 1"),
        ("SELECT 1 -- why\n ; ; /* end */", "SELECT 1"),
        ("/* head */ SELECT 'a;b' AS x;", "/* head */ SELECT 'a;b' AS x"),
    ],
)
def test_statement_body_drops_the_trailing_semicolon_and_comments(sql, body):
    assert statement_body(sql, "postgres") == body
