import threading
import time

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from apps.connectors.registry import parse_config, source_class
from apps.connectors.sources.duckdb import _ensure_duckdb_sees_one_select
from apps.connectors.sql_guard import QueryTimeoutError, UnsafeQueryError

LONG_QUERY = "SELECT count(*) FROM range(100000000) a, range(100000000) b"


def make_source(path: str, **extra):
    return source_class("duckdb")(parse_config("source", "duckdb", {"path": path, **extra}))


@pytest.fixture
def warehouse(tmp_path):
    path = tmp_path / "wh.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE t AS SELECT range AS id, 'n' || range AS name FROM range(25000)")
    return make_source(str(path))


def test_streams_arrow_batches(warehouse):
    batches = list(warehouse.stream("SELECT * FROM t WHERE id >= ?", params=[5000], batch_size=8192))
    assert sum(b.num_rows for b in batches) == 20000
    assert len(batches) >= 3 and max(b.num_rows for b in batches) <= 8192
    assert batches[0].schema == pa.schema([("id", pa.int64()), ("name", pa.string())])


def test_placeholder_is_what_sqlglot_renders_for_duckdb(warehouse):
    from sqlglot import exp

    sql = f"SELECT name FROM t WHERE id = {exp.Placeholder().sql(dialect=warehouse.dialect)}"
    (batch,) = warehouse.stream(sql, params=[7])
    assert batch.column("name").to_pylist() == ["n7"]


def test_trailing_semicolon_and_comment_are_fine(warehouse):
    assert sum(b.num_rows for b in warehouse.stream("SELECT * FROM t; -- all of it")) == 25000


def test_columns_without_reading_rows(warehouse):
    cols = warehouse.columns("SELECT id, name, id * 2 AS twice FROM t -- comment")
    assert [(c.name, c.type) for c in cols] == [("id", "BIGINT"), ("name", "VARCHAR"), ("twice", "BIGINT")]


def test_guard_refuses_a_write_before_duckdb_sees_it(warehouse):
    with pytest.raises(UnsafeQueryError, match="CREATE"):
        list(warehouse.stream("CREATE TABLE evil AS SELECT 1"))
    with pytest.raises(UnsafeQueryError, match="2 statements"):
        warehouse.columns("SELECT 1; DROP TABLE t")


def test_database_file_is_opened_read_only_behind_the_guard(warehouse):
    with warehouse._connect() as con, pytest.raises(duckdb.Error, match="read-only"):
        con.execute("CREATE TABLE evil AS SELECT 1")


def test_duckdbs_own_parser_is_a_second_opinion():
    with duckdb.connect() as con:
        _ensure_duckdb_sees_one_select(con, "SELECT 1")
        with pytest.raises(UnsafeQueryError, match="SELECT, SELECT"):
            _ensure_duckdb_sees_one_select(con, "SELECT 1; SELECT 2")
        with pytest.raises(UnsafeQueryError, match="COPY"):
            _ensure_duckdb_sees_one_select(con, "COPY (SELECT 1) TO 'x.csv'")


def test_memory_path_reads_parquet_and_csv_files(tmp_path):
    pq.write_table(pa.table({"id": [1, 2, 3], "email": ["a@x", "b@x", None]}), tmp_path / "users.parquet")
    (tmp_path / "extra.csv").write_text("id,email\n4,d@x\n")
    source = make_source(":memory:", allowed_directories=[str(tmp_path)])
    sql = (
        f"SELECT * FROM read_parquet('{tmp_path / 'users.parquet'}') "
        f"UNION ALL SELECT * FROM read_csv('{tmp_path / 'extra.csv'}') ORDER BY id"
    )
    table = pa.Table.from_batches(list(source.stream(sql)))
    assert table.column("id").to_pylist() == [1, 2, 3, 4]
    assert table.column("email").to_pylist() == ["a@x", "b@x", None, "d@x"]


def test_memory_path_cannot_write_files(tmp_path):
    target = tmp_path / "leak.csv"
    with pytest.raises(UnsafeQueryError, match="COPY"):
        list(make_source(":memory:").stream(f"COPY (SELECT 1) TO '{target}'"))
    assert not target.exists()


def test_timeout_interrupts_a_long_query():
    source = make_source(":memory:", timeout_seconds=0.3)
    started = time.monotonic()
    with pytest.raises(QueryTimeoutError, match=r"timeout of 0\.3 s"):
        list(source.stream(LONG_QUERY))
    assert time.monotonic() - started < 5


def test_timeout_does_not_count_time_spent_between_batches(warehouse):
    source = make_source(warehouse.config.path, timeout_seconds=0.2)
    rows = 0
    for batch in source.stream("SELECT * FROM t", batch_size=10000):
        time.sleep(0.3)  # a slow destination: longer than the timeout, but not DuckDB's time
        rows += batch.num_rows
    assert rows == 25000


def test_one_watchdog_thread_serves_a_whole_stream(warehouse):
    seen: set[int] = set()
    for _ in warehouse.stream("SELECT * FROM t", batch_size=1000):
        seen.update(t.ident for t in threading.enumerate() if t.name == "duckdb-watchdog")
    assert len(seen) == 1  # 25 batches, one thread (it used to be a thread per batch)
    deadline = time.monotonic() + 5
    while any(t.name == "duckdb-watchdog" for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not any(t.name == "duckdb-watchdog" for t in threading.enumerate())


def test_empty_result_yields_no_batches(warehouse):
    assert list(warehouse.stream("SELECT * FROM t WHERE id < 0")) == []


def test_check_ok(warehouse):
    result = warehouse.check()
    assert result.ok and "1 table(s)" in result.message


def test_check_reports_a_missing_file(tmp_path):
    result = make_source(str(tmp_path / "none.duckdb")).check()
    assert not result.ok and "not found" in result.message


def test_queries_cannot_read_other_files_of_the_server(warehouse, tmp_path):
    with pytest.raises(duckdb.Error, match="disabled by configuration"):
        list(warehouse.stream("SELECT * FROM read_csv('/etc/passwd')"))


def test_lakehouse_files_are_read_from_allowed_directories_only(tmp_path):
    lake = tmp_path / "lake"
    lake.mkdir()
    (lake / "people.csv").write_text("id,name\n1,ada\n2,grace\n")
    (tmp_path / "secret.csv").write_text("password\nhunter2\n")
    source = source_class("duckdb")(
        parse_config("source", "duckdb", {"path": ":memory:", "allowed_directories": [str(lake)]})
    )
    rows = sum(b.num_rows for b in source.stream(f"SELECT * FROM read_csv('{lake}/people.csv')"))
    assert rows == 2
    with pytest.raises(duckdb.Error, match="disabled by configuration"):
        list(source.stream(f"SELECT * FROM read_csv('{tmp_path}/secret.csv')"))


def test_allowed_directories_must_be_absolute():
    from apps.connectors.registry import ConfigError

    with pytest.raises(ConfigError, match="absolute"):
        parse_config("source", "duckdb", {"path": ":memory:", "allowed_directories": ["data"]})


def test_prepare_opens_the_database_ahead_and_the_first_read_uses_it(warehouse, monkeypatch):
    source = warehouse
    opened = []
    original = type(source)._connect

    def counting(self):
        opened.append(threading.current_thread().name)
        return original(self)

    monkeypatch.setattr(type(source), "_connect", counting)
    source.prepare()
    rows = sum(b.num_rows for b in source.stream("SELECT * FROM t"))
    rows += sum(b.num_rows for b in source.stream("SELECT * FROM t"))
    source.close()
    assert rows == 50_000 and opened == ["duckdb-open"]  # once, on its own thread


def test_a_prepared_open_that_fails_fails_the_first_read(tmp_path):
    path = tmp_path / "wh.duckdb"
    duckdb.connect(str(path)).close()
    source = make_source(str(path))
    path.unlink()  # gone between the config check and the run
    source.prepare()
    with pytest.raises(FileNotFoundError, match="not found"):
        list(source.stream("SELECT 1"))
    source.close()  # nothing left open


def test_a_prepared_source_never_read_is_closed(warehouse):
    source = warehouse
    source.prepare()
    source.close()
    assert source._database is None and source._opening is None
