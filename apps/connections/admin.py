from django.contrib import admin
from django.utils.html import format_html_join

from apps.connections.models import Connection, SavedModel


@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin):
    """Secrets are encrypted and never rendered: only the names of the secrets that are set show."""

    list_display = ["name", "role", "connector_type", "workspace", "is_default", "status", "created_at"]
    list_filter = ["role", "connector_type", "status", "workspace"]
    search_fields = ["name", "id"]
    fields = [
        "id",
        "workspace",
        "role",
        "connector_type",
        "name",
        "config",
        "secrets_set",
        "is_default",
        "status",
        "status_message",
        "checked_at",
        "created_at",
        "updated_at",
    ]
    readonly_fields = [
        "id",
        "secrets_set",
        "status",
        "status_message",
        "checked_at",
        "created_at",
        "updated_at",
    ]

    @admin.display(description="Secrets (write-only)")
    def secrets_set(self, obj: Connection) -> str:
        names = obj.secret_fields_set
        if not names:
            return "none"
        return format_html_join(", ", "{} ••••••", ((n,) for n in names))


@admin.register(SavedModel)
class SavedModelAdmin(admin.ModelAdmin):
    list_display = ["name", "workspace", "primary_key", "updated_at"]
    list_filter = ["workspace"]
    search_fields = ["name"]
