from django.contrib import admin

from apps.syncs.models import Sync, SyncState


@admin.register(Sync)
class SyncAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "workspace",
        "destination",
        "object_name",
        "sync_mode",
        "schedule_type",
        "enabled",
        "status",
        "next_run_at",
        "deleted_at",
    ]
    list_filter = ["enabled", "status", "sync_mode", "schedule_type", "workspace"]
    search_fields = ["name", "id", "object_name"]
    readonly_fields = ["id", "last_run", "next_run_at", "created_at", "updated_at"]
    raw_id_fields = ["source", "destination", "created_by"]


@admin.register(SyncState)
class SyncStateAdmin(admin.ModelAdmin):
    list_display = ["sync", "version", "row_count", "backend", "watermark_value", "updated_at"]
    readonly_fields = [f.name for f in SyncState._meta.fields]
