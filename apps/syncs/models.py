from __future__ import annotations

from django.conf import settings
from django.db import models

from apps.accounts.models import Workspace
from apps.connections.models import Connection
from apps.core.fields import PrefixedIdField
from apps.core.models import TimestampedModel


class SyncMode(models.TextChoices):
    UPSERT = "upsert", "Upsert"
    INSERT = "insert", "Insert"
    UPDATE = "update", "Update"
    DELETE = "delete", "Delete"
    MIRROR = "mirror", "Mirror"
    # Audiences (ads platforms, Iterable lists): the query's rows are added to / removed from the list.
    ADD = "add", "Add to list"
    REMOVE = "remove", "Remove from list"


class ScheduleType(models.TextChoices):
    MANUAL = "manual", "Manual"
    CRON = "cron", "Cron"


class IncrementalStrategy(models.TextChoices):
    DIFF = "diff", "Diff against accepted rows"
    WATERMARK = "watermark", "Watermark column"
    NONE = "none", "Every row, every run"


class SyncStatus(models.TextChoices):
    HEALTHY = "healthy", "Healthy"
    FAILING = "failing", "Failing"
    PAUSED = "paused", "Paused"


class Sync(TimestampedModel):
    id = PrefixedIdField("retl_sync")
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="syncs")
    name = models.CharField(max_length=200)
    source = models.ForeignKey(
        Connection,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="source_syncs",
        help_text="Warehouse to query; the workspace default when empty.",
    )
    source_query = models.TextField(help_text="SELECT … or semantic:<saved model>")
    destination = models.ForeignKey(Connection, on_delete=models.PROTECT, related_name="destination_syncs")
    object_name = models.CharField(max_length=200)
    field_mappings = models.JSONField(default=list, help_text='[{"source", "destination", "key"}]')
    sync_mode = models.CharField(max_length=32, default=SyncMode.UPSERT)
    schedule_type = models.CharField(max_length=16, choices=ScheduleType.choices, default=ScheduleType.MANUAL)
    schedule_expression = models.CharField(max_length=120, blank=True, default="")
    schedule_timezone = models.CharField(max_length=64, default="UTC")
    incremental_strategy = models.CharField(
        max_length=16, choices=IncrementalStrategy.choices, default=IncrementalStrategy.DIFF
    )
    incremental_column = models.CharField(max_length=200, blank=True, default="")
    enabled = models.BooleanField(default=True)
    status = models.CharField(max_length=16, choices=SyncStatus.choices, default=SyncStatus.HEALTHY)
    failure_threshold = models.FloatField(
        default=0.0, help_text="Share of failed rows (0-1) above which the sync counts as failing."
    )
    next_run_at = models.DateTimeField(null=True, blank=True)
    last_run = models.ForeignKey(
        "runs.SyncRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    deleted_at = models.DateTimeField(
        null=True, blank=True, help_text="Deleted syncs keep their runs and DLQ entries readable."
    )

    class Meta:
        indexes = [
            models.Index(fields=["workspace", "deleted_at", "id"], name="sync_ws_list"),
            models.Index(fields=["workspace", "destination", "id"], name="sync_ws_destination"),
            models.Index(fields=["workspace", "enabled", "id"], name="sync_ws_enabled"),
            # The scheduler tick: due, enabled, scheduled syncs.
            models.Index(fields=["enabled", "schedule_type", "next_run_at"], name="sync_due"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(schedule_type="manual") | ~models.Q(schedule_expression=""),
                name="sync_cron_needs_expression",
            ),
            models.CheckConstraint(
                condition=models.Q(failure_threshold__gte=0, failure_threshold__lte=1),
                name="sync_failure_threshold_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def schedule(self) -> dict[str, str]:
        if self.schedule_type == ScheduleType.MANUAL:
            return {"type": "manual"}
        return {"type": "cron", "expression": self.schedule_expression, "timezone": self.schedule_timezone}

    @property
    def incremental(self) -> dict[str, str]:
        if self.incremental_strategy == IncrementalStrategy.WATERMARK:
            return {"strategy": "watermark", "column": self.incremental_column}
        return {"strategy": self.incremental_strategy}


class SyncState(models.Model):
    """Bookkeeping of a sync's change-detection state.

    The state itself ({key -> row hash} of rows the destination ACCEPTED) is large and lives in a
    state store (files under var/ embedded, shared storage otherwise); this row says which
    configuration it belongs to, where it is, and how far it has advanced. A different
    ``fingerprint`` (query, mappings, object or mode changed) means the state is void.
    """

    sync = models.OneToOneField(Sync, on_delete=models.CASCADE, primary_key=True, related_name="state")
    fingerprint = models.CharField(max_length=64, blank=True, default="")
    backend = models.CharField(max_length=32, default="file")
    location = models.CharField(max_length=500, blank=True, default="")
    version = models.PositiveBigIntegerField(default=0, help_text="Advances once per committed batch.")
    row_count = models.PositiveBigIntegerField(default=0)
    watermark_value = models.CharField(max_length=200, blank=True, default="")
    last_committed_run = models.ForeignKey(
        "runs.SyncRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"state of {self.sync_id} v{self.version}"


class SyncStateRow(models.Model):
    """One row of a sync's accepted state, for the shared (database) state store.

    Used when workers do not share a disk (PostgreSQL deployments). The embedded default keeps
    the same rows in a DuckDB file per sync under var/state/ instead.
    """

    # No index of its own: the unique (sync, key) index serves every lookup by sync, and each index
    # is one more write per row a batch upserts.
    sync = models.ForeignKey(Sync, on_delete=models.CASCADE, related_name="state_rows", db_index=False)
    key = models.CharField(max_length=500)
    row_hash = models.CharField(max_length=32)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["sync", "key"], name="state_row_unique_key")]

    def __str__(self) -> str:
        return f"{self.sync_id}:{self.key}"


class SyncBatchIntent(models.Model):
    """A batch about to be sent, for the shared (database) state store.

    Written before the request and deleted once its outcome is committed. One left behind means
    its worker died with the batch in flight: the next run sends exactly that batch again, with
    the same Idempotency-Key, before anything else.
    """

    sync = models.ForeignKey(Sync, on_delete=models.CASCADE, related_name="batch_intents")
    batch_key = models.CharField(max_length=64)
    mode = models.CharField(max_length=16)
    keys = models.JSONField(default=list)
    hashes = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["sync", "batch_key"], name="batch_intent_unique_key")]

    def __str__(self) -> str:
        return f"{self.sync_id}:{self.batch_key}"
