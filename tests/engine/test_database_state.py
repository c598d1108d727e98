"""The database state store on its own: what a run loads is exactly what earlier batches upserted,
whatever the keys hold, and a batch's outcome and the settling of its intent go together.

On the PostgreSQL stack the rows come back through COPY and Arrow's CSV parser; on SQLite through
the portable fetch. The same assertions hold for both."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest

from apps.engine.database_state import DatabaseStateStore
from apps.engine.state import STATE_TABLE, state_store_for
from apps.syncs.models import SyncBatchIntent, SyncStateRow
from tests.engine.conftest import run_now
from tests.engine_fixtures import balanced

pytestmark = pytest.mark.django_db

# Keys a CSV round trip could get wrong: separators, quotes, line breaks, the empty string, text
# that looks like a number or like NULL, and non-ASCII.
AWKWARD_KEYS = ["plain", "a,b", 'say "hi"', "two\nlines", "cr\r\nlf", "", "007", "NULL", "\\N", "zoë ☃"]


@pytest.fixture
def sync(make_sync):
    return make_sync()


@pytest.fixture
def con():
    connection = duckdb.connect(":memory:")
    yield connection
    connection.close()


def loaded(store: DatabaseStateStore, con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    table = store.attach(con)
    return dict(con.execute(f"SELECT key, row_hash FROM {table}").fetchall())


def commit_batch(store, con, batch_key: str, rows: dict[str, int], deletes: list[str] = ()) -> None:
    keys = pa.array(list(rows) + list(deletes), pa.string())
    hashes = pa.array(list(rows.values()) + [None] * len(deletes), pa.uint64())
    store.intend(batch_key, "upsert", keys, hashes)
    upserts = pa.table(
        {"key": pa.array(list(rows), pa.string()), "row_hash": pa.array(list(rows.values()), pa.uint64())}
    )
    store.commit(con, upserts, list(deletes), batch_key)


def test_awkward_keys_and_full_width_hashes_come_back_exactly(settings, sync, con):
    settings.SYNCLINE_STATE_STORE = "database"
    store = state_store_for(sync.id)
    assert isinstance(store, DatabaseStateStore)
    assert loaded(store, con) == {}  # nothing yet: an empty table, not an error
    rows = {key: 2**64 - 1 - i for i, key in enumerate(AWKWARD_KEYS)}  # past the signed range
    commit_batch(store, con, "b1", rows)
    assert loaded(store, con) == rows
    assert con.execute(f"SELECT count(*) FROM {STATE_TABLE} WHERE key IS NULL").fetchall()[0][0] == 0


def test_a_batch_upserts_deletes_and_settles_its_intent_together(sync, con):
    store = DatabaseStateStore(sync.id)
    commit_batch(store, con, "b1", {"a": 1, "b": 2, "c": 3})
    commit_batch(store, con, "b2", {"b": 20, "d": 4}, deletes=["c", "never-there"])
    assert loaded(store, con) == {"a": 1, "b": 20, "d": 4}
    assert not SyncBatchIntent.objects.filter(sync_id=sync.id).exists()
    assert SyncStateRow.objects.filter(sync_id=sync.id).count() == 3


def test_the_row_count_follows_the_batches_without_counting_again(sync, con):
    commit_batch(DatabaseStateStore(sync.id), con, "seed", {"a": 1, "b": 2, "c": 3})
    for attach in ("attach", "attach_hashes"):  # what a run loads sets the count it starts from
        run_store = DatabaseStateStore(sync.id)
        getattr(run_store, attach)(con)
        # An update, an insert, a delete and a key that was never there.
        commit_batch(run_store, con, f"b-{attach}", {"a": 10, f"new-{attach}": 4}, ["c", "x"])
        assert run_store.count(con) == SyncStateRow.objects.filter(sync_id=sync.id).count() == 3
        commit_batch(run_store, con, f"back-{attach}", {"c": 3}, [f"new-{attach}"])
        assert run_store.count(con) == 3


def test_an_intent_without_an_outcome_is_in_doubt_with_its_rows(sync, con):
    store = DatabaseStateStore(sync.id)
    store.intend("sent", "upsert", pa.array(["k1", "k2"]), pa.array([5, 2**63 + 7], pa.uint64()))
    # Written again (a recovered batch resent with the same key): still one intent.
    store.intend("sent", "upsert", pa.array(["k1", "k2"]), pa.array([5, 2**63 + 7], pa.uint64()))
    [doubt] = store.in_doubt()
    assert (doubt.batch_key, doubt.mode, doubt.keys, doubt.hashes) == (
        "sent",
        "upsert",
        ["k1", "k2"],
        [5, 2**63 + 7],
    )
    assert loaded(store, con) == {}  # nothing was accepted
    store.settle("sent")
    assert store.in_doubt() == []


def test_a_failing_outcome_leaves_the_intent_and_the_state_untouched(sync, con, monkeypatch):
    store = DatabaseStateStore(sync.id)
    commit_batch(store, con, "b1", {"a": 1})
    store.intend("b2", "upsert", pa.array(["a", "b"]), pa.array([10, 2], pa.uint64()))

    def broken_delete(self, cursor, keys):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(DatabaseStateStore, "_delete", broken_delete)
    upserts = pa.table({"key": pa.array(["a"]), "row_hash": pa.array([10], pa.uint64())})
    with pytest.raises(RuntimeError):
        store.commit(con, upserts, ["b"], "b2")
    assert loaded(store, con) == {"a": 1}  # the upsert of "a" rolled back with the rest
    assert [d.batch_key for d in store.in_doubt()] == ["b2"]


def test_a_run_diffing_on_hashes_loads_the_keys_of_the_rows_it_reads_only(
    settings, make_sync, warehouse, monkeypatch
):
    settings.SYNCLINE_STATE_STORE = "database"
    calls: list[tuple[str, int]] = []
    for name in ("attach", "load_keys"):
        original = getattr(DatabaseStateStore, name)

        def spy(self, con, *args, _original=original, _name=name):
            calls.append((_name, len(args[0]) if args else 0))
            return _original(self, con, *args)

        monkeypatch.setattr(DatabaseStateStore, name, spy)
    sync = make_sync()
    assert run_now(sync).rows_written == 250
    warehouse.execute("UPDATE customers SET score = score + 1 WHERE id IN ('C0007', 'C0100')")
    warehouse.execute("INSERT INTO customers VALUES ('C9999', 'new@example.com', 'New', 5, now())")
    calls.clear()
    run = run_now(sync)
    balanced(run)
    assert (run.rows_added, run.rows_changed, run.rows_unchanged) == (1, 2, 248)
    assert calls == [("load_keys", 3)]  # no full load: the three keys read in full
    # A change to most rows: every row is read after all, and every key loaded.
    warehouse.execute("UPDATE customers SET score = score + 1")
    calls.clear()
    big = run_now(sync)
    balanced(big)
    assert big.rows_changed == 251 and [name for name, _ in calls] == ["attach"]
