from __future__ import annotations

from django.db import models

from apps.accounts.models import Workspace
from apps.core.fields import PrefixedIdField


class AuditEvent(models.Model):
    id = PrefixedIdField("audit")
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="audit_events")
    actor = models.CharField(max_length=200, help_text="User name or API key name.")
    action = models.CharField(max_length=64, help_text="e.g. sync.created, sync.run, dlq.resolved")
    object_type = models.CharField(max_length=32)
    object_id = models.CharField(max_length=40, blank=True, default="")
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["workspace", "-id"], name="audit_ws_newest"),
            models.Index(fields=["workspace", "object_type", "object_id"], name="audit_ws_object"),
        ]

    def __str__(self) -> str:
        return f"{self.actor} {self.action} {self.object_type}:{self.object_id}"
