"""Use cases for syncs: create, update, delete, toggle and run on demand."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.accounts.models import Workspace
from apps.audit.services import audit_record
from apps.runs.models import RunTrigger, SyncRun
from apps.runs.services import run_enqueue, run_makes_sync_failing
from apps.syncs.models import ScheduleType, Sync, SyncStatus
from apps.syncs.scheduler import next_fire_time
from apps.syncs.validation import sync_validate

SCHEDULE_FIELDS = ("schedule_type", "schedule_expression", "schedule_timezone", "enabled")


def sync_create(*, workspace: Workspace, data: Mapping[str, Any], actor: str) -> Sync:
    """Validate ``data`` (raises SyncValidationError) and store the sync.

    ``actor`` names who asked (a user or an API key), for the audit log.
    """
    values = sync_validate(workspace=workspace, data=data)
    sync = Sync(workspace=workspace, **values.as_model_fields())
    sync.status = SyncStatus.HEALTHY if sync.enabled else SyncStatus.PAUSED
    sync.next_run_at = _next_run_at(sync)
    with transaction.atomic():
        sync.save()
        _audit(sync, actor, "sync.created", {"name": sync.name})
    return sync


def sync_update(*, sync: Sync, data: Mapping[str, Any], actor: str) -> Sync:
    """Apply a partial update, validated as the merged whole.

    A new query, source, mapping, object, mode or strategy needs no reset here: the engine keys
    the change-detection state by a fingerprint of those, so the next run is a full one by itself.
    """
    values = sync_validate(workspace=sync.workspace, data=data, current=sync)
    with transaction.atomic():
        sync = Sync.objects.select_for_update(of=("self",)).select_related("last_run").get(pk=sync.pk)
        before = {name: getattr(sync, name) for name in SCHEDULE_FIELDS}
        enabled_before = sync.enabled
        for name, value in values.as_model_fields().items():
            setattr(sync, name, value)
        if any(getattr(sync, name) != value for name, value in before.items()):
            # The old fire time belongs to the old schedule; the tick would fill a missing one,
            # computing it now shows it in the response at once.
            sync.next_run_at = _next_run_at(sync)
        if sync.enabled != enabled_before:
            sync.status = _status_when(sync)
        sync.save()
        _audit(sync, actor, "sync.updated", {"fields": sorted(data)})
    return sync


def sync_delete(*, sync: Sync, actor: str = "") -> None:
    """Soft delete: the sync leaves lists and the scheduler; its runs and DLQ entries stay readable.

    A queued or running run is left to finish: cutting it off mid-batch would leave the
    destination in a state no later run would know about.
    """
    now = timezone.now()
    with transaction.atomic():
        if Sync.objects.filter(pk=sync.pk, deleted_at=None).update(
            deleted_at=now, next_run_at=None, updated_at=now
        ):
            _audit(sync, actor, "sync.deleted", {"name": sync.name})
    sync.refresh_from_db()


def sync_toggle(*, sync: Sync, enabled: bool, actor: str = "") -> Sync:
    """Enable or pause a sync. Pausing stops future scheduled runs; a running run finishes."""
    with transaction.atomic():
        sync = Sync.objects.select_for_update(of=("self",)).select_related("last_run").get(pk=sync.pk)
        if sync.enabled == enabled:
            return sync
        sync.enabled = enabled
        sync.status = _status_when(sync)
        sync.next_run_at = _next_run_at(sync)
        sync.save(update_fields=["enabled", "status", "next_run_at", "updated_at"])
        _audit(sync, actor, "sync.enabled" if enabled else "sync.paused", {})
    return sync


def sync_run(*, syncs: list[Sync], full_resync: bool, requested_by: str) -> list[tuple[SyncRun, bool]]:
    """Queue one run per sync, or hand back its active run: [(run, deduplicated)].

    A paused sync still runs when asked: pausing stops the schedule, not the user.
    """
    with transaction.atomic():  # the workers are told only once every run is stored
        results = []
        for sync in syncs:
            run, deduplicated = run_enqueue(
                sync=sync, trigger=RunTrigger.API, full_resync=full_resync, requested_by=requested_by
            )
            if not deduplicated:
                _audit(sync, requested_by, "sync.run", {"run_id": run.id, "full_resync": full_resync})
            results.append((run, deduplicated))
        return results


def _audit(sync: Sync, actor: str, action: str, details: dict[str, Any]) -> None:
    audit_record(
        workspace_id=sync.workspace_id,
        actor=actor,
        action=action,
        object_type="sync",
        object_id=sync.id,
        details=details,
    )


def _next_run_at(sync: Sync) -> dt.datetime | None:
    if not sync.enabled or sync.schedule_type != ScheduleType.CRON:
        return None
    return next_fire_time(sync.schedule_expression, sync.schedule_timezone, timezone.now())


def _status_when(sync: Sync) -> str:
    """The status a sync takes when it is enabled or paused.

    A re-enabled sync is failing if its last run was, by the rule a finishing run applies.
    """
    if not sync.enabled:
        return SyncStatus.PAUSED
    if sync.last_run is not None and run_makes_sync_failing(sync.last_run, sync.failure_threshold):
        return SyncStatus.FAILING
    return SyncStatus.HEALTHY
