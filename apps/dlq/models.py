from __future__ import annotations

from django.db import models

from apps.accounts.models import Workspace
from apps.core.fields import PrefixedIdField


class DlqEntry(models.Model):
    """One record that failed after retries, or failed validation before it was sent."""

    id = PrefixedIdField("dlq")
    # No single-column indexes on workspace and sync: the composite indexes below lead with them,
    # and every index is one more write per entry resolved (10,000 per API call).
    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="dlq_entries", db_index=False
    )
    sync = models.ForeignKey(
        "syncs.Sync", on_delete=models.CASCADE, related_name="dlq_entries", db_index=False
    )
    run = models.ForeignKey("runs.SyncRun", on_delete=models.CASCADE, related_name="dlq_entries")
    destination = models.ForeignKey("connections.Connection", on_delete=models.PROTECT, related_name="+")
    object_name = models.CharField(max_length=200)
    # NULL (not "") for rows whose key was null: they must stay distinguishable from an empty key.
    record_key = models.CharField(max_length=500, null=True, blank=True)  # noqa: DJ001
    error_code = models.CharField(max_length=64)
    error_message = models.TextField()
    destination_status = models.PositiveSmallIntegerField(null=True, blank=True)
    retryable = models.BooleanField(default=False)
    retry_count = models.PositiveIntegerField(default=0)
    failed_at = models.DateTimeField()
    row_preview = models.JSONField(default=dict, blank=True)
    payload = models.JSONField(default=dict, blank=True)

    resolved = models.BooleanField(default=False)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_reason = models.CharField(max_length=64, blank=True, default="")
    resolution_note = models.TextField(blank=True, default="")
    resolved_by = models.CharField(max_length=200, blank=True, default="")
    # Not indexed: set when an entry is resolved with replay, which must stay a HOT update. A
    # replay run finds its entries among its sync's (runner._replay_keys).
    replay_run = models.ForeignKey(
        "runs.SyncRun",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="replayed_entries",
        db_index=False,
    )
    previous_entry = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="next_entries",
        help_text="The entry this one re-failed after a replay.",
        db_index=False,
    )

    class Meta:
        verbose_name = "DLQ entry"
        verbose_name_plural = "DLQ entries"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(resolved=False, resolved_at__isnull=True)
                | models.Q(resolved=True, resolved_at__isnull=False),
                name="dlq_resolved_has_timestamp",
            ),
        ]
        # No index covers the resolution columns (resolved, resolved_at, reason, note, by): a
        # resolve then changes no indexed column, and with room on the page (fillfactor 80,
        # migration 0009) PostgreSQL writes the new row version in place — a HOT update, no
        # index touched. Which entries are open is kept in DlqOpenEntry instead.
        indexes = [
            # Lists of resolved entries (open ones come from DlqOpenEntry), newest first.
            models.Index(fields=["workspace", "-id"], name="dlq_ws"),
            models.Index(fields=["workspace", "sync", "-id"], name="dlq_ws_sync"),
            models.Index(fields=["workspace", "error_code", "-id"], name="dlq_ws_code"),
            # dlq_stats: all entries of the partial first day of a ``since`` window, by time.
            models.Index(fields=["workspace", "failed_at", "sync", "error_code"], name="dlq_by_time"),
            models.Index(
                fields=["previous_entry"],
                condition=models.Q(previous_entry__isnull=False),
                name="dlq_previous_entry",
            ),
            # Finding a key's open entry when the row fails again or finally goes through.
            models.Index(fields=["sync", "record_key"], name="dlq_sync_key"),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.error_code} ({self.record_key})"

    @property
    def resolution(self) -> dict[str, str] | None:
        if not self.resolved:
            return None
        return {"reason": self.resolution_reason, "note": self.resolution_note, "by": self.resolved_by}


class DlqOpenEntry(models.Model):
    """One row per open DLQ entry, with what the open lists and stats filter and sort on.

    Resolving an entry deletes its row here (a delete touches no index in PostgreSQL) and updates
    the entry in place, instead of rewriting the entry in every index that would otherwise have
    to tell open from resolved — 10,000 entries per API call. Kept in step with
    ``DlqEntry.resolved`` by every DLQ write (``apps.dlq.open_entries``), in the same transaction.
    """

    entry = models.OneToOneField(
        DlqEntry, on_delete=models.CASCADE, primary_key=True, related_name="open_marker"
    )
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    sync = models.ForeignKey("syncs.Sync", on_delete=models.CASCADE, related_name="+", db_index=False)
    error_code = models.CharField(max_length=64)
    failed_at = models.DateTimeField()

    class Meta:
        verbose_name = "open DLQ entry"
        indexes = [
            # The inbox and the API's open lists, newest first, keyset on the entry id.
            models.Index(fields=["workspace", "-entry"], name="dlq_open_ws"),
            models.Index(fields=["workspace", "sync", "-entry"], name="dlq_open_ws_sync"),
            models.Index(fields=["workspace", "error_code", "-entry"], name="dlq_open_ws_code"),
            # dlq_stats: open entries of a partial first day, and the oldest open entry.
            models.Index(fields=["workspace", "failed_at", "sync", "error_code"], name="dlq_open_time"),
        ]

    def __str__(self) -> str:
        return f"open {self.entry_id}"


class DlqDailyCount(models.Model):
    """Entries that failed on one UTC day, per sync and error code: open and resolved.

    Kept in step with the entries by every DLQ write (see ``apps.dlq.counters``), so stats over a
    whole workspace read a few thousand rows instead of counting a million entries.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    sync = models.ForeignKey("syncs.Sync", on_delete=models.CASCADE, related_name="+")
    error_code = models.CharField(max_length=64)
    day = models.DateField()
    open_count = models.IntegerField(default=0)
    resolved_count = models.IntegerField(default=0)

    class Meta:
        verbose_name = "DLQ daily count"
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "sync", "error_code", "day"], name="dlq_daily_count_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.sync_id} {self.error_code}: {self.open_count} open"
