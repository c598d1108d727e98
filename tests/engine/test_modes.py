"""The write modes and strategies not covered elsewhere, end to end into the sandbox CRM."""

import time

import pytest

from tests.engine.conftest import run_now
from tests.fakes.http_sink import HttpSink

pytestmark = pytest.mark.django_db


def test_insert_sends_new_rows_and_the_destination_refuses_duplicates(make_sync, crm, warehouse):
    sync = make_sync(sync_mode="insert")
    first = run_now(sync)
    assert first.rows_written == 250 and crm.store.count("contacts") == 250
    warehouse.execute("UPDATE customers SET name = 'Again' WHERE id = 'C0001'")
    second = run_now(sync)
    # a changed row is inserted again; the CRM refuses the duplicate identifier: DLQ, not lost
    assert second.rows_changed == 1 and second.rows_failed == 1
    assert second.status == "failed"  # every write of this run failed


def test_update_only_touches_existing_records(make_sync, crm):
    run_now(
        make_sync(name="seed", sync_mode="upsert", source_query="SELECT * FROM customers WHERE score < 50")
    )
    updated = run_now(make_sync(name="update", sync_mode="update"))
    # rows whose record does not exist are refused by the CRM with its 404
    assert updated.rows_written == 149 and updated.rows_failed == 101
    assert crm.store.count("contacts") == 149


def test_delete_mode_deletes_the_rows_of_the_query_once(make_sync, crm, warehouse):
    run_now(make_sync(name="seed"))
    deleting = make_sync(
        name="gdpr",
        sync_mode="delete",
        source_query="SELECT * FROM customers WHERE score = 7",
        field_mappings=[{"source": "id", "destination": "external_id", "key": True}],
    )
    first = run_now(deleting)
    assert first.rows_written == 3 and crm.store.count("contacts") == 247
    assert run_now(deleting).rows_unchanged == 3  # already deleted: nothing sent again


def test_strategy_none_sends_every_row_every_run(make_sync):
    sync = make_sync(incremental_strategy="none")
    run_now(sync)
    again = run_now(sync)
    assert again.rows_changed == 250 and again.rows_written == 250 and again.rows_unchanged == 0


def test_the_destination_rate_limit_is_kept(http_sync):
    with HttpSink() as sink:
        sync = http_sync(sink, batch_size=10, rate_limit_per_second=20)
        started = time.monotonic()
        run = run_now(sync)
        elapsed = time.monotonic() - started
    # 25 requests at 20/s with a one-second burst: at least ~0.25 s, where unlimited takes far less
    assert run.requests == 25 and elapsed >= 0.24
