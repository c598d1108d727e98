"""Reads of the dead letter queue."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.db.models import Count, Min, Q, QuerySet, Sum
from django.utils import timezone

from apps.core.timefmt import iso
from apps.dlq.models import DlqDailyCount, DlqEntry, DlqOpenEntry
from apps.syncs.models import Sync

# The field lists of open entries sort and page on: the open mark's copy of the entry id, so
# the marks' (workspace, …, entry) indexes give pages newest first from any cursor.
OPEN_PAGE_KEY = "open_marker__entry_id"


def dlq_entries(
    *, workspace_id: str, resolved: bool, sync_id: str | None = None, error_code: str | None = None
) -> QuerySet[DlqEntry]:
    """Open or resolved entries of a workspace, optionally of one sync and error code.

    Open ones are found through their ``DlqOpenEntry`` rows (sort and page them on
    ``OPEN_PAGE_KEY``), resolved ones through the entries' own indexes (on ``pk``).
    """
    if resolved:
        entries = DlqEntry.objects.filter(workspace_id=workspace_id, resolved=True)
        prefix = ""
    else:
        entries = DlqEntry.objects.filter(open_marker__workspace_id=workspace_id)
        prefix = "open_marker__"
    if sync_id:
        entries = entries.filter(**{f"{prefix}sync_id": sync_id})
    if error_code:
        entries = entries.filter(**{f"{prefix}error_code": error_code})
    return entries


def dlq_stats(
    *, workspace_id: str, sync_id: str | None = None, since: dt.datetime | None = None
) -> dict[str, Any]:
    """Counts for monitoring. Every count covers entries failed at or after ``since`` (all when
    omitted); the breakdowns by error code and by sync count open entries, the ones to act on.

    Whole days come from the daily counters (``apps.dlq.counters``); only the part of ``since``'s
    day after ``since`` is counted from the entries and their open marks, by index range scans
    on failure time.
    """
    counters = DlqDailyCount.objects.filter(workspace_id=workspace_id)
    entries = DlqEntry.objects.filter(workspace_id=workspace_id)
    opened = DlqOpenEntry.objects.filter(workspace_id=workspace_id)
    if sync_id:
        counters = counters.filter(sync_id=sync_id)
        entries = entries.filter(sync_id=sync_id)
        opened = opened.filter(sync_id=sync_id)
    open_counts: dict[tuple[str, str], int] = defaultdict(int)
    resolved_count = 0
    # Days from which the oldest open entry may be looked for (so a sync's range scan does not
    # walk other syncs' older entries); never before ``since``.
    open_from: list[dt.datetime] = []
    if since is not None:
        day_start = _day_start(since)
        counters_from = day_start
        if day_start < since:
            next_day = day_start + dt.timedelta(days=1)
            # ``since`` cuts its day in two; count whichever part is smaller from the entries:
            # the part after it (added to the whole days that follow), or the part before it
            # (taken off that day's counters). Both are index range scans by time.
            if since - day_start < next_day - since:
                sign, window = -1, {"failed_at__gte": day_start, "failed_at__lt": since}
            else:
                sign, window = 1, {"failed_at__gte": since, "failed_at__lt": next_day}
                counters_from = next_day
            partial_open = 0
            for row in (
                opened.filter(**window).values("sync_id", "error_code").annotate(n=Count("*")).order_by()
            ):
                open_counts[(row["sync_id"], row["error_code"])] += sign * row["n"]
                partial_open += row["n"]
            resolved_count += sign * (entries.filter(**window).count() - partial_open)
            if sign > 0 and partial_open:
                open_from.append(since)
        counters = counters.filter(day__gte=counters_from.date())
    for row in (
        counters.values("sync_id", "error_code")
        .annotate(
            open=Sum("open_count"),
            resolved=Sum("resolved_count"),
            first_open=Min("day", filter=Q(open_count__gt=0)),
        )
        .order_by()
    ):
        if row["open"]:
            open_counts[(row["sync_id"], row["error_code"])] += row["open"]
        if row["first_open"] is not None:
            open_from.append(_day_start(row["first_open"]))
        resolved_count += row["resolved"]
    open_counts = {key: n for key, n in open_counts.items() if n}
    oldest_from = max(min(open_from), since) if open_from and since else min(open_from, default=None)
    oldest = None
    if oldest_from is not None:
        oldest = opened.filter(failed_at__gte=oldest_from).aggregate(oldest=Min("failed_at"))["oldest"]
    code_counts: dict[str, int] = defaultdict(int)
    sync_counts: dict[str, int] = defaultdict(int)
    for (sid, code), count in open_counts.items():
        code_counts[code] += count
        sync_counts[sid] += count
    open_count = sum(open_counts.values())
    by_code = sorted(code_counts.items(), key=lambda item: (-item[1], item[0]))
    by_sync = sorted(sync_counts.items(), key=lambda item: (-item[1], item[0]))
    names = dict(Sync.objects.filter(pk__in=list(sync_counts)).values_list("id", "name"))
    return {
        "open_entries": open_count,
        "resolved_entries": resolved_count,
        "total_entries": open_count + resolved_count,
        "by_error_code": [{"error_code": code, "count": count} for code, count in by_code],
        "by_sync": [{"sync_id": sid, "name": names.get(sid, ""), "count": count} for sid, count in by_sync],
        "oldest_open_failed_at": iso(oldest),
        "window": {"since": iso(since), "until": iso(timezone.now())},
    }


def _day_start(moment: dt.datetime | dt.date) -> dt.datetime:
    """Midnight UTC starting the UTC day of ``moment``."""
    day = moment.astimezone(dt.UTC).date() if isinstance(moment, dt.datetime) else moment
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
