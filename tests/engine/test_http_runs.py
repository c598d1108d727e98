"""Runs against a local HTTP destination that injects the faults real APIs produce."""

import time
from collections import Counter

import orjson
import pytest

from apps.dlq.models import DlqEntry
from apps.dlq.services import dlq_resolve
from apps.engine.runner import run_sync
from apps.syncs.models import SyncState
from tests.engine.conftest import run_now
from tests.engine_fixtures import balanced
from tests.fakes.http_sink import Fault, FaultSchedule, HttpSink, reject_where

pytestmark = pytest.mark.django_db

ROWS = 250


def test_batches_arrive_as_the_contract_says(http_sync):
    with HttpSink() as sink:
        run = run_now(http_sync(sink))
    assert run.status == "succeeded" and run.rows_written == ROWS and run.requests == 5
    assert {"id": "C0001", "email": "user1@example.com", "score": 1} in sink.received
    assert all(r.headers.get("idempotency-key") for r in sink.request_log)


def test_429_with_retry_after_is_honoured(http_sync):
    hook = lambda n, records: Fault.rate_limited(retry_after=0.3) if n == 1 else None  # noqa: E731
    with HttpSink(faults=hook) as sink:
        started = time.monotonic()
        run = run_now(http_sync(sink))
        elapsed = time.monotonic() - started
    assert run.status == "succeeded" and run.rows_written == ROWS and run.requests == 6
    assert elapsed >= 0.3
    assert len(sink.received) == ROWS


@pytest.mark.parametrize("fault", [Fault.server_error(500), Fault.timeout(1.0), Fault.connection_reset()])
def test_transient_failures_are_retried_without_duplicates(http_sync, fault):
    hook = lambda n, records: fault if n in (2, 3) else None  # noqa: E731
    with HttpSink(faults=hook) as sink:
        run = run_now(http_sync(sink))
    assert run.status == "succeeded", run.error_message
    assert run.rows_written == ROWS and run.requests == 7
    assert Counter(r["id"] for r in sink.received).most_common(1)[0][1] == 1  # a timed-out batch applied once


def test_per_record_rejections_land_in_the_dlq_with_the_vendor_message(http_sync):
    bad = reject_where(lambda r: r["email"].endswith("7@example.com"), "email domain is blocked", "blocked")
    with HttpSink(faults=bad) as sink:
        sync = http_sync(sink)
        run = run_now(sync)
        assert run.status == "partially_succeeded" and run.rows_failed == 25 and run.rows_written == 225
        balanced(run)
        entry = DlqEntry.objects.get(record_key="C0007")
        assert entry.error_message.startswith("email domain is blocked") and "blocked" in entry.error_message
        assert entry.destination_status == 200
        assert entry.payload == {"id": "C0007", "email": "user7@example.com", "score": 7}
        assert entry.row_preview == {"id": "C0007", "email": "user7@example.com", "score": 7}
        # the next run retries exactly the failed rows
        again = run_now(sync)
        assert again.rows_added == 25 and again.rows_unchanged == 225 and again.rows_failed == 25
        assert DlqEntry.objects.filter(resolved=False).count() == 25


def test_a_rejected_row_fixed_upstream_is_replayed_fixed(http_sync, warehouse):
    bad = reject_where(lambda r: "@" not in r["email"], "email is not an address", "invalid_field_value")
    warehouse.execute("UPDATE customers SET email = 'nobody' WHERE id = 'C0042'")
    with HttpSink(faults=bad) as sink:
        sync = http_sync(sink)
        run = run_now(sync)
        assert run.status == "partially_succeeded" and run.rows_failed == 1
        entry = DlqEntry.objects.get(record_key="C0042", resolved=False)
        assert entry.error_code == "invalid_field_value" and "email is not an address" in entry.error_message
        warehouse.execute("UPDATE customers SET email = 'fixed42@example.com' WHERE id = 'C0042'")
        result = dlq_resolve(
            workspace_id=sync.workspace_id, ids=[entry.id], reason="fixed_upstream", replay=True, by="ops"
        )
        replay = run_sync(result.replay_runs[0].id)
        assert replay.trigger == "replay" and replay.rows_written == 1 and replay.rows_failed == 0
        assert {"id": "C0042", "email": "fixed42@example.com", "score": 42} in sink.received
        entry.refresh_from_db()
        assert entry.resolved and entry.resolution_reason == "fixed_upstream"


def test_exhausted_retries_are_retryable_dlq_entries(http_sync, settings):
    settings.SYNCLINE_MAX_RETRIES = 2
    with HttpSink(faults=lambda n, records: Fault.server_error(503)) as sink:
        run = run_now(http_sync(sink))
    assert run.status == "failed" and run.rows_failed == ROWS and run.requests == 15
    balanced(run)
    entry = DlqEntry.objects.get(record_key="C0001")
    assert entry.retryable and entry.destination_status == 503 and entry.retry_count == 2
    assert entry.error_code == "destination_unavailable"


def test_permanent_4xx_fails_the_batch_at_once(http_sync):
    hook = lambda n, records: Fault(status=422, body={"message": "schema mismatch"}) if n == 1 else None  # noqa: E731
    with HttpSink(faults=hook) as sink:
        run = run_now(http_sync(sink))
    assert run.rows_failed == 50 and run.requests == 5
    assert DlqEntry.objects.count() == 50
    entry = DlqEntry.objects.first()
    assert (
        not entry.retryable and entry.destination_status == 422 and "schema mismatch" in entry.error_message
    )


def test_auth_failure_stops_the_run_and_loses_nothing(http_sync):
    with HttpSink(require_headers={"Authorization": "Bearer right"}) as sink:
        sync = http_sync(sink, auth={"type": "bearer", "token": "wrong"})
        run = run_now(sync)
        assert run.status == "failed" and run.error_code == "auth_failed"
        assert not DlqEntry.objects.exists() and sink.record_count == 0
        dest = sync.destination
        dest.secrets = {**dest.secrets, "auth.token": "right"}
        dest.save()
        fixed = run_now(sync)
    assert fixed.status == "succeeded" and fixed.rows_added == ROWS and fixed.rows_written == ROWS


@pytest.mark.parametrize("seed", range(12))
def test_randomised_faults_every_row_written_once_unchanged_or_in_the_dlq(
    http_sync, warehouse, settings, seed
):
    """Whatever the faults, each row ends written exactly once, unchanged, or in the DLQ, and the
    counts of every run balance."""
    settings.SYNCLINE_MAX_RETRIES = 3
    schedule = FaultSchedule(
        seed,
        rate_limited=0.1,
        server_error=0.1,
        timeout=0.05,
        reset=0.05,
        reject_record=0.03,
        retry_after=0.01,
        timeout_seconds=0.4,
    )
    with HttpSink(faults=schedule) as sink:
        sync = http_sync(sink, timeout_seconds=0.2, batch_size=20)
        for step in range(3):
            run = run_now(sync)
            balanced(run)
            open_failures = DlqEntry.objects.filter(sync=sync, resolved=False, run=run).count()
            assert open_failures == run.rows_failed
            if step == 0:
                warehouse.execute(f"UPDATE customers SET score = score + 1 WHERE hash(id) % 5 = {seed % 5}")
        # Every (row content) accepted at most once: retries after timeouts never doubled a write.
        accepted = Counter(orjson.dumps(r, option=orjson.OPT_SORT_KEYS) for r in sink.received)
        assert max(accepted.values()) == 1
        # Every current row is either accepted with its current content or has an open DLQ entry.
        current = {r["id"]: r for r in _current_rows(warehouse)}
        at_sink = {}
        for record in sink.received:
            at_sink[record["id"]] = record
        open_keys = set(
            DlqEntry.objects.filter(sync=sync, resolved=False).values_list("record_key", flat=True)
        )
        for key, row in current.items():
            assert at_sink.get(key) == row or key in open_keys, key
        # The state holds exactly the keys the destination accepted (in some version).
        assert SyncState.objects.get(sync=sync).row_count == len(at_sink)


def _current_rows(warehouse):
    import duckdb

    with duckdb.connect(str(warehouse.path), read_only=True) as con:
        rows = con.execute("SELECT id, email, score FROM customers").fetchall()
    return [{"id": i, "email": e, "score": s} for i, e, s in rows]


def test_batches_have_exactly_the_configured_size(http_sync, warehouse):
    warehouse.execute("""
        INSERT INTO customers SELECT printf('C%05d', i), 'u' || i || '@example.com', 'N', 1,
               TIMESTAMP '2026-01-01' FROM range(251, 40001) t(i)
    """)
    with HttpSink() as sink:
        run = run_now(http_sync(sink, batch_size=1000))
    sizes = [len(orjson.loads(r.body)["records"]) for r in sink.request_log]
    assert run.rows_written == 40000 and sorted(sizes) == [1000] * 40
