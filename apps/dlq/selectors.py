"""Reads of the dead letter queue."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, Min, Q
from django.utils import timezone

from apps.core.timefmt import iso
from apps.dlq.models import DlqEntry
from apps.syncs.models import Sync


def dlq_stats(
    *, workspace_id: str, sync_id: str | None = None, since: dt.datetime | None = None
) -> dict[str, Any]:
    """Counts for monitoring. Every count covers entries failed at or after ``since`` (all when
    omitted); the breakdowns by error code and by sync count open entries, the ones to act on."""
    entries = DlqEntry.objects.filter(workspace_id=workspace_id)
    if sync_id:
        entries = entries.filter(sync_id=sync_id)
    if since is not None:
        entries = entries.filter(failed_at__gte=since)
    totals = entries.aggregate(
        total=Count("id"),
        open=Count("id", filter=Q(resolved=False)),
        oldest_open=Min("failed_at", filter=Q(resolved=False)),
    )
    open_entries = entries.filter(resolved=False)
    by_code = open_entries.values("error_code").annotate(count=Count("id")).order_by("-count", "error_code")
    by_sync = list(open_entries.values("sync_id").annotate(count=Count("id")).order_by("-count", "sync_id"))
    names = dict(Sync.objects.filter(pk__in=[r["sync_id"] for r in by_sync]).values_list("id", "name"))
    return {
        "open_entries": totals["open"],
        "resolved_entries": totals["total"] - totals["open"],
        "total_entries": totals["total"],
        "by_error_code": [{"error_code": r["error_code"], "count": r["count"]} for r in by_code],
        "by_sync": [
            {"sync_id": r["sync_id"], "name": names.get(r["sync_id"], ""), "count": r["count"]}
            for r in by_sync
        ],
        "oldest_open_failed_at": iso(totals["oldest_open"]),
        "window": {"since": iso(since), "until": iso(timezone.now())},
    }
