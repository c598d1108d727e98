"""A worker that dies mid-run loses nothing and sends nothing twice.

Here the death is simulated inside the test process (an exception no handler catches, raised
right after a batch's request and before its commit); test_worker_kill.py does the same with a
real Celery worker and SIGKILL.
"""

from collections import Counter

import pytest

from apps.engine import runner
from apps.runs.models import SyncRun
from apps.runs.services import runs_sweep_stale
from tests.engine.conftest import run_now
from tests.engine.test_http_runs import ROWS
from tests.fakes.http_sink import HttpSink

pytestmark = pytest.mark.django_db


class WorkerDied(BaseException):
    """Not an Exception: nothing in the engine catches it, as nothing survives a SIGKILL."""


@pytest.mark.parametrize("mode", ["upsert", "mirror"])
def test_batches_in_flight_at_death_are_resent_verbatim_and_applied_once(
    http_sync, monkeypatch, settings, mode
):
    original_commit = runner.SyncExecution._commit
    commits = {"n": 0}

    def dying_commit(self, *args, **kwargs):
        commits["n"] += 1
        if commits["n"] == 3:
            raise WorkerDied
        return original_commit(self, *args, **kwargs)

    with HttpSink() as sink:
        sync = http_sync(sink)
        sync.sync_mode = mode
        sync.save()
        monkeypatch.setattr(runner.SyncExecution, "_commit", dying_commit)
        with pytest.raises(WorkerDied):
            run_now(sync)
        monkeypatch.setattr(runner.SyncExecution, "_commit", original_commit)
        dead = SyncRun.objects.get(sync=sync)
        assert dead.status == "running"
        swept = runs_sweep_stale(now=dead.heartbeat_at + __import__("datetime").timedelta(seconds=3600))
        assert swept == [dead.id]

        received_before = sink.record_count
        assert 0 < received_before <= ROWS
        again = run_now(sync)
        assert again.status == "succeeded", again.error_message
        # two batches were committed before the death; the rest is sent now
        assert again.rows_unchanged == 100 and again.rows_added == ROWS - 100
        # the batch whose outcome was lost went out again with the same Idempotency-Key
        assert sink.replays >= 1
    ids = Counter(r["id"] for r in sink.received)
    assert len(ids) == ROWS and max(ids.values()) == 1
