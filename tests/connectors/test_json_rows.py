"""JsonRows: a batch's JSON texts in one Arrow array, joined into bodies without Python strings."""

from __future__ import annotations

import duckdb
import orjson
import pyarrow as pa
import pytest

from apps.connectors.base import OutgoingBatch
from apps.connectors.json_rows import JsonRows, render_sql


def _rendered(n: int) -> pa.Array:
    """Rows as the workbench renders them: DuckDB's JSON behind ``render_sql``'s comma."""
    con = duckdb.connect()
    sql = render_sql("CAST(to_json(struct_pack(id := i, name := 'n,' || i || '\"')) AS VARCHAR)")
    return con.sql(f"SELECT {sql} AS row_json FROM range({n}) t(i)").to_arrow_table().column(0)


def test_json_array_of_any_run_of_rows_is_valid_json_of_those_rows():
    rows = JsonRows(_rendered(50))
    assert orjson.loads(rows.json_array(0, 50)) == [{"id": i, "name": f'n,{i}"'} for i in range(50)]
    assert [r["id"] for r in orjson.loads(rows.json_array(17, 23))] == list(range(17, 23))
    assert orjson.loads(rows.json_array(49, 50)) == [{"id": 49, "name": 'n,49"'}]
    assert rows.json_array(5, 5) == b"[]"


@pytest.mark.parametrize("kind", [pa.string(), pa.large_string()])
def test_sliced_arrays_keep_their_own_rows(kind):
    """A batch is a zero-copy slice of a larger chunk: its offsets start mid-buffer."""
    whole = pa.array([f',{{"i":{i}}}' for i in range(100)], kind)
    rows = JsonRows(whole.slice(40, 20))
    assert len(rows) == 20
    assert orjson.loads(rows.json_array(0, 20)) == [{"i": i} for i in range(40, 60)]
    assert rows.texts() == [f'{{"i":{i}}}' for i in range(40, 60)]


def test_outgoing_batch_gives_the_same_texts_records_and_arrays_either_way():
    arrow = OutgoingBatch(json_rows=JsonRows(_rendered(10)))
    texts = OutgoingBatch([t[1:] for t in _rendered(10).to_pylist()])
    assert len(arrow) == len(texts) == 10
    assert arrow.rows_json == texts.rows_json
    assert arrow.records == texts.records
    assert arrow.json_array(2, 7) == texts.json_array(2, 7)
    assert arrow.json_array() == texts.json_array()


def test_not_a_string_array_or_a_null_row_is_refused():
    with pytest.raises(TypeError, match="string array"):
        JsonRows(pa.array([1, 2]))
    with pytest.raises(ValueError, match="cannot be NULL"):
        JsonRows(pa.array([',{"a":1}', None]))
