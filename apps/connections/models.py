from __future__ import annotations

from django.db import models

from apps.accounts.models import Workspace
from apps.core.fields import EncryptedJSONField, PrefixedIdField
from apps.core.models import TimestampedModel


class ConnectionRole(models.TextChoices):
    SOURCE = "source", "Source"
    DESTINATION = "destination", "Destination"


class ConnectionStatus(models.TextChoices):
    UNKNOWN = "unknown", "Not checked yet"
    CONNECTED = "connected", "Connected"
    ERROR = "error", "Error"


class Connection(TimestampedModel):
    """A configured source (warehouse) or destination. Secrets live encrypted, apart from config."""

    id = PrefixedIdField("conn")
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="connections")
    role = models.CharField(max_length=16, choices=ConnectionRole.choices)
    connector_type = models.CharField(max_length=64)
    name = models.CharField(max_length=200)
    config = models.JSONField(default=dict, blank=True, help_text="Non-secret settings.")
    secrets = EncryptedJSONField()
    is_default = models.BooleanField(default=False, help_text="The workspace's default warehouse.")
    status = models.CharField(
        max_length=16, choices=ConnectionStatus.choices, default=ConnectionStatus.UNKNOWN
    )
    status_message = models.TextField(blank=True, default="")
    checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "role", "name"], name="connection_unique_name"),
            models.UniqueConstraint(
                fields=["workspace"],
                condition=models.Q(role="source", is_default=True),
                name="connection_one_default_source",
            ),
            models.CheckConstraint(
                condition=models.Q(role__in=["source", "destination"]), name="connection_role_valid"
            ),
        ]
        indexes = [
            models.Index(
                fields=["workspace", "role", "connector_type", "id"], name="connection_ws_role_type"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.connector_type} {self.role})"

    @property
    def secret_fields_set(self) -> list[str]:
        """Names of the secrets that have a value: the most a page or response may reveal."""
        return sorted(k for k, v in self.secrets.items() if v)


class SavedModel(TimestampedModel):
    """A named query that syncs reference as ``semantic:<name>``."""

    id = PrefixedIdField("model")
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="saved_models")
    source = models.ForeignKey(
        Connection,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="saved_models",
        help_text="Warehouse the model runs on; the workspace default when empty.",
    )
    name = models.SlugField(max_length=128, allow_unicode=False)
    description = models.TextField(blank=True, default="")
    sql = models.TextField()
    primary_key = models.CharField(max_length=200, help_text="Column that identifies a row.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="saved_model_unique_name"),
        ]

    def __str__(self) -> str:
        return f"semantic:{self.name}"
