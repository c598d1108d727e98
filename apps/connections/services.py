"""Use cases for connections: validated against the connector's own config model."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.accounts.models import Workspace
from apps.connections.models import Connection, ConnectionRole, ConnectionStatus
from apps.connectors import registry
from apps.connectors.base import CheckResult, Destination, Source


def connection_create(
    *,
    workspace: Workspace,
    role: str,
    connector_type: str,
    name: str,
    config: dict[str, Any],
    is_default: bool = False,
) -> Connection:
    """Validate ``config`` with the connector's model (raises registry.ConfigError) and store it."""
    if role not in ConnectionRole.values:
        raise ValueError(f"Unknown role {role!r}; expected source or destination.")
    parsed = registry.parse_config(role, connector_type, config)
    public, secrets = parsed.split()
    with transaction.atomic():
        if Connection.objects.filter(workspace=workspace, role=role, name=name).exists():
            raise ValueError(f"A {role} named {name!r} already exists in workspace {workspace.slug}.")
        if is_default and role == ConnectionRole.SOURCE:
            Connection.objects.filter(workspace=workspace, role=role, is_default=True).update(
                is_default=False
            )
        elif role == ConnectionRole.SOURCE and not workspace.connections.filter(role=role).exists():
            is_default = True  # the first warehouse of a workspace is its default
        return Connection.objects.create(
            workspace=workspace,
            role=role,
            connector_type=connector_type,
            name=name,
            config=public,
            secrets=secrets,
            is_default=is_default and role == ConnectionRole.SOURCE,
        )


def connector_for(connection: Connection) -> Source | Destination:
    """Build the plugin instance for a stored connection (config + decrypted secrets)."""
    cls = registry.connector_class(connection.role, connection.connector_type)
    config = registry.parse_config(
        connection.role, connection.connector_type, {**connection.config, **connection.secrets}
    )
    return cls(config)


def connection_check(*, connection: Connection) -> CheckResult:
    connector = connector_for(connection)
    try:
        result = connector.check()
    finally:
        connector.close()
    connection.status = ConnectionStatus.CONNECTED if result.ok else ConnectionStatus.ERROR
    connection.status_message = result.message
    connection.checked_at = timezone.now()
    connection.save(update_fields=["status", "status_message", "checked_at", "updated_at"])
    return result
