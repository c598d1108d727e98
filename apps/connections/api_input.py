"""Request bodies of the connection endpoints, checked field by field into plain values.

Every problem is collected, so one 400 lists them all (``config.<field>`` for the connector's
own validation). Top-level config keys may be camelCase like the rest of a request body.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from apps.api.errors import validation_error
from apps.api.views import snake_case
from apps.connections.models import Connection, ConnectionRole
from apps.connectors import registry

NAME_MAX_LENGTH = Connection._meta.get_field("name").max_length or 200


@dataclass(frozen=True)
class CreateInput:
    name: str
    connector_type: str
    config: dict[str, Any]
    is_default: bool


@dataclass(frozen=True)
class UpdateInput:
    name: str | None
    config: dict[str, Any] | None
    is_default: bool | None


def parse_create(data: dict[str, Any], *, role: str) -> CreateInput:
    errors = _unknown_fields(data, role, {"name", "type", "config"})
    name = _name(data.get("name"), errors, required=True)
    connector_type = data.get("type")
    if not isinstance(connector_type, str) or not connector_type.strip():
        errors["type"] = [f"The {role} connector type is required; available: {available_types(role)}."]
        connector_type = None
    config = _config(data.get("config"), errors)
    is_default = _default(data.get("default", False), errors)
    if connector_type is not None:
        try:
            registry.connector_class(role, connector_type)
        except registry.UnknownConnectorError as exc:
            errors["type"] = [str(exc)]
        else:
            if config is not None:
                # Validated here too, so one response reports the config next to the other fields.
                try:
                    registry.parse_config(role, connector_type, config)
                except registry.ConfigError as exc:
                    errors |= config_details(exc)
    if errors:
        raise validation_error(errors)
    assert name is not None and connector_type is not None and config is not None
    return CreateInput(name, connector_type, config, bool(is_default))


def parse_update(data: dict[str, Any], *, connection: Connection) -> UpdateInput:
    errors = _unknown_fields(data, connection.role, {"name", "type", "config"})
    if "type" in data and data["type"] != connection.connector_type:
        errors["type"] = [
            f"The connector type cannot change (this {connection.role} is {connection.connector_type}); "
            f"create a new {connection.role} instead."
        ]
    name = _name(data.get("name"), errors, required=False) if "name" in data else None
    config = _config(data.get("config"), errors) if "config" in data else None
    is_default = _default(data["default"], errors) if "default" in data else None
    if errors:
        raise validation_error(errors)
    return UpdateInput(name, config, is_default)


def config_details(exc: registry.ConfigError) -> dict[str, list[str]]:
    return {f"config.{field}": messages for field, messages in exc.details.items()}


def available_types(role: str) -> str:
    return ", ".join(i.type for i in registry.all_connectors() if i.role == role)


def _unknown_fields(data: dict[str, Any], role: str, allowed: set[str]) -> dict[str, list[str]]:
    if role == ConnectionRole.SOURCE:
        allowed = allowed | {"default"}
    listed = ", ".join(sorted(allowed))
    return {key: [f"Unknown field; a {role} takes {listed}."] for key in data if key not in allowed}


def _name(value: Any, errors: dict[str, list[str]], *, required: bool) -> str | None:
    if value is None and not required:
        errors["name"] = ["The name cannot be null."]
        return None
    if not isinstance(value, str) or not value.strip():
        errors["name"] = ["A non-empty name is required."]
        return None
    if len(value.strip()) > NAME_MAX_LENGTH:
        errors["name"] = [f"At most {NAME_MAX_LENGTH} characters."]
        return None
    return value.strip()


def _config(value: Any, errors: dict[str, list[str]]) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        errors["config"] = ["The connector's config is required as a JSON object."]
        return None
    return {snake_case(str(k)): v for k, v in value.items()}


def _default(value: Any, errors: dict[str, list[str]]) -> bool | None:
    if not isinstance(value, bool):
        errors["default"] = ["default must be true or false."]
        return None
    return value
