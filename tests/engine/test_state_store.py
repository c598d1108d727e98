"""The file state store's journal and fold, on their own: what a run leaves behind is exactly the
rows the destination accepted, however the outcome was written and however the fold finds them."""

from __future__ import annotations

import os

import duckdb
import pyarrow as pa
import pytest

from apps.engine import state as state_module
from apps.engine.state import FileStateStore


@pytest.fixture
def store(settings, tmp_path) -> FileStateStore:
    settings.SYNCLINE_VAR_DIR = tmp_path / "var"
    return FileStateStore("sync_test")


@pytest.fixture
def con():
    connection = duckdb.connect(":memory:")
    yield connection
    connection.close()


def keys(*values: str) -> pa.Array:
    return pa.array(values, pa.string())


def hashes(*values: int | None) -> pa.Array:
    return pa.array(values, pa.uint64())


def accepted(key_values: pa.Array, hash_values: pa.Array) -> pa.Table:
    return pa.table({"key": key_values, "row_hash": hash_values})


def state_of(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return dict(con.execute("SELECT key, row_hash FROM sync_state.rows").fetchall())


def seed(store: FileStateStore, con: duckdb.DuckDBPyConnection, rows: dict[str, int]) -> None:
    store.attach(con)
    k, h = keys(*rows), hashes(*rows.values())
    store.intend("seed", "upsert", k, h)
    store.commit(con, accepted(k, h), [], "seed")
    store.finish(con)
    con.execute("DETACH sync_state")  # the seeding run ends; the test's run attaches again


def test_a_fully_accepted_batch_journals_its_outcome_without_rows(store, con):
    store.attach(con)
    k, h = keys("a", "b", "c"), hashes(1, 2, 3)
    store.intend("b1", "upsert", k, h)
    store.commit(con, accepted(k, h), [], "b1")
    store.intend("b2", "upsert", keys("d", "e"), hashes(4, 5))
    store.commit(con, accepted(keys("e"), hashes(5)), [], "b2")  # only "e" was accepted
    messages = [
        (meta["kind"], meta["batch"], meta.get("accepted"), rows.num_rows)
        for meta, rows in state_module._journal_messages(store.journal_path)
    ]
    assert messages == [
        ("intent", "b1", None, 3),
        ("outcome", "b1", "all", 0),
        ("intent", "b2", None, 2),
        ("outcome", "b2", None, 1),
    ]
    store.finish(con)
    assert state_of(con) == {"a": 1, "b": 2, "c": 3, "e": 5}
    assert not store.journal_path.exists()


def test_each_journal_message_is_one_write(store, con, monkeypatch):
    store.attach(con)
    writes: list[int] = []
    real_write = os.write

    def counting_write(fd: int, data) -> int:
        writes.append(len(data))
        return real_write(fd, data)

    monkeypatch.setattr(state_module.os, "write", counting_write)
    k, h = keys("a", "b"), hashes(1, 2)
    store.intend("b1", "upsert", k, h)
    store.commit(con, accepted(k, h), [], "b1")
    store.settle("b2")
    assert len(writes) == 3
    assert sum(writes) == store.journal_path.stat().st_size


@pytest.mark.parametrize("located", [False, True], ids=["found by key", "found by rowid"])
def test_a_fold_updates_inserts_and_deletes_exactly(store, con, located):
    seed(store, con, {"a": 1, "b": 2, "c": 3, "d": 4})
    store.attach(con)
    # A changed row, a new one, a failed change (not accepted), and a mirror delete.
    k, h = keys("a", "x", "b"), hashes(10, 20, 30)
    store.intend("u1", "upsert", k, h)
    store.commit(con, accepted(keys("a", "x"), hashes(10, 20)), [], "u1")
    store.intend("d1", "delete", keys("c"), hashes(None))
    store.commit(con, accepted(keys(), hashes()), ["c"], "d1")
    where = None
    if located:
        # What the run's work table knows: the rowid of each key it read that the state holds.
        con.execute(
            "CREATE TEMP TABLE known AS SELECT key, rowid AS rid FROM sync_state.rows WHERE key IN ('a', 'b')"
        )
        where = "known"
    store.finish(con, located=where)
    assert state_of(con) == {"a": 10, "b": 2, "d": 4, "x": 20}
    assert con.execute("SELECT count(*) FROM sync_state.rows").fetchall()[0][0] == 4


def test_a_killed_runs_journal_is_folded_and_its_unsettled_batch_is_in_doubt(store, con):
    seed(store, con, {"a": 1})
    store.attach(con)
    store.intend("done", "upsert", keys("a", "b"), hashes(11, 12))
    store.commit(con, accepted(keys("a", "b"), hashes(11, 12)), [], "done")
    store.intend("lost", "upsert", keys("c"), hashes(13))
    # The worker dies here: no outcome for "lost", no fold, the journal left open.
    with open(store.journal_path, "ab") as journal:
        journal.write(b"\x00\x01")  # and a message cut short by the kill
    con.close()

    next_con = duckdb.connect(":memory:")
    try:
        next_run = FileStateStore("sync_test")
        next_run.attach(next_con)
        assert [(d.batch_key, d.keys, d.hashes) for d in next_run.in_doubt()] == [("lost", ["c"], [13])]
        assert state_of(next_con) == {"a": 11, "b": 12}
    finally:
        next_con.close()


def _run_batches(store: FileStateStore, con: duckdb.DuckDBPyConnection, rows: int, size: int) -> None:
    for start in range(0, rows, size):
        k = keys(*(f"k{i}" for i in range(start, min(rows, start + size))))
        h = hashes(*(i + 1 for i in range(start, min(rows, start + size))))
        store.intend(f"b{start}", "upsert", k, h)
        store.commit(con, accepted(k, h), [], f"b{start}")


def test_a_run_on_an_empty_state_folds_as_it_goes(store, con, monkeypatch):
    monkeypatch.setattr(state_module, "KEPT_ROWS", 100)
    store.attach(con)
    _run_batches(store, con, 250, 30)
    # Rows are in the state before the run ends, a fold's worth at a time...
    in_state = con.execute("SELECT count(*) FROM sync_state.rows").fetchall()[0][0]
    assert in_state == 240  # 120 after the 4th batch, 240 after the 8th
    store.finish(con)
    # ...and the rest at its end: each row once, with its hash.
    assert state_of(con) == {f"k{i}": i + 1 for i in range(250)}
    assert con.execute("SELECT count(*) FROM sync_state.rows").fetchall()[0][0] == 250
    assert not store.journal_path.exists()


def test_a_run_killed_after_folding_early_is_folded_by_key_once(store, con, monkeypatch):
    monkeypatch.setattr(state_module, "KEPT_ROWS", 100)
    store.attach(con)
    _run_batches(store, con, 250, 30)  # 240 rows folded early, 10 only in the journal
    con.close()  # killed: no finish

    next_con = duckdb.connect(":memory:")
    try:
        next_run = FileStateStore("sync_test")
        next_run.attach(next_con)  # folds the whole journal: the 240 again, matched by key
        assert state_of(next_con) == {f"k{i}": i + 1 for i in range(250)}
        assert next_con.execute("SELECT count(*) FROM sync_state.rows").fetchall()[0][0] == 250
    finally:
        next_con.close()


def test_a_run_on_a_state_with_rows_folds_only_at_its_end(store, con, monkeypatch):
    monkeypatch.setattr(state_module, "KEPT_ROWS", 10)
    seed(store, con, {"a": 1})
    store.attach(con)
    _run_batches(store, con, 50, 20)
    assert state_of(con) == {"a": 1}
    store.finish(con)
    assert len(state_of(con)) == 51


def test_a_small_run_folds_from_memory_not_from_its_journal(store, con, monkeypatch):
    seed(store, con, {"a": 1, "b": 2, "c": 3})
    store.attach(con)
    store.intend("u", "upsert", keys("a", "x"), hashes(10, 20))
    store.commit(con, accepted(keys("a", "x"), hashes(10, 20)), [], "u")
    store.intend("d", "delete", keys("c"), hashes(None))
    store.commit(con, accepted(keys(), hashes()), ["c"], "d")

    def unread(path):
        raise AssertionError("the journal was read back")

    monkeypatch.setattr(state_module, "_journal_messages", unread)
    store.finish(con)
    assert state_of(con) == {"a": 10, "b": 2, "x": 20}
    assert not store.journal_path.exists()
