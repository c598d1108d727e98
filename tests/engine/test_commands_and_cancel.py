"""`manage.py run_sync` (real run and --dry-run) and canceling a run in flight."""

import io
import threading
import time

import orjson
import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from apps.runs.models import SyncRun
from apps.runs.services import RunNotCancelable, run_cancel, run_enqueue
from tests.engine.conftest import run_now
from tests.fakes.http_sink import Fault, HttpSink

pytestmark = pytest.mark.django_db


def test_dry_run_plans_without_writing(make_sync, crm, warehouse):
    warehouse.execute("UPDATE customers SET email = 'nope' WHERE id = 'C0002'")
    sync = make_sync()
    out = io.StringIO()
    call_command("run_sync", sync.id, "--dry-run", "--samples", "2", stdout=out)
    preview = orjson.loads(out.getvalue())
    assert preview["rows_read"] == 250 and preview["rows_to_add"] == 249 and preview["rows_invalid"] == 1
    assert preview["invalid_samples"][0]["record_key"] == "C0002"
    assert preview["invalid_samples"][0]["message"] == "Email address 'nope' is invalid"
    assert len(preview["sample_payloads"]) == 2 and "external_id" in preview["sample_payloads"][0]
    assert crm.store.count("contacts") == 0 and not SyncRun.objects.exists()
    # after a real run, the preview sees the accepted state
    out = io.StringIO()
    call_command("run_sync", sync.id, stdout=out)
    assert "partially_succeeded" in out.getvalue() and crm.store.count("contacts") == 249
    out = io.StringIO()
    call_command("run_sync", sync.id, "--dry-run", stdout=out)
    assert orjson.loads(out.getvalue())["rows_unchanged"] == 249


def test_run_sync_command_errors(make_sync):
    with pytest.raises(CommandError, match="No sync"):
        call_command("run_sync", "retl_sync_nope", stdout=io.StringIO())
    sync = make_sync()
    run_enqueue(sync=sync, trigger="api", dispatch=False)
    with pytest.raises(CommandError, match="already has an active run"):
        call_command("run_sync", sync.id, stdout=io.StringIO())


@pytest.mark.django_db(transaction=True)  # the canceller thread has its own connection
def test_cancel_stops_a_running_run_after_its_batches_in_flight(http_sync, settings):
    # 25 batches of 10 at 0.3 s each, 4 at a time: ~2 s, long enough for the run to notice
    # (it reads the cancel flag with its progress, at most once a second).
    with HttpSink(faults=lambda n, records: Fault(delay=0.3)) as sink:
        sync = http_sync(sink, batch_size=10)

        def cancel_soon():
            deadline = time.monotonic() + 10
            while sink.requests < 3 and time.monotonic() < deadline:
                time.sleep(0.01)
            run_cancel(run=SyncRun.objects.get(sync=sync))
            connection.close()

        canceller = threading.Thread(target=cancel_soon)
        canceller.start()
        run = run_now(sync)
        canceller.join()
    assert run.status == "canceled" and run.error_code == "canceled"
    assert 0 < run.rows_written < 250
    assert run.rows_written == sink.record_count  # every batch sent was committed
    with pytest.raises(RunNotCancelable):
        run_cancel(run=run)


def test_cancel_a_queued_run_at_once(make_sync):
    run, _ = run_enqueue(sync=make_sync(), trigger="api", dispatch=False)
    assert run_cancel(run=run).status == "canceled"
