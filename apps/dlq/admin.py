from django.contrib import admin

from apps.dlq.models import DlqEntry


@admin.register(DlqEntry)
class DlqEntryAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "sync",
        "record_key",
        "error_code",
        "destination_status",
        "retryable",
        "failed_at",
        "resolved",
        "resolution_reason",
    ]
    list_filter = ["resolved", "error_code", "retryable", "workspace"]
    search_fields = ["id", "record_key", "error_message"]
    raw_id_fields = ["sync", "run", "destination", "replay_run", "previous_entry"]
    readonly_fields = ["id", "failed_at"]
