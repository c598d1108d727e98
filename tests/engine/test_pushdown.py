"""Diffing on row hashes computed in the warehouse, then reading only the changed rows in full.

The DuckDB source supports it, so every run with an accepted state takes this path; these tests
prove it does (the first read is the hashes alone, the second is hash-filtered and small) and that
the outcome is the same as a full read would give: added, changed, unchanged, duplicates, null
and bad keys, and removals.
"""

from __future__ import annotations

import pytest

from apps.connectors.sources.duckdb import DuckDBSource
from apps.dlq.models import DlqEntry
from tests.engine.conftest import run_now
from tests.engine_fixtures import balanced, record_reads


@pytest.fixture(autouse=True, params=["file", "database"])
def state_store(request, settings) -> str:
    """Both state stores: the database one loads only the keys of the rows read in full."""
    settings.SYNCLINE_STATE_STORE = request.param
    return request.param


@pytest.fixture
def source_reads(monkeypatch):
    """Every query the DuckDB source streams, with the number of rows it returned."""
    return record_reads(monkeypatch, DuckDBSource)


def test_a_rerun_reads_keys_and_hashes_then_only_the_changed_rows(make_sync, warehouse, crm, source_reads):
    sync = make_sync()
    first = run_now(sync)
    assert first.rows_written == 250 and len(source_reads) == 1  # no state yet: one full read
    warehouse.execute("UPDATE customers SET score = score + 1 WHERE id IN ('C0007', 'C0100')")
    warehouse.execute("INSERT INTO customers VALUES ('C9999', 'new@example.com', 'New', 5, now())")
    source_reads.clear()
    run = run_now(sync)
    balanced(run)
    assert (run.rows_read, run.rows_added, run.rows_changed, run.rows_unchanged) == (251, 1, 2, 248)
    assert run.rows_written == 3
    (narrow, narrow_rows), (wanted, wanted_rows) = source_reads
    assert (
        narrow_rows == 251
        and narrow.startswith('SELECT "__h" FROM')
        and '"__h" IN (SELECT v FROM _syncline_wanted_values)' in wanted
    )
    assert wanted_rows == 3
    scores = {r["external_id"]: r["lead_score"] for r in crm.store.records("contacts", limit=1000)}
    assert scores["C0007"] == 8 and scores["C0100"] == 1 and "C9999" in scores
    # Nothing changed: the second read is skipped altogether.
    source_reads.clear()
    quiet = run_now(sync)
    assert quiet.rows_unchanged == 251 and quiet.rows_written == 0 and len(source_reads) == 1


def test_duplicates_and_null_keys_are_caught_on_the_narrow_path(make_sync, warehouse, source_reads):
    sync = make_sync()
    run_now(sync)
    # A duplicate of an unchanged row, a changed row duplicated, and a row with no key.
    warehouse.execute("INSERT INTO customers SELECT * FROM customers WHERE id = 'C0001'")
    warehouse.execute(
        "INSERT INTO customers SELECT id, email, name, score + 1, updated_at "
        "FROM customers WHERE id = 'C0002'"
    )
    warehouse.execute("INSERT INTO customers VALUES (NULL, 'nokey@example.com', 'No key', 1, now())")
    source_reads.clear()
    run = run_now(sync)
    balanced(run)
    # Hashes; the rows with a new hash (the new C0002, the keyless row); then the duplicates
    # hiding among the accepted hashes: C0001 twice (its hash repeats) and C0002's accepted copy.
    assert [rows for _, rows in source_reads] == [253, 2, 3]
    assert run.rows_read == 253 and run.rows_invalid == 5 and run.rows_written == 0
    assert run.rows_unchanged == 248
    keys = set(DlqEntry.objects.filter(resolved=False).values_list("record_key", flat=True))
    assert keys == {"C0001", "C0002", None}


def test_an_accepted_row_duplicated_with_nothing_else_changed_is_caught(make_sync, warehouse, source_reads):
    sync = make_sync()
    run_now(sync)
    warehouse.execute("INSERT INTO customers SELECT * FROM customers WHERE id = 'C0042'")
    source_reads.clear()
    run = run_now(sync)
    balanced(run)
    # No hash is new, so no second read of new rows: only the two copies are read.
    assert [rows for _, rows in source_reads] == [251, 2]
    assert (run.rows_invalid, run.rows_unchanged, run.rows_written) == (2, 249, 0)
    assert DlqEntry.objects.get(resolved=False).record_key == "C0042"


def test_removals_do_not_hide_a_duplicate(make_sync, warehouse, crm, source_reads):
    """A removed row and a duplicated one balance the row count: the hash sums still differ."""
    sync = make_sync(sync_mode="mirror")
    run_now(sync)
    warehouse.execute("DELETE FROM customers WHERE id = 'C0005'")
    warehouse.execute("INSERT INTO customers SELECT * FROM customers WHERE id = 'C0006'")
    source_reads.clear()
    run = run_now(sync)
    balanced(run)
    assert [rows for _, rows in source_reads] == [250, 2]
    assert (run.rows_invalid, run.rows_unchanged, run.rows_removed) == (2, 248, 1)
    assert crm.store.count("contacts") == 249


def test_a_key_that_only_coerces_to_an_accepted_one_is_caught_as_a_duplicate(
    make_sync, warehouse, source_reads
):
    """' C0003 ' is a new raw value, but the destination's key is trimmed: it is C0003 again."""
    sync = make_sync()
    run_now(sync)
    warehouse.execute(
        "INSERT INTO customers SELECT ' ' || id || ' ', email, name, score + 5, updated_at "
        "FROM customers WHERE id = 'C0003'"
    )
    source_reads.clear()
    run = run_now(sync)
    balanced(run)
    assert [rows for _, rows in source_reads] == [251, 1, 1]
    assert (run.rows_invalid, run.rows_unchanged, run.rows_written) == (2, 249, 0)
    entry = DlqEntry.objects.get(resolved=False)
    assert entry.record_key == "C0003" and "appears 2 times" in entry.error_message


def test_mirror_removes_and_a_big_change_falls_back_to_one_read(make_sync, warehouse, crm, source_reads):
    sync = make_sync(sync_mode="mirror")
    run_now(sync)
    warehouse.execute("DELETE FROM customers WHERE id IN ('C0001', 'C0002')")
    source_reads.clear()
    run = run_now(sync)
    # Only removals: the narrow read finds nothing to read in full.
    assert run.rows_removed == 2 and run.rows_unchanged == 248 and len(source_reads) == 1
    assert crm.store.count("contacts") == 248
    # Most rows changed: the narrow read is not followed by a key-filtered one, but a full read.
    warehouse.execute("UPDATE customers SET score = score + 1")
    source_reads.clear()
    big = run_now(sync)
    balanced(big)
    assert big.rows_changed == 248 and big.rows_written == 248
    assert len(source_reads) == 2 and source_reads[1][1] == 248 and "_wanted_values" not in source_reads[1][0]
