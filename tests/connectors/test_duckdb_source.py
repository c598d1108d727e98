import duckdb
import pytest

from apps.connectors.registry import parse_config, source_class


@pytest.fixture
def warehouse(tmp_path):
    path = tmp_path / "wh.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE t AS SELECT range AS id, 'n' || range AS name FROM range(25000)")
    con = source_class("duckdb")
    return con(parse_config("source", "duckdb", {"path": str(path)}))


def test_streams_arrow_batches(warehouse):
    batches = list(warehouse.stream("SELECT * FROM t WHERE id >= ?", params=[5000], batch_size=8192))
    assert sum(b.num_rows for b in batches) == 20000
    assert max(b.num_rows for b in batches) <= 8192
    assert batches[0].schema.names == ["id", "name"]


def test_columns_without_reading_rows(warehouse):
    cols = warehouse.columns("SELECT id, name, id * 2 AS twice FROM t")
    assert [(c.name, c.type) for c in cols] == [("id", "BIGINT"), ("name", "VARCHAR"), ("twice", "BIGINT")]


def test_connection_is_read_only(warehouse):
    with pytest.raises(duckdb.Error, match="read-only"):
        list(warehouse.stream("CREATE TABLE evil AS SELECT 1"))


def test_check_reports_a_missing_file(tmp_path):
    src = source_class("duckdb")(parse_config("source", "duckdb", {"path": str(tmp_path / "none.duckdb")}))
    result = src.check()
    assert not result.ok and "not found" in result.message
