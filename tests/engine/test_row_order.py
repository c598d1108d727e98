"""The saved row order of accepted hashes: a shortcut for the hash pass that may make a run faster
and never makes it wrong (see apps/engine/row_order.py)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from apps.dlq.models import DlqEntry
from apps.engine.row_order import HashLog, PositionMatch, SavedOrder, StateFingerprint
from apps.engine.state import FileStateStore
from apps.engine.workbench import Workbench
from tests.engine.conftest import run_now
from tests.engine_fixtures import balanced


def u64(*values: int) -> pa.Array:
    return pa.array(values, pa.uint64())


def test_positions_are_matched_across_unequal_batches_and_past_the_saved_end():
    match = PositionMatch(u64(1, 2, 0, 4, 5))  # position 2 was not accepted (cleared)
    assert [match.settled(u64(*c)).to_pylist() for c in ([1, 9, 0], [4], [5, 6, 7])] == [
        [True, False, False],  # a cleared position matches nothing, not even a zero hash
        [True],
        [True, False, False],  # 6 and 7 lie past the saved order's end
    ]


def test_a_hash_log_becomes_the_saved_order_with_its_fingerprint(tmp_path):
    order = SavedOrder(tmp_path / "state" / "s.order")
    assert order.fingerprint() is None and order.hashes_for(StateFingerprint(0, 0)) is None
    log = order.new_log()
    log.append(u64(7, 1, 2).slice(1))  # a slice: only its own rows are written
    log.append(u64(3, 2**64 - 1))
    assert log.array().to_pylist() == [1, 2, 3, 2**64 - 1]
    log.clear([1])
    fingerprint = StateFingerprint(3, 2**64 + 5)  # an exact sum: wider than 64 bits
    order.adopt(log, fingerprint)
    assert order.fingerprint() == fingerprint
    assert order.hashes_for(fingerprint).to_pylist() == [1, 0, 3, 2**64 - 1]
    assert order.hashes_for(StateFingerprint(3, 5)) is None  # another state: not used
    # The next log overwrites the order before last, and is cut to its own length when sealed.
    shorter = order.new_log()
    shorter.append(u64(9))
    order.adopt(shorter, StateFingerprint(1, 9))
    assert order.hashes_for(StateFingerprint(1, 9)).to_pylist() == [9]
    # A log kept elsewhere (a workbench's) is copied in.
    elsewhere = HashLog(tmp_path / "run.order")
    elsewhere.append(u64(4, 5))
    order.adopt(elsewhere, StateFingerprint(2, 9))
    assert order.hashes_for(StateFingerprint(2, 9)).to_pylist() == [4, 5]
    # A file cut short, or never sealed, is not used at all.
    data = order.path.read_bytes()
    order.path.write_bytes(data[:-3])
    assert order.fingerprint() is None and order.hashes_for(StateFingerprint(2, 9)) is None
    unsealed = HashLog(tmp_path / "other.order")
    unsealed.append(u64(1))
    unsealed.close()
    assert SavedOrder(unsealed.path).fingerprint() is None
    order.remove()
    assert list((tmp_path / "state").iterdir()) == []


@pytest.fixture
def file_state(settings):
    settings.SYNCLINE_STATE_STORE = "file"  # the database store keeps no row order


@pytest.fixture
def misses(monkeypatch) -> list[int | None]:
    """Per hash pass: the rows the saved order did not settle (None: no saved order used)."""
    seen: list[int | None] = []
    original = Workbench.split_by_hash

    def recording(self, *args, **kwargs):
        split = original(self, *args, **kwargs)
        seen.append(self._positional_misses)
        return split

    monkeypatch.setattr(Workbench, "split_by_hash", recording)
    return seen


def test_an_unchanged_rerun_saves_the_order_and_the_next_run_joins_only_what_moved(
    file_state, make_sync, warehouse, crm, misses
):
    sync = make_sync()
    run_now(sync)  # a full read: no hash pass, no order yet
    assert saved_fingerprint(sync) is None
    quiet = run_now(sync)
    assert quiet.rows_unchanged == 250 and misses == [None]
    assert saved_fingerprint(sync) is not None
    warehouse.execute("UPDATE customers SET score = score + 1 WHERE id IN ('C0007', 'C0100')")
    warehouse.execute("INSERT INTO customers VALUES ('C9999', 'new@example.com', 'New', 5, now())")
    run = run_now(sync)
    balanced(run)
    assert (run.rows_added, run.rows_changed, run.rows_unchanged) == (1, 2, 248)
    assert misses[-1] == 3  # only the two changed rows and the new one went through the join
    scores = {r["external_id"]: r["lead_score"] for r in crm.store.records("contacts", limit=1000)}
    assert scores["C0007"] == 8 and scores["C0100"] == 1 and "C9999" in scores
    # The order saved after that run has no hash yet where rows were written (they were not
    # accepted when the hash pass ran): they miss once more, and are in the order after that.
    again = run_now(sync)
    assert again.rows_unchanged == 251 and again.rows_written == 0 and misses[-1] == 3
    settled = run_now(sync)
    assert settled.rows_unchanged == 251 and misses[-1] == 0


def saved_fingerprint(sync) -> StateFingerprint | None:
    """The fingerprint the sync's saved order is stamped with, once the last run has saved it
    (it does so as its workbench closes, after the run is recorded)."""
    order = FileStateStore(sync.id).saved_order()
    assert order is not None
    return order.fingerprint()


def test_rows_in_another_order_are_still_diffed_exactly(file_state, make_sync, warehouse, misses):
    sync = make_sync()
    run_now(sync)
    run_now(sync)  # saves the order of ``SELECT * FROM customers``
    warehouse.execute("CREATE TABLE shuffled AS SELECT * FROM customers ORDER BY hash(id)")
    warehouse.execute("DROP TABLE customers")
    warehouse.execute("CREATE TABLE customers AS SELECT * FROM shuffled")
    warehouse.execute("UPDATE customers SET score = score + 1 WHERE id = 'C0042'")
    run = run_now(sync)
    balanced(run)
    assert (run.rows_changed, run.rows_unchanged, run.rows_written) == (1, 249, 1)
    assert misses[-1] > 200  # the shortcut found little, the join did the rest


def test_an_order_that_no_longer_describes_the_state_is_not_used(file_state, make_sync, warehouse, misses):
    sync = make_sync()
    run_now(sync)
    run_now(sync)  # an order exists now
    saved = saved_fingerprint(sync)
    # A full resync rewrites every accepted row (no hash pass, so no new order is saved)...
    warehouse.execute("UPDATE customers SET score = score + 1 WHERE id <= 'C0010'")
    resync = run_now(sync, full_resync=True)
    assert resync.rows_written == 250 and saved_fingerprint(sync) == saved
    # ...and the state it describes changed (ten hashes), so the next run does not trust it.
    warehouse.execute("UPDATE customers SET score = score - 1 WHERE id <= 'C0010'")
    run = run_now(sync)
    balanced(run)
    assert misses[-1] is None
    assert (run.rows_changed, run.rows_unchanged) == (10, 240)


def test_duplicates_null_keys_and_removals_are_caught_with_a_saved_order(
    file_state, make_sync, warehouse, crm, misses
):
    """The cases of test_pushdown.py, with most rows settled by position instead of a join."""
    sync = make_sync(sync_mode="mirror")
    run_now(sync)
    run_now(sync)  # saves the order
    warehouse.execute("INSERT INTO customers SELECT * FROM customers WHERE id = 'C0001'")
    warehouse.execute(
        "INSERT INTO customers SELECT id, email, name, score + 1, updated_at "
        "FROM customers WHERE id = 'C0002'"
    )
    warehouse.execute("INSERT INTO customers VALUES (NULL, 'nokey@example.com', 'No key', 1, now())")
    warehouse.execute("DELETE FROM customers WHERE id = 'C0005'")
    run = run_now(sync)
    balanced(run)
    assert misses[-1] is not None  # the saved order was used
    assert run.rows_read == 252 and run.rows_invalid == 5 and run.rows_written == 1  # the delete
    assert run.rows_unchanged == 247 and run.rows_removed == 1
    keys = set(DlqEntry.objects.filter(resolved=False).values_list("record_key", flat=True))
    assert keys == {"C0001", "C0002", None}
    assert crm.store.count("contacts") == 249


def test_signed_warehouse_hashes_match_the_saved_order_by_their_64_bits(tmp_path):
    """PostgreSQL's int8 hashes: logged and matched as unsigned, handed back signed."""

    bench = Workbench(tmp_path / "wb")
    try:
        bench.con.execute("CREATE TABLE st (key VARCHAR, row_hash UBIGINT)")
        bench.con.execute("INSERT INTO st VALUES ('a', 18446744073709551615), ('b', 7)")
        stream = [pa.record_batch([pa.array([-1, 7, -5], pa.int64())], names=["__h"])]
        split = bench.split_by_hash(stream, "st", StateFingerprint(2, 2**64 + 6), saved=u64(2**64 - 1, 7, 9))
        assert (split.total, split.unchanged) == (3, 2)
        assert split.look.type == pa.int64() and split.look.to_pylist() == [-5]
        assert bench.hash_log.array().to_pylist() == [2**64 - 1, 7, 2**64 - 5]
    finally:
        bench.close()
