"""Reads of the dead letter queue."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.db.models import Count, Min
from django.utils import timezone

from apps.core.timefmt import iso
from apps.dlq.models import DlqEntry
from apps.syncs.models import Sync


def dlq_stats(
    *, workspace_id: str, sync_id: str | None = None, since: dt.datetime | None = None
) -> dict[str, Any]:
    """Counts for monitoring. Every count covers entries failed at or after ``since`` (all when
    omitted); the breakdowns by error code and by sync count open entries, the ones to act on."""
    # Two index-only scans (dlq_stats_open, dlq_stats_resolved) instead of four passes over the
    # table: open entries grouped by (sync, error code), from which every open figure follows, and
    # a count of the resolved ones. count(*), not count(id): the id is not in those indexes.
    entries = DlqEntry.objects.filter(workspace_id=workspace_id)
    if sync_id:
        entries = entries.filter(sync_id=sync_id)
    if since is not None:
        entries = entries.filter(failed_at__gte=since)
    groups = list(
        entries.filter(resolved=False)
        .values("sync_id", "error_code")
        .annotate(count=Count("*"), oldest=Min("failed_at"))
        .order_by()
    )
    resolved_count = entries.filter(resolved=True).count()
    open_count = sum(g["count"] for g in groups)
    code_counts: dict[str, int] = defaultdict(int)
    sync_counts: dict[str, int] = defaultdict(int)
    for g in groups:
        code_counts[g["error_code"]] += g["count"]
        sync_counts[g["sync_id"]] += g["count"]
    by_code = sorted(code_counts.items(), key=lambda item: (-item[1], item[0]))
    by_sync = sorted(sync_counts.items(), key=lambda item: (-item[1], item[0]))
    names = dict(Sync.objects.filter(pk__in=list(sync_counts)).values_list("id", "name"))
    return {
        "open_entries": open_count,
        "resolved_entries": resolved_count,
        "total_entries": open_count + resolved_count,
        "by_error_code": [{"error_code": code, "count": count} for code, count in by_code],
        "by_sync": [{"sync_id": sid, "name": names.get(sid, ""), "count": count} for sid, count in by_sync],
        "oldest_open_failed_at": iso(min((g["oldest"] for g in groups), default=None)),
        "window": {"since": iso(since), "until": iso(timezone.now())},
    }
