"""The scheduler tick: the one periodic task that drives every sync schedule.

Celery beat sends ``syncs.scheduler_tick`` every SYNCLINE_TICK_SECONDS; the tick keeps each
enabled cron sync's ``next_run_at`` current. Enqueueing due runs (under row locks) belongs to the
sync engine and is added with it.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from croniter import croniter
from django.utils import timezone

from apps.syncs.models import ScheduleType, Sync


def next_fire_time(expression: str, tz_name: str, after: dt.datetime) -> dt.datetime:
    """The next time the 5-field cron ``expression`` fires in ``tz_name``, strictly after ``after``."""
    local_after = after.astimezone(ZoneInfo(tz_name))
    return croniter(expression, local_after).get_next(dt.datetime).astimezone(dt.UTC)


def schedule_missing_next_runs(now: dt.datetime | None = None) -> int:
    """Give every enabled cron sync without a ``next_run_at`` its next fire time."""
    now = now or timezone.now()
    pending = Sync.objects.filter(
        enabled=True, deleted_at=None, schedule_type=ScheduleType.CRON, next_run_at=None
    )
    updated = 0
    for sync in pending.only("id", "schedule_expression", "schedule_timezone"):
        sync.next_run_at = next_fire_time(sync.schedule_expression, sync.schedule_timezone, now)
        sync.save(update_fields=["next_run_at"])
        updated += 1
    return updated
