from django.contrib import admin

from apps.runs.models import METRIC_FIELDS, SyncRun


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "sync",
        "status",
        "trigger",
        "created_at",
        "started_at",
        "finished_at",
        "rows_read",
        "rows_written",
        "rows_failed",
    ]
    list_filter = ["status", "trigger", "workspace"]
    search_fields = ["id", "sync__id", "sync__name"]
    raw_id_fields = ["sync"]
    readonly_fields = ["id", "created_at", "heartbeat_at", "progress", "phase_timings", *METRIC_FIELDS]
