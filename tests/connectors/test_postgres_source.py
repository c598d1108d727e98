"""Against the real local PostgreSQL (127.0.0.1:5432, user postgres, trust auth), in a database of
its own: a missing server fails these tests, it does not skip them."""

import datetime as dt
import time
import uuid
from decimal import Decimal

import psycopg
import pyarrow as pa
import pytest
from sqlglot import exp

from apps.connectors.registry import ConfigError, parse_config, source_class
from apps.connectors.sources.postgres import escape_percent
from apps.connectors.sql_guard import QueryTimeoutError, UnsafeQueryError
from tests.pg import SERVER, admin_connect, throwaway_database

ROWS = 25000

SETUP = """
CREATE TABLE people (
    id int8 PRIMARY KEY, small int2, medium int4, ratio float4, score float8,
    amount numeric(10, 2), exact numeric, active bool, name text, code varchar(8),
    born date, seen timestamp, seen_tz timestamptz, doc json, docb jsonb, key uuid,
    wait interval, tags int4[]
);
INSERT INTO people
SELECT i, i % 100, i, i / 4.0, i / 2.0, i / 100.0, i / 3.0, i % 2 = 0, 'n' || i, 'c' || (i % 1000),
       date '2024-01-01' + (i % 365), timestamp '2024-01-01 12:00:00' + i * interval '1 minute',
       timestamptz '2024-01-01 12:00:00+02' + i * interval '1 minute',
       json_build_object('i', i), jsonb_build_object('i', i), md5(i::text)::uuid,
       i * interval '1 second', ARRAY[i, i + 1]
FROM generate_series(1, %(rows)s) AS i;
-- The first row is all NULLs but its id: types must come from the result, not the values.
INSERT INTO people (id) VALUES (0);
CREATE SEQUENCE counter;
CREATE TABLE audit (at timestamptz);
CREATE FUNCTION touch() RETURNS int LANGUAGE sql VOLATILE AS 'INSERT INTO audit VALUES (now()); SELECT 1';
CREATE SCHEMA "Sales";
CREATE TABLE "Sales".deals (id int4, title text);
INSERT INTO "Sales".deals VALUES (1, 'big one');
"""


@pytest.fixture(scope="module")
def database():
    with throwaway_database(SETUP.replace("%(rows)s", str(ROWS))) as name:
        yield name


def make_source(database: str, **extra):
    config = {"host": SERVER["host"], "port": SERVER["port"], "user": SERVER["user"], "database": database}
    return source_class("postgres")(parse_config("source", "postgres", {**config, **extra}))


@pytest.fixture
def source(database):
    return make_source(database)


def test_streams_several_batches_with_mapped_types(source):
    batches = list(source.stream("SELECT * FROM people ORDER BY id", batch_size=10000))
    assert [b.num_rows for b in batches] == [10000, 10000, 5001]
    expected = {
        "id": pa.int64(),
        "small": pa.int16(),
        "medium": pa.int32(),
        "ratio": pa.float32(),
        "score": pa.float64(),
        "amount": pa.decimal128(10, 2),
        "exact": pa.string(),  # numeric without precision: exact text
        "active": pa.bool_(),
        "name": pa.string(),
        "code": pa.string(),
        "born": pa.date32(),
        "seen": pa.timestamp("us"),
        "seen_tz": pa.timestamp("us", tz="UTC"),
        "doc": pa.string(),
        "docb": pa.string(),
        "key": pa.string(),
        "wait": pa.string(),
        "tags": pa.string(),
    }
    for batch in batches:
        assert {f.name: f.type for f in batch.schema} == expected
    table = pa.Table.from_batches(batches)
    first, second = table.slice(0, 2).to_pylist()
    assert first["name"] is None and first["amount"] is None  # the all-NULL row
    assert second["id"] == 1 and second["small"] == 1 and second["active"] is False
    assert second["amount"] == Decimal("0.01")
    assert second["exact"] == "0.33333333333333333333"
    assert second["born"] == dt.date(2024, 1, 2)
    assert second["seen"] == dt.datetime(2024, 1, 1, 12, 1)
    assert second["seen_tz"] == dt.datetime(2024, 1, 1, 10, 1, tzinfo=dt.UTC)
    assert second["doc"] == '{"i" : 1}' and second["docb"] == '{"i": 1}'
    assert second["key"] == str(uuid.UUID("c4ca4238a0b923820dcc509a6f75849b"))
    assert second["wait"] == "00:00:01" and second["tags"] == "{1,2}"


def test_params_bind_to_the_placeholder_sqlglot_renders(source):
    placeholder = exp.Placeholder().sql(dialect=source.dialect)
    assert placeholder == "%s"
    sql = (
        f"SELECT id, name FROM people WHERE id BETWEEN {placeholder} AND {placeholder} "
        "AND name LIKE 'n1%' AND id % 2 = 0 -- 100% of the even ones\nORDER BY id"
    )
    (batch,) = source.stream(sql, params=[10, 20])
    assert batch.column("id").to_pylist() == [10, 12, 14, 16, 18]


def test_literal_percent_without_params_is_left_alone(source):
    (batch,) = source.stream("SELECT count(*) AS n FROM people WHERE name LIKE 'n2%' AND id % 5 = 0")
    assert batch.column("n").to_pylist() == [1223]


def test_escape_percent_keeps_only_placeholders():
    sql = "SELECT a % 2, '%s%' AS x, \"c%\" FROM t /* 5% */ WHERE a = %s AND b IN (%s,%s)"
    assert escape_percent(sql) == (
        "SELECT a %% 2, '%%s%%' AS x, \"c%%\" FROM t /* 5%% */ WHERE a = %s AND b IN (%s,%s)"
    )


def test_columns_reports_postgres_type_names(source):
    cols = source.columns("SELECT id, amount, exact, code, seen_tz, docb, id::text AS t FROM people;")
    assert [(c.name, c.type) for c in cols] == [
        ("id", "bigint"),
        ("amount", "numeric(10,2)"),
        ("exact", "numeric"),
        ("code", "character varying(8)"),
        ("seen_tz", "timestamp with time zone"),
        ("docb", "jsonb"),
        ("t", "text"),
    ]


def test_guard_refuses_a_write(source):
    with pytest.raises(UnsafeQueryError, match="DELETE"):
        list(source.stream("DELETE FROM people"))
    with pytest.raises(UnsafeQueryError, match="DELETE"):
        list(source.stream("WITH d AS (DELETE FROM people RETURNING id) SELECT * FROM d"))


def test_queries_run_in_a_read_only_transaction_with_the_timeout(source):
    sql = (
        "SELECT current_setting('transaction_read_only') AS ro, current_setting('statement_timeout') AS st, "
        "current_setting('TimeZone') AS tz"
    )
    (batch,) = source.stream(sql)
    assert batch.to_pylist() == [{"ro": "on", "st": "5min", "tz": "UTC"}]


def test_a_write_the_guard_lets_through_still_fails(source):
    # Neither nextval() nor a user function that writes is on the guard's list: the READ ONLY
    # transaction is what stops them.
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        list(source.stream("SELECT nextval('counter')"))
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        list(source.stream("SELECT touch()"))
    (batch,) = source.stream("SELECT count(*) AS n FROM audit")
    assert batch.column("n").to_pylist() == [0]


def test_timeout_cancels_a_slow_query(database):
    source = make_source(database, timeout_seconds=1)
    started = time.monotonic()
    with pytest.raises(QueryTimeoutError, match=r"PostgreSQL query stopped.*timeout of 1 s"):
        list(source.stream("SELECT pg_sleep(5)"))
    assert time.monotonic() - started < 4


def test_timeout_does_not_count_time_spent_between_batches(database):
    source = make_source(database, timeout_seconds=0.5)
    rows = 0
    for batch in source.stream("SELECT id FROM people", batch_size=10000):
        time.sleep(0.7)  # idle in the transaction, longer than the statement timeout
        rows += batch.num_rows
    assert rows == ROWS + 1


def test_stopping_early_releases_the_connection(source, database):
    stream = source.stream("SELECT id FROM people", batch_size=100)
    assert next(stream).num_rows == 100
    stream.close()
    with admin_connect() as admin:
        left = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND application_name = 'syncline'",
            [database],
        ).fetchone()[0]
    assert left == 0


def test_empty_result_yields_no_batches(source):
    assert list(source.stream("SELECT * FROM people WHERE id < 0")) == []


def test_schema_sets_the_search_path(database):
    (batch,) = make_source(database, schema="Sales").stream("SELECT title FROM deals")
    assert batch.column("title").to_pylist() == ["big one"]


def test_url_form_connects(database):
    url = f"postgresql://postgres@127.0.0.1:5432/{database}"
    src = source_class("postgres")(parse_config("source", "postgres", {"url": url}))
    (batch,) = src.stream("SELECT count(*) AS n FROM people")
    assert batch.column("n").to_pylist() == [ROWS + 1]
    assert src.config.split()[1] == {"url": url}  # the url is a secret: it may hold a password


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"url": "postgresql://x@h/db", "host": "h"}, "not both"),
        ({"host": "h", "user": "u"}, "missing: database"),
        ({"url": "mysql://x@h/db"}, "postgresql://"),
        ({}, "Give either url"),
    ],
)
def test_config_takes_exactly_one_form(config, message):
    with pytest.raises(ConfigError, match=message):
        parse_config("source", "postgres", config)


def test_check_ok(source, database):
    result = source.check()
    assert result.ok and database in result.message and "read-only" in result.message


def test_check_reports_a_missing_database():
    result = make_source("syncline_no_such_db").check()
    assert not result.ok
    assert result.message.startswith("Could not connect to PostgreSQL")
    assert 'database "syncline_no_such_db" does not exist' in result.message


def test_check_reports_an_unreachable_server(database):
    result = make_source(database, port=1).check()
    assert not result.ok and "Could not connect to PostgreSQL" in result.message
