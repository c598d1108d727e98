"""Recording audit events. Called by the services that change things, in their transaction."""

from __future__ import annotations

from typing import Any

from apps.audit.models import AuditEvent


def audit_record(
    *,
    workspace_id: str,
    actor: str,
    action: str,
    object_type: str,
    object_id: str = "",
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    return AuditEvent.objects.create(
        workspace_id=workspace_id,
        actor=actor or "unknown",
        action=action,
        object_type=object_type,
        object_id=object_id,
        details=details or {},
    )
