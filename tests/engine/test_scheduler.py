import datetime as dt

import pytest

from apps.connections.services import connection_create
from apps.syncs.models import Sync
from apps.syncs.scheduler import next_fire_time, schedule_missing_next_runs


def test_next_fire_time_respects_the_time_zone():
    after = dt.datetime(2026, 3, 28, 12, 0, tzinfo=dt.UTC)
    # 09:00 in Paris is 08:00 UTC before the DST switch (29 March 2026) and 07:00 UTC after.
    assert next_fire_time("0 9 * * *", "Europe/Paris", after) == dt.datetime(2026, 3, 29, 7, 0, tzinfo=dt.UTC)
    assert next_fire_time("0 9 * * *", "UTC", after) == dt.datetime(2026, 3, 29, 9, 0, tzinfo=dt.UTC)


@pytest.mark.django_db
def test_tick_schedules_enabled_cron_syncs_only(workspace, sandbox_path, engine_var):
    dest = connection_create(
        workspace=workspace,
        role="destination",
        connector_type="sandbox",
        name="crm",
        config={"path": sandbox_path},
    )
    common = {
        "workspace": workspace,
        "source_query": "SELECT 1 AS id",
        "destination": dest,
        "object_name": "contacts",
    }
    cron = Sync.objects.create(name="cron", schedule_type="cron", schedule_expression="*/5 * * * *", **common)
    paused = Sync.objects.create(
        name="paused", schedule_type="cron", schedule_expression="*/5 * * * *", enabled=False, **common
    )
    manual = Sync.objects.create(name="manual", **common)
    now = dt.datetime(2026, 11, 26, 10, 2, tzinfo=dt.UTC)
    assert schedule_missing_next_runs(now) == 1
    for s in (cron, paused, manual):
        s.refresh_from_db()
    assert cron.next_run_at == dt.datetime(2026, 11, 26, 10, 5, tzinfo=dt.UTC)
    assert paused.next_run_at is None and manual.next_run_at is None


@pytest.mark.django_db
def test_tick_enqueues_due_syncs_once_and_moves_next_run(make_sync, django_capture_on_commit_callbacks):
    from apps.runs.models import SyncRun
    from apps.syncs.scheduler import tick

    now = dt.datetime(2026, 11, 26, 10, 2, tzinfo=dt.UTC)
    due = make_sync(
        name="due",
        schedule_type="cron",
        schedule_expression="*/5 * * * *",
        next_run_at=now - dt.timedelta(minutes=1),
    )
    paused = make_sync(
        name="paused",
        schedule_type="cron",
        schedule_expression="*/5 * * * *",
        enabled=False,
        next_run_at=now - dt.timedelta(minutes=1),
    )
    later = make_sync(
        name="later",
        schedule_type="cron",
        schedule_expression="*/5 * * * *",
        next_run_at=now + dt.timedelta(minutes=30),
    )
    manual = make_sync(name="manual")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        result = tick(now)
    assert len(result.enqueued) == 1 and len(callbacks) == 1  # the task is sent after commit
    run = SyncRun.objects.get()
    assert run.sync_id == due.id and run.trigger == "schedule" and run.status == "queued"
    due.refresh_from_db()
    assert due.next_run_at == dt.datetime(2026, 11, 26, 10, 5, tzinfo=dt.UTC)
    # a second tick at the same moment finds nothing due
    assert tick(now).enqueued == []
    # when due again while the first run is still queued, no second run is created
    result = tick(now + dt.timedelta(minutes=4))
    assert result.enqueued == [] and result.deduplicated == [due.id]
    assert SyncRun.objects.count() == 1
    for s in (paused, later, manual):
        assert not SyncRun.objects.filter(sync=s).exists()


@pytest.mark.django_db
def test_sweeper_fails_runs_whose_worker_went_silent(make_sync, settings):
    from apps.runs.models import SyncRun
    from apps.runs.services import run_claim, run_enqueue
    from apps.syncs.scheduler import tick

    settings.SYNCLINE_RUN_HEARTBEAT_TIMEOUT = 90
    sync = make_sync()
    run, _ = run_enqueue(sync=sync, trigger="manual", dispatch=False)
    run_claim(run_id=run.id)
    SyncRun.objects.filter(pk=run.pk).update(heartbeat_at=dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC))
    assert tick(dt.datetime(2026, 1, 1, 12, 1, tzinfo=dt.UTC)).swept == []  # 60 s: still alive
    assert tick(dt.datetime(2026, 1, 1, 12, 2, tzinfo=dt.UTC)).swept == [run.id]
    run.refresh_from_db()
    assert run.status == "failed" and run.error_code == "worker_lost"
    # the sync can run again at once
    again, deduplicated = run_enqueue(sync=sync, trigger="manual", dispatch=False)
    assert not deduplicated and again.id != run.id
