import sqlite3
import time

import pyarrow as pa
import pytest
from sqlglot import exp

from apps.connectors.registry import ConfigError, parse_config, source_class
from apps.connectors.sql_guard import QueryTimeoutError, UnsafeQueryError

# Recursive counting to 10^8 with a join: far longer than any timeout used here.
LONG_QUERY = (
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000000) "
    "SELECT count(*) FROM n, people"
)


def make_source(path, **extra):
    return source_class("sqlite")(parse_config("source", "sqlite", {"path": str(path), **extra}))


@pytest.fixture
def db_path(tmp_path):
    path = tmp_path / "crm.sqlite3"
    with sqlite3.connect(path) as con:
        con.execute(
            "CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT, score REAL, note TEXT, pic BLOB)"
        )
        con.executemany(
            "INSERT INTO people VALUES (?, ?, ?, ?, ?)",
            [
                # note stays NULL for the first 2500 rows: its type must come from later rows.
                (i, f"p{i}", i / 2, None if i <= 2500 else f"n{i}", b"\x00" if i == 1 else None)
                for i in range(1, 10001)
            ],
        )
    con.close()
    return path


@pytest.fixture
def source(db_path):
    return make_source(db_path)


def test_streams_batches_with_one_schema(source):
    batches = list(source.stream("SELECT * FROM people ORDER BY id", batch_size=1000))
    assert len(batches) == 10 and all(b.num_rows == 1000 for b in batches)
    expected = pa.schema(
        [
            ("id", pa.int64()),
            ("name", pa.string()),
            ("score", pa.float64()),
            ("note", pa.string()),
            ("pic", pa.binary()),
        ]
    )
    assert all(b.schema == expected for b in batches)
    table = pa.Table.from_batches(batches)
    assert table.column("id").to_pylist()[:3] == [1, 2, 3]
    assert table.column("note").null_count == 2500
    assert table.column("pic").to_pylist()[:2] == [b"\x00", None]


def test_column_of_only_nulls_is_typed_string(source):
    (batch,) = source.stream("SELECT id, NULL AS blank FROM people WHERE id < 3")
    assert batch.schema.field("blank").type == pa.string()
    assert batch.column("blank").to_pylist() == [None, None]


def test_integers_and_reals_mixed_become_float(source):
    (batch,) = source.stream(
        "SELECT CASE WHEN id % 2 THEN id ELSE id / 2.0 END AS x FROM people WHERE id <= 4"
    )
    assert batch.schema.field("x").type == pa.float64()
    assert batch.column("x").to_pylist() == [1.0, 1.0, 3.0, 2.0]


def test_a_type_change_after_the_first_batches_is_a_clear_error(source):
    sql = "SELECT CASE WHEN id < 9000 THEN id ELSE 'text' END AS x FROM people ORDER BY id"
    with pytest.raises(ValueError, match=r"'x' changed type.*INTEGER.*TEXT.*CAST"):
        list(source.stream(sql, batch_size=1000))


def test_params_bind_positionally(source):
    placeholder = exp.Placeholder().sql(dialect=source.dialect)
    assert placeholder == "?"
    sql = f"SELECT name FROM people WHERE id BETWEEN {placeholder} AND {placeholder} AND name LIKE 'p%'"
    (batch,) = source.stream(sql, params=[5, 7])
    assert batch.column("name").to_pylist() == ["p5", "p6", "p7"]


def test_columns_reports_names_and_storage_classes(source):
    cols = source.columns("SELECT id, name, score, pic, NULL AS blank FROM people;")
    assert [(c.name, c.type) for c in cols] == [
        ("id", "INTEGER"),
        ("name", "TEXT"),
        ("score", "REAL"),
        ("pic", "BLOB"),
        ("blank", "TEXT"),
    ]


def test_guard_refuses_a_write(source, db_path):
    with pytest.raises(UnsafeQueryError, match="DELETE"):
        list(source.stream("DELETE FROM people"))
    with pytest.raises(UnsafeQueryError, match="ATTACH"):
        source.columns("ATTACH DATABASE 'x.db' AS x")
    with sqlite3.connect(db_path) as con:
        assert con.execute("SELECT count(*) FROM people").fetchone()[0] == 10000
    con.close()


def test_file_is_read_only_behind_the_guard(source):
    con, _ = source._connect()
    try:
        # The authorizer refuses at prepare time; mode=ro would refuse the write itself.
        with pytest.raises(sqlite3.DatabaseError, match="not authorized"):
            con.execute("DELETE FROM people")
        con.set_authorizer(None)
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            con.execute("DELETE FROM people")
    finally:
        con.close()


def test_timeout_aborts_a_long_query(db_path):
    source = make_source(db_path, timeout_seconds=0.3)
    started = time.monotonic()
    with pytest.raises(QueryTimeoutError, match=r"SQLite query stopped.*timeout of 0\.3 s"):
        list(source.stream(LONG_QUERY))
    assert time.monotonic() - started < 5


def test_timeout_does_not_count_time_spent_between_batches(db_path):
    source = make_source(db_path, timeout_seconds=0.2)
    rows = 0
    for batch in source.stream("SELECT * FROM people", batch_size=4000):
        time.sleep(0.3)
        rows += batch.num_rows
    assert rows == 10000


def test_empty_result_yields_no_batches(source):
    assert list(source.stream("SELECT * FROM people WHERE id < 0")) == []


def test_check_ok(source):
    result = source.check()
    assert result.ok and "1 table(s)" in result.message


def test_check_reports_a_missing_file(tmp_path):
    result = make_source(tmp_path / "nope.sqlite3").check()
    assert not result.ok and "not found" in result.message


def test_check_reports_a_file_that_is_not_a_database(tmp_path):
    path = tmp_path / "junk.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    result = make_source(path).check()
    assert not result.ok and "not a database" in result.message


def test_config_needs_a_path():
    with pytest.raises(ConfigError, match="path"):
        parse_config("source", "sqlite", {"path": ""})
