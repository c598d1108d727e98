"""Run lifecycle: enqueue (deduplicated), claim, heartbeat, finish, cancel, sweep."""

from __future__ import annotations

import datetime as dt
import os
import socket
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.runs.models import ACTIVE_STATUSES, RunStatus, SyncRun
from apps.syncs.models import Sync, SyncStatus

WORKER_LOST = "worker_lost"


class RunNotCancelable(Exception):
    pass


def run_enqueue(
    *, sync: Sync, trigger: str, full_resync: bool = False, requested_by: str = "", dispatch: bool = True
) -> tuple[SyncRun, bool]:
    """Queue a run of ``sync``, or return its active run: (run, deduplicated).

    The partial unique index on active runs makes this safe across any number of processes.
    The task is sent only after the transaction commits, so a worker never looks for a run that
    is not there yet.
    """
    existing = SyncRun.objects.filter(sync=sync, status__in=ACTIVE_STATUSES).first()
    if existing is not None:
        return existing, True
    try:
        with transaction.atomic():
            run = SyncRun.objects.create(
                workspace_id=sync.workspace_id,
                sync=sync,
                trigger=trigger,
                full_resync=full_resync,
                requested_by=requested_by,
            )
            if dispatch:
                transaction.on_commit(lambda: _dispatch(run.id))
    except IntegrityError:
        existing = SyncRun.objects.filter(sync=sync, status__in=ACTIVE_STATUSES).first()
        if existing is None:
            raise
        return existing, True
    return run, False


def _dispatch(run_id: str) -> None:
    from apps.runs.tasks import execute_run

    execute_run.delay(run_id)


def run_claim(*, run_id: str) -> SyncRun | None:
    """Move a queued run to running for this worker; None if another worker has it or it ended."""
    now = timezone.now()
    claimed = SyncRun.objects.filter(pk=run_id, status=RunStatus.QUEUED).update(
        status=RunStatus.RUNNING,
        started_at=now,
        heartbeat_at=now,
        worker=f"{socket.gethostname()}:{os.getpid()}",
    )
    return SyncRun.objects.select_related("sync").get(pk=run_id) if claimed else None


def run_heartbeat(*, run: SyncRun, progress: float, metrics: dict[str, int], phase_timings: dict) -> bool:
    """Record liveness and progress; return True when a cancel was requested."""
    SyncRun.objects.filter(pk=run.pk).update(
        heartbeat_at=timezone.now(),
        progress=min(max(progress, 0.0), 1.0),
        phase_timings=phase_timings,
        **metrics,
    )
    return SyncRun.objects.filter(pk=run.pk, cancel_requested_at__isnull=False).exists()


def run_finish(
    *,
    run: SyncRun,
    status: str,
    metrics: dict[str, int],
    phase_timings: dict,
    error: tuple[str, str] | None = None,
) -> SyncRun:
    values: dict[str, Any] = {
        "status": status,
        "finished_at": timezone.now(),
        "phase_timings": phase_timings,
        "progress": 1.0 if status in (RunStatus.SUCCEEDED, RunStatus.PARTIALLY_SUCCEEDED) else run.progress,
        "error_code": error[0] if error else "",
        "error_message": error[1] if error else "",
        **metrics,
    }
    with transaction.atomic():
        SyncRun.objects.filter(pk=run.pk).update(**values)
        run.refresh_from_db()
        _update_sync_after_run(run)
    return run


def run_makes_sync_failing(run: SyncRun, failure_threshold: float) -> bool:
    """The rule for a sync's ``failing`` status: its last run failed, or the share of its rows to
    write that failed is over the sync's threshold."""
    failed_share = run.rows_failed / max(1, run.rows_added + run.rows_changed + run.rows_removed)
    return run.status == RunStatus.FAILED or bool(run.rows_failed and failed_share > failure_threshold)


def _update_sync_after_run(run: SyncRun) -> None:
    sync = Sync.objects.select_for_update().get(pk=run.sync_id)
    sync.last_run = run
    if not sync.enabled:
        sync.status = SyncStatus.PAUSED
    elif run_makes_sync_failing(run, sync.failure_threshold):
        sync.status = SyncStatus.FAILING
    elif run.status != RunStatus.CANCELED:
        sync.status = SyncStatus.HEALTHY
    sync.save(update_fields=["last_run", "status", "updated_at"])


def run_cancel(*, run: SyncRun) -> SyncRun:
    """Cancel a queued run at once; ask a running one to stop after its current batches."""
    now = timezone.now()
    if SyncRun.objects.filter(pk=run.pk, status=RunStatus.QUEUED).update(
        status=RunStatus.CANCELED,
        finished_at=now,
        cancel_requested_at=now,
        error_code="canceled",
        error_message="Canceled before it started.",
    ):
        run.refresh_from_db()
        return run
    if SyncRun.objects.filter(pk=run.pk, status=RunStatus.RUNNING).update(cancel_requested_at=now):
        run.refresh_from_db()
        return run
    run.refresh_from_db()
    raise RunNotCancelable(f"Run {run.id} has already finished ({run.status}).")


def runs_sweep_stale(*, now: dt.datetime | None = None) -> list[str]:
    """Fail running runs whose worker stopped sending heartbeats (killed, OOM, lost machine).

    Their committed batches stay committed; the next run of the sync continues from there.
    """
    now = now or timezone.now()
    cutoff = now - dt.timedelta(seconds=settings.SYNCLINE_RUN_HEARTBEAT_TIMEOUT)
    stale = list(
        SyncRun.objects.filter(status=RunStatus.RUNNING, heartbeat_at__lt=cutoff).values_list("pk", flat=True)
    )
    for run_id in stale:
        updated = SyncRun.objects.filter(pk=run_id, status=RunStatus.RUNNING, heartbeat_at__lt=cutoff).update(
            status=RunStatus.FAILED,
            finished_at=now,
            error_code=WORKER_LOST,
            error_message="The worker running this sync stopped responding (no heartbeat for "
            f"{settings.SYNCLINE_RUN_HEARTBEAT_TIMEOUT} s). Rows it had committed stay written; "
            "the next run continues from there.",
        )
        if updated:
            with transaction.atomic():
                _update_sync_after_run(SyncRun.objects.get(pk=run_id))
    return stale
