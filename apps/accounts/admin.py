from django.contrib import admin

from apps.accounts.models import ApiKey, Membership, Workspace


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "created_at"]
    search_fields = ["slug", "name"]
    readonly_fields = ["id", "created_at"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "workspace", "role", "created_at"]
    list_filter = ["role", "workspace"]
    search_fields = ["user__username", "workspace__slug"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are created with `manage.py create_api_key` (the secret is shown once, there)."""

    list_display = ["name", "prefix", "workspace", "scopes", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["workspace"]
    search_fields = ["name", "prefix"]
    fields = [
        "id",
        "workspace",
        "name",
        "prefix",
        "scopes",
        "created_by",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    readonly_fields = ["id", "workspace", "prefix", "created_by", "created_at", "last_used_at"]

    def has_add_permission(self, request) -> bool:  # type: ignore[override]
        return False
