"""The scheduler tick: the one periodic task that drives every sync schedule.

Celery beat sends ``syncs.scheduler_tick`` every SYNCLINE_TICK_SECONDS. Each tick:
1. gives enabled cron syncs without a ``next_run_at`` their next fire time;
2. enqueues the syncs that are due, under row locks (``SKIP LOCKED`` on PostgreSQL; SQLite
   serialises writers), and moves their ``next_run_at`` past now — so two ticks running at once
   never enqueue the same run, and a missed window is not replayed as a storm of runs;
3. fails running runs whose worker stopped sending heartbeats.
Manual syncs never run by themselves; paused (disabled) syncs are skipped.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from croniter import croniter
from django.db import connection, transaction
from django.utils import timezone

from apps.runs.models import RunTrigger
from apps.runs.services import run_enqueue, runs_sweep_stale
from apps.syncs.models import ScheduleType, Sync

DUE_PER_TICK = 200


@dataclass
class TickResult:
    scheduled: int = 0
    enqueued: list[str] = field(default_factory=list)
    deduplicated: list[str] = field(default_factory=list)
    swept: list[str] = field(default_factory=list)


def next_fire_time(expression: str, tz_name: str, after: dt.datetime) -> dt.datetime:
    """The next time the 5-field cron ``expression`` fires in ``tz_name``, strictly after ``after``."""
    local_after = after.astimezone(ZoneInfo(tz_name))
    return croniter(expression, local_after).get_next(dt.datetime).astimezone(dt.UTC)


def _scheduled() -> object:
    return Sync.objects.filter(enabled=True, deleted_at=None, schedule_type=ScheduleType.CRON)


def schedule_missing_next_runs(now: dt.datetime | None = None) -> int:
    """Give every enabled cron sync without a ``next_run_at`` its next fire time."""
    now = now or timezone.now()
    updated = 0
    for sync in _scheduled().filter(next_run_at=None).only("id", "schedule_expression", "schedule_timezone"):
        sync.next_run_at = next_fire_time(sync.schedule_expression, sync.schedule_timezone, now)
        sync.save(update_fields=["next_run_at"])
        updated += 1
    return updated


def enqueue_due_syncs(now: dt.datetime | None = None) -> tuple[list[str], list[str]]:
    """Queue a run for every due sync; return (new run ids, syncs whose run was already active)."""
    now = now or timezone.now()
    enqueued: list[str] = []
    deduplicated: list[str] = []
    with transaction.atomic():
        due = _scheduled().filter(next_run_at__lte=now).order_by("next_run_at")
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        for sync in due[:DUE_PER_TICK]:
            run, already_active = run_enqueue(sync=sync, trigger=RunTrigger.SCHEDULE, requested_by="schedule")
            (deduplicated if already_active else enqueued).append(run.id if not already_active else sync.id)
            sync.next_run_at = next_fire_time(sync.schedule_expression, sync.schedule_timezone, now)
            sync.save(update_fields=["next_run_at"])
    return enqueued, deduplicated


def tick(now: dt.datetime | None = None) -> TickResult:
    now = now or timezone.now()
    result = TickResult(scheduled=schedule_missing_next_runs(now))
    result.enqueued, result.deduplicated = enqueue_due_syncs(now)
    result.swept = runs_sweep_stale(now=now)
    return result
