"""Use cases for connections: validated against the connector's own config model."""

from __future__ import annotations

import functools
import logging
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import ProtectedError, Q, RestrictedError
from django.utils import timezone

from apps.accounts.models import Workspace
from apps.connections.models import Connection, ConnectionRole, ConnectionStatus
from apps.connectors import registry
from apps.connectors.base import CheckResult, ConnectorConfig, ConnectorError, Destination, Source

logger = logging.getLogger(__name__)


class ConnectionNameTaken(ValueError):
    """Another connection of the same role in the workspace already has this name."""


class ConnectionInUse(Exception):
    """The connection cannot be deleted: syncs (or the history of deleted syncs) refer to it."""

    def __init__(self, message: str, sync_ids: list[str]) -> None:
        super().__init__(message)
        self.sync_ids = sync_ids


class DefaultSourceRequired(ValueError):
    """A workspace's default warehouse can only stop being the default by another taking over."""


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
        _ensure_name_free(workspace=workspace, role=role, name=name)
        if is_default and role == ConnectionRole.SOURCE:
            Connection.objects.filter(workspace=workspace, role=role, is_default=True).update(
                is_default=False
            )
        elif role == ConnectionRole.SOURCE and not workspace.connections.filter(role=role).exists():
            is_default = True  # the first warehouse of a workspace is its default
        try:
            with transaction.atomic():
                return Connection.objects.create(
                    workspace=workspace,
                    role=role,
                    connector_type=connector_type,
                    name=name,
                    config=public,
                    secrets=secrets,
                    is_default=is_default and role == ConnectionRole.SOURCE,
                )
        except IntegrityError as exc:  # a concurrent create with the same name won the race
            raise _name_taken(workspace, role, name) from exc


def connection_update(
    *,
    connection: Connection,
    name: str | None = None,
    config: dict[str, Any] | None = None,
    is_default: bool | None = None,
) -> Connection:
    """Rename, reconfigure and/or make a source the default.

    ``config`` is merged over the stored config and secrets (top-level keys replace; ``null``
    clears an optional setting), so secrets a client does not send again are kept. The result is
    validated by the connector's model as a whole (raises registry.ConfigError).
    """
    fields: list[str] = []
    if config is not None:
        merged = {**connection.config, **connection.secrets, **config}
        parsed = registry.parse_config(connection.role, connection.connector_type, merged)
        public, secrets = parsed.split()
        if public != connection.config or secrets != connection.secrets:
            connection.config, connection.secrets = public, secrets
            # The last check judged the old settings; it says nothing about the new ones.
            connection.status = ConnectionStatus.UNKNOWN
            connection.status_message = ""
            connection.checked_at = None
            fields += ["config", "secrets", "status", "status_message", "checked_at"]
    if is_default is not None and connection.role == ConnectionRole.SOURCE:
        if not is_default and connection.is_default:
            raise DefaultSourceRequired(
                "This source is the workspace's default warehouse; make another source the default instead."
            )
        if is_default and not connection.is_default:
            connection.is_default = True
            fields.append("is_default")
    with transaction.atomic():
        if name is not None and name != connection.name:
            _ensure_name_free(
                workspace=connection.workspace, role=connection.role, name=name, exclude_id=connection.pk
            )
            connection.name = name
            fields.append("name")
        if not fields:
            return connection
        if "is_default" in fields:
            Connection.objects.filter(
                workspace_id=connection.workspace_id, role=ConnectionRole.SOURCE, is_default=True
            ).exclude(pk=connection.pk).update(is_default=False)
        try:
            with transaction.atomic():
                connection.save(update_fields=[*fields, "updated_at"])
        except IntegrityError as exc:
            raise _name_taken(connection.workspace, connection.role, connection.name) from exc
    return connection


def connection_delete(*, connection: Connection) -> None:
    """Delete a connection no sync uses (raises ConnectionInUse otherwise).

    Syncs without a source run on the default warehouse, so they count as users of it too.
    Deleted syncs keep their runs and DLQ entries readable, which keeps their connections.
    """
    uses = Q(destination=connection) | Q(source=connection)
    if connection.role == ConnectionRole.SOURCE and connection.is_default:
        uses |= Q(source__isnull=True)
    from apps.syncs.models import Sync  # syncs depend on connections, not the other way round

    active = list(
        Sync.objects.filter(uses, workspace_id=connection.workspace_id, deleted_at__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if active:
        raise ConnectionInUse(
            f"This {connection.role} is used by {len(active)} sync(s); delete or change them first.",
            active,
        )
    try:
        with transaction.atomic():
            connection.delete()
    except (ProtectedError, RestrictedError) as exc:
        raise ConnectionInUse(
            f"This {connection.role} is kept for the run history and dead letter queue of deleted syncs.",
            [],
        ) from exc


def connector_for(connection: Connection) -> Source | Destination:
    """Build the plugin instance for a stored connection (config + decrypted secrets)."""
    cls = registry.connector_class(connection.role, connection.connector_type)
    config = registry.parse_config(
        connection.role, connection.connector_type, {**connection.config, **connection.secrets}
    )
    connector = cls(config)
    if isinstance(connector, Destination):
        connector.keep_secrets = functools.partial(connection_keep_secrets, connection_id=connection.pk)
    return connector


def connection_keep_secrets(config: ConnectorConfig, *, connection_id: str) -> None:
    """Store the secrets of ``config`` that a vendor replaced while a connector ran (a rotated
    refresh token) at once, before anything else can fail: the old values no longer work, so a
    value kept only in memory would lock the connection out on its next use. The public config
    and the connection's status are left as they are: nothing a person set has changed."""
    _public, secrets = config.split()
    with transaction.atomic():
        connection = Connection.objects.select_for_update().get(pk=connection_id)
        if {**connection.secrets, **secrets} == connection.secrets:
            return
        connection.secrets = {**connection.secrets, **secrets}
        connection.save(update_fields=["secrets", "updated_at"])
    logger.info("connection %s: stored a secret the vendor rotated", connection_id)


def connection_check(*, connection: Connection) -> CheckResult:
    try:
        connector = connector_for(connection)
    except registry.ConfigError as exc:
        # A connector upgrade can make a stored config invalid: a failed check, not a crash.
        result = CheckResult(False, f"The stored config is no longer valid: {exc}")
    except OSError as exc:  # e.g. a sandbox whose storage folder cannot be created
        result = CheckResult(False, f"The connector could not be opened: {exc}")
    else:
        try:
            result = connector.check()
        except ConnectorError as exc:
            result = CheckResult(False, exc.message)
        finally:
            connector.close()
    connection.status = ConnectionStatus.CONNECTED if result.ok else ConnectionStatus.ERROR
    connection.status_message = result.message
    connection.checked_at = timezone.now()
    connection.save(update_fields=["status", "status_message", "checked_at", "updated_at"])
    return result


def _ensure_name_free(*, workspace: Workspace, role: str, name: str, exclude_id: str | None = None) -> None:
    others = Connection.objects.filter(workspace=workspace, role=role, name=name)
    if exclude_id is not None:
        others = others.exclude(pk=exclude_id)
    if others.exists():
        raise _name_taken(workspace, role, name)


def _name_taken(workspace: Workspace, role: str, name: str) -> ConnectionNameTaken:
    return ConnectionNameTaken(f"A {role} named {name!r} already exists in workspace {workspace.slug}.")
