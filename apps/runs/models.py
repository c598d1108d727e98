from __future__ import annotations

from django.db import models

from apps.accounts.models import Workspace
from apps.core.fields import PrefixedIdField


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    PARTIALLY_SUCCEEDED = "partially_succeeded", "Partially succeeded"
    FAILED = "failed", "Failed"
    CANCELED = "canceled", "Canceled"


ACTIVE_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING)


class RunTrigger(models.TextChoices):
    SCHEDULE = "schedule", "Schedule"
    MANUAL = "manual", "Manual"
    API = "api", "API"
    REPLAY = "replay", "DLQ replay"


METRIC_FIELDS = (
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
)


class SyncRun(models.Model):
    id = PrefixedIdField("retl_run")
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="runs")
    sync = models.ForeignKey("syncs.Sync", on_delete=models.CASCADE, related_name="runs")
    status = models.CharField(max_length=24, choices=RunStatus.choices, default=RunStatus.QUEUED)
    trigger = models.CharField(max_length=16, choices=RunTrigger.choices)
    full_resync = models.BooleanField(default=False)
    dry_run = models.BooleanField(default=False)
    requested_by = models.CharField(max_length=200, blank=True, default="", help_text="User or API key name.")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    rows_read = models.PositiveBigIntegerField(default=0)
    rows_added = models.PositiveBigIntegerField(default=0)
    rows_changed = models.PositiveBigIntegerField(default=0)
    rows_removed = models.PositiveBigIntegerField(default=0)
    rows_unchanged = models.PositiveBigIntegerField(default=0)
    rows_invalid = models.PositiveBigIntegerField(default=0)
    rows_written = models.PositiveBigIntegerField(default=0)
    rows_failed = models.PositiveBigIntegerField(default=0)
    batches = models.PositiveIntegerField(default=0)
    requests = models.PositiveIntegerField(default=0)

    progress = models.FloatField(default=0.0)
    phase_timings = models.JSONField(default=dict, blank=True, help_text="Seconds per phase.")
    error_code = models.CharField(max_length=64, blank=True, default="")
    error_message = models.TextField(blank=True, default="")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True, default="")
    cancel_requested_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # At most one queued or running run per sync, whatever the number of workers.
            models.UniqueConstraint(
                fields=["sync"],
                condition=models.Q(status__in=["queued", "running"]),
                name="run_one_active_per_sync",
            ),
            models.CheckConstraint(
                condition=models.Q(progress__gte=0, progress__lte=1), name="run_progress_range"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=[s.value for s in RunStatus]), name="run_status_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["workspace", "-id"], name="run_ws_newest"),
            models.Index(fields=["workspace", "sync", "-id"], name="run_ws_sync_newest"),
            models.Index(fields=["workspace", "status", "-id"], name="run_ws_status_newest"),
            models.Index(fields=["status", "heartbeat_at"], name="run_sweeper"),
        ]

    def __str__(self) -> str:
        return f"{self.id} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def metrics(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in METRIC_FIELDS}

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return round((self.finished_at - self.started_at).total_seconds(), 3)
