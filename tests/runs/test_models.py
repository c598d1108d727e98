import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.connections.services import connection_create
from apps.dlq.models import DlqEntry
from apps.runs.models import RunStatus, SyncRun
from apps.syncs.models import Sync

pytestmark = pytest.mark.django_db


@pytest.fixture
def sync(workspace, sandbox_path):
    dest = connection_create(
        workspace=workspace,
        role="destination",
        connector_type="sandbox",
        name="crm",
        config={"path": sandbox_path},
    )
    return Sync.objects.create(
        workspace=workspace,
        name="s",
        source_query="SELECT 1 AS id",
        destination=dest,
        object_name="contacts",
        field_mappings=[{"source": "id", "destination": "external_id", "key": True}],
    )


def test_ids_have_contract_prefixes(sync):
    run = SyncRun.objects.create(workspace=sync.workspace, sync=sync, trigger="manual")
    assert sync.id.startswith("retl_sync_") and run.id.startswith("retl_run_")
    assert sync.destination.id.startswith("conn_")


def test_at_most_one_active_run_per_sync(sync):
    SyncRun.objects.create(workspace=sync.workspace, sync=sync, trigger="manual")
    with pytest.raises(IntegrityError), transaction.atomic():
        SyncRun.objects.create(workspace=sync.workspace, sync=sync, trigger="api", status=RunStatus.RUNNING)
    # finished runs do not count
    SyncRun.objects.filter(sync=sync).update(status=RunStatus.SUCCEEDED)
    SyncRun.objects.create(workspace=sync.workspace, sync=sync, trigger="api")
    assert SyncRun.objects.filter(sync=sync).count() == 2


def test_progress_and_status_are_constrained(sync):
    with pytest.raises(IntegrityError), transaction.atomic():
        SyncRun.objects.create(workspace=sync.workspace, sync=sync, trigger="manual", progress=1.5)
    with pytest.raises(IntegrityError), transaction.atomic():
        SyncRun.objects.create(workspace=sync.workspace, sync=sync, trigger="manual", status="exploded")


def test_cron_schedule_needs_an_expression(sync):
    sync.schedule_type = "cron"
    with pytest.raises(IntegrityError), transaction.atomic():
        sync.save()


def test_run_metrics_and_duration(sync):
    started = timezone.now()
    run = SyncRun.objects.create(
        workspace=sync.workspace,
        sync=sync,
        trigger="manual",
        rows_read=10,
        rows_written=7,
        started_at=started,
        finished_at=started + timezone.timedelta(seconds=2.5),
    )
    assert run.metrics["rows_read"] == 10 and run.metrics["rows_written"] == 7
    assert set(run.metrics) == {
        "rows_read",
        "rows_added",
        "rows_changed",
        "rows_removed",
        "rows_unchanged",
        "rows_invalid",
        "rows_written",
        "rows_failed",
        "batches",
        "requests",
    }
    assert run.duration_seconds == 2.5


def test_dlq_resolution_needs_a_timestamp(sync):
    run = SyncRun.objects.create(workspace=sync.workspace, sync=sync, trigger="manual")
    entry = DlqEntry.objects.create(
        workspace=sync.workspace,
        sync=sync,
        run=run,
        destination=sync.destination,
        object_name="contacts",
        record_key="CUS-1",
        error_code="invalid_field_value",
        error_message="Email address 'x' is invalid",
        failed_at=timezone.now(),
    )
    assert entry.id.startswith("dlq_") and entry.resolution is None
    with pytest.raises(IntegrityError), transaction.atomic():
        DlqEntry.objects.filter(pk=entry.pk).update(resolved=True)
    DlqEntry.objects.filter(pk=entry.pk).update(
        resolved=True, resolved_at=timezone.now(), resolution_reason="skipped", resolved_by="ada"
    )
    entry.refresh_from_db()
    assert entry.resolution == {"reason": "skipped", "note": "", "by": "ada"}


def test_sync_schedule_and_incremental_views(sync):
    assert sync.schedule == {"type": "manual"}
    assert sync.incremental == {"strategy": "diff"}
    sync.schedule_type, sync.schedule_expression, sync.schedule_timezone = (
        "cron",
        "15 */4 * * *",
        "Europe/Paris",
    )
    sync.incremental_strategy, sync.incremental_column = "watermark", "updated_at"
    assert sync.schedule == {"type": "cron", "expression": "15 */4 * * *", "timezone": "Europe/Paris"}
    assert sync.incremental == {"strategy": "watermark", "column": "updated_at"}
