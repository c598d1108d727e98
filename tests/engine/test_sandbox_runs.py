"""End-to-end runs from a DuckDB warehouse into the sandbox CRM: every row accounted for."""

import pytest

from apps.dlq.models import DlqEntry
from apps.dlq.services import dlq_resolve
from apps.engine.runner import run_sync
from apps.syncs.models import SyncState
from tests.engine.conftest import run_now
from tests.engine_fixtures import balanced

pytestmark = pytest.mark.django_db


def test_first_run_writes_every_row_then_nothing_changes(make_sync, crm):
    sync = make_sync()
    first = run_now(sync)
    assert first.status == "succeeded", first.error_message
    assert first.metrics["rows_read"] == 250 and first.metrics["rows_written"] == 250
    assert first.batches == 3 and first.requests == 3  # sandbox batches are 100 records
    assert crm.store.count("contacts") == 250
    balanced(first)
    second = run_now(sync)
    assert second.status == "succeeded"
    assert second.metrics["rows_unchanged"] == 250 and second.requests == 0
    assert set(second.phase_timings) >= {"extract", "diff", "load", "commit"}
    sync.refresh_from_db()
    assert sync.last_run_id == second.id and sync.status == "healthy"


def test_only_changed_rows_are_sent(make_sync, crm, warehouse):
    sync = make_sync()
    run_now(sync)
    warehouse.execute("UPDATE customers SET name = 'Renamed' WHERE id IN ('C0001', 'C0002')")
    warehouse.execute(
        "INSERT INTO customers VALUES ('C9999', 'new@example.com', 'New', 1, TIMESTAMP '2027-01-01')"
    )
    run = run_now(sync)
    assert (run.rows_added, run.rows_changed, run.rows_unchanged, run.rows_written) == (1, 2, 248, 3)
    names = {r["external_id"]: r["first_name"] for r in crm.store.records("contacts", limit=1000)}
    assert names["C0001"] == "Renamed" and names["C9999"] == "New"


def test_invalid_rows_go_to_the_dlq_without_a_request(make_sync, crm, warehouse):
    warehouse.execute("UPDATE customers SET email = 'broken@@' WHERE id = 'C0003'")
    warehouse.execute("UPDATE customers SET id = NULL WHERE id = 'C0004'")
    warehouse.execute("UPDATE customers SET id = 'C0006' WHERE id = 'C0005'")
    run = run_now(make_sync())
    assert run.status == "partially_succeeded"
    assert run.rows_invalid == 4 and run.rows_written == 246
    balanced(run)
    entries = {e.record_key: e for e in DlqEntry.objects.all()}
    assert entries["C0003"].error_code == "invalid_field_value"
    assert "broken@@" in entries["C0003"].error_message
    assert entries["C0003"].row_preview["email"] == "broken@@"
    assert entries[None].error_code == "validation_failed" and "empty" in entries[None].error_message
    assert "duplicate key C0006" in entries["C0006"].error_message
    assert crm.store.count("contacts") == 246


def test_rejected_rows_are_retried_and_resolve_themselves(make_sync, crm, warehouse):
    # The engine's email check and the sandbox's agree, so make the sandbox refuse something the
    # engine cannot know: an email already used by another contact.
    crm.write(
        "contacts",
        "upsert",
        _batch([{"external_id": "OTHER", "email": "user7@example.com"}]),
        match_key="external_id",
    )
    sync = make_sync()
    first = run_now(sync)
    assert first.status == "partially_succeeded" and first.rows_failed == 1
    entry = DlqEntry.objects.get(record_key="C0007")
    assert entry.error_code == "destination_constraint_violation" and entry.destination_status == 409
    assert entry.payload["email"] == "user7@example.com"
    # next run retries the failed row (it was never marked accepted) and fails it again: same entry
    second = run_now(sync)
    assert second.rows_changed + second.rows_added == 1 and second.rows_failed == 1
    assert DlqEntry.objects.filter(record_key="C0007").count() == 1
    assert DlqEntry.objects.get(record_key="C0007").retry_count == 1
    # fixed upstream: the row goes through and its entry resolves itself
    crm.write("contacts", "delete", _batch([{"external_id": "OTHER"}]), match_key="external_id")
    third = run_now(sync)
    assert third.status == "succeeded" and third.rows_written == 1
    entry.refresh_from_db()
    assert entry.resolved and entry.resolution_reason == "succeeded_on_retry"


def test_replay_sends_the_current_warehouse_row(make_sync, crm, warehouse):
    warehouse.execute("UPDATE customers SET email = 'bad@@' WHERE id = 'C0010'")
    sync = make_sync()
    run_now(sync)
    entry = DlqEntry.objects.get(record_key="C0010")
    warehouse.execute("UPDATE customers SET email = 'fixed@example.com' WHERE id = 'C0010'")
    warehouse.execute("DELETE FROM customers WHERE id = 'C0011'")
    gone = DlqEntry.objects.create(
        workspace=sync.workspace,
        sync=sync,
        run=entry.run,
        destination=sync.destination,
        object_name="contacts",
        record_key="C0011",
        error_code="destination_rejected",
        error_message="x",
        failed_at=entry.failed_at,
    )
    result = dlq_resolve(
        workspace_id=sync.workspace_id,
        ids=[entry.id, gone.id, "dlq_nope"],
        reason="fixed_upstream",
        replay=True,
        by="ada",
    )
    assert result.not_found == ["dlq_nope"] and len(result.replay_runs) == 1
    replay = run_sync(result.replay_runs[0].id)
    assert replay.trigger == "replay" and replay.rows_read == 1 and replay.rows_written == 1
    emails = {r["external_id"]: r["email"] for r in crm.store.records("contacts", limit=1000)}
    assert emails["C0010"] == "fixed@example.com"
    missing = DlqEntry.objects.get(record_key="C0011", resolved=False)
    assert missing.error_code == "source_row_missing" and missing.previous_entry_id == gone.id


def test_mirror_deletes_rows_that_left_the_query(make_sync, crm, warehouse):
    sync = make_sync(sync_mode="mirror")
    run_now(sync)
    warehouse.execute("DELETE FROM customers WHERE id IN ('C0001', 'C0002', 'C0003')")
    run = run_now(sync)
    assert run.rows_removed == 3 and run.rows_written == 3 and run.status == "succeeded"
    balanced(run)
    assert crm.store.count("contacts") == 247
    assert run_now(sync).rows_removed == 0


def test_changing_the_mappings_resets_the_state(make_sync):
    sync = make_sync()
    run_now(sync)
    sync.field_mappings = [*sync.field_mappings, {"source": "'US'", "destination": "country"}]
    sync.save()
    run = run_now(sync)
    assert run.rows_added == 250 and run.rows_unchanged == 0
    assert SyncState.objects.get(sync=sync).version >= 3


def test_full_resync_resends_everything(make_sync):
    sync = make_sync()
    run_now(sync)
    run = run_now(sync, full_resync=True)
    assert run.rows_changed == 250 and run.rows_written == 250


def test_watermark_reads_from_the_boundary_and_keeps_ties(make_sync, warehouse):
    sync = make_sync(incremental_strategy="watermark", incremental_column="updated_at")
    first = run_now(sync)
    assert first.rows_written == 250
    # a late row arrives with the same timestamp as the last row already sent
    warehouse.execute(
        "INSERT INTO customers SELECT 'C0251', 'late@example.com', 'Late', 1, max(updated_at) FROM customers"
    )
    second = run_now(sync)
    assert second.rows_read == 2  # the boundary row again (unchanged) and the late one
    assert (second.rows_added, second.rows_unchanged) == (1, 1)


def test_semantic_query_uses_the_saved_model(make_sync, workspace, crm):
    from apps.connections.models import SavedModel

    SavedModel.objects.create(
        workspace=workspace, name="top", sql="SELECT * FROM customers WHERE score > 90", primary_key="id"
    )
    run = run_now(make_sync(source_query="semantic:top"))
    assert run.status == "succeeded" and run.rows_written == 18  # scores 91..99, twice over 250 rows


def test_bad_configuration_fails_the_run_with_a_reason(make_sync):
    run = run_now(make_sync(field_mappings=[{"source": "id", "destination": "shoe_size", "key": True}]))
    assert run.status == "failed" and run.error_code == "schema_drift" and "shoe_size" in run.error_message
    run = run_now(
        make_sync(name="b", field_mappings=[{"source": "upper(", "destination": "external_id", "key": True}])
    )
    assert run.status == "failed" and "external_id" in run.error_message


def _batch(records):
    from apps.connectors.base import OutgoingBatch

    return OutgoingBatch.of(records)
