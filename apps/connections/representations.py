"""Connections as the API shows them. Secrets are write-only: only their names appear."""

from __future__ import annotations

from typing import Any

from apps.connections.models import Connection, ConnectionRole
from apps.core.timefmt import iso

MASK = "••••••"
# Shorter values (e.g. "1") would mask innocent text and are no secret worth the name.
_MIN_SECRET_LENGTH = 4


def connection_resource(
    connection: Connection, *, supported_modes: list[str] | None = None
) -> dict[str, Any]:
    """``status`` is ours as stored: ``unknown`` (never checked, or settings changed since),
    ``connected`` or ``error``; ``status_message`` says what the last check found."""
    attributes: dict[str, Any] = {
        "name": connection.name,
        "connector_type": connection.connector_type,
        "status": connection.status,
        "status_message": redact(connection.status_message, connection),
        "checked_at": iso(connection.checked_at),
    }
    if connection.role == ConnectionRole.DESTINATION:
        attributes["supported_modes"] = supported_modes or []
    else:
        attributes["default"] = connection.is_default
    attributes |= {
        "created_at": iso(connection.created_at),
        "updated_at": iso(connection.updated_at),
        "config": connection.config,
        "secrets_set": connection.secret_fields_set,
    }
    return {"id": connection.pk, "type": connection.role, "attributes": attributes}


def redact(text: str, connection: Connection) -> str:
    """``text`` with every stored secret value masked: connector messages are meant to be clean,
    this makes sure a server echoing a token back cannot leak it through our responses."""
    for value in connection.secrets.values():
        if isinstance(value, str) and len(value) >= _MIN_SECRET_LENGTH:
            text = text.replace(value, MASK)
    return text
