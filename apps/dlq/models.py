from __future__ import annotations

from django.db import models

from apps.accounts.models import Workspace
from apps.core.fields import PrefixedIdField


class DlqEntry(models.Model):
    """One record that failed after retries, or failed validation before it was sent."""

    id = PrefixedIdField("dlq")
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="dlq_entries")
    sync = models.ForeignKey("syncs.Sync", on_delete=models.CASCADE, related_name="dlq_entries")
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
    replay_run = models.ForeignKey(
        "runs.SyncRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="replayed_entries"
    )
    previous_entry = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="next_entries",
        help_text="The entry this one re-failed after a replay.",
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
        indexes = [
            # The inbox and the API's filters, newest first, keyset on id.
            models.Index(fields=["workspace", "resolved", "-id"], name="dlq_ws_resolved"),
            models.Index(fields=["workspace", "sync", "resolved", "-id"], name="dlq_ws_sync_resolved"),
            models.Index(fields=["workspace", "error_code", "resolved", "-id"], name="dlq_ws_code_resolved"),
            # Stats windows and "oldest open failure".
            models.Index(fields=["workspace", "failed_at"], name="dlq_ws_failed_at"),
            # Finding a key's open entry when the row finally goes through.
            models.Index(fields=["sync", "record_key", "resolved"], name="dlq_sync_key"),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.error_code} ({self.record_key})"

    @property
    def resolution(self) -> dict[str, str] | None:
        if not self.resolved:
            return None
        return {"reason": self.resolution_reason, "note": self.resolution_note, "by": self.resolved_by}
