"""Connector plugins register here by type; callers look them up by the same string."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from pydantic import ValidationError

from apps.connectors.base import ConnectorConfig, ConnectorInfo, Destination, Source

_SOURCES: dict[str, type[Source]] = {}
_DESTINATIONS: dict[str, type[Destination]] = {}


class UnknownConnectorError(LookupError):
    pass


class ConfigError(ValueError):
    """A connector config failed validation; ``details`` maps each field to its messages."""

    def __init__(self, connector_type: str, details: dict[str, list[str]]) -> None:
        summary = "; ".join(f"{k}: {' '.join(v)}" for k, v in details.items())
        super().__init__(f"Invalid {connector_type} config — {summary}")
        self.details = details


def register_source[S: type[Source]](cls: S) -> S:
    _SOURCES[cls.type] = cls
    return cls


def register_destination[D: type[Destination]](cls: D) -> D:
    _DESTINATIONS[cls.type] = cls
    return cls


def load_builtin_connectors() -> None:
    """Import every package under sources/ and destinations/ so their decorators run."""
    for kind in ("sources", "destinations"):
        package = importlib.import_module(f"apps.connectors.{kind}")
        for module in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"apps.connectors.{kind}.{module.name}")


def source_class(connector_type: str) -> type[Source]:
    try:
        return _SOURCES[connector_type]
    except KeyError:
        raise UnknownConnectorError(
            f"Unknown source type {connector_type!r}; available: {', '.join(sorted(_SOURCES))}."
        ) from None


def destination_class(connector_type: str) -> type[Destination]:
    try:
        return _DESTINATIONS[connector_type]
    except KeyError:
        raise UnknownConnectorError(
            f"Unknown destination type {connector_type!r}; available: {', '.join(sorted(_DESTINATIONS))}."
        ) from None


def connector_class(role: str, connector_type: str) -> type[Source] | type[Destination]:
    return source_class(connector_type) if role == "source" else destination_class(connector_type)


def all_connectors() -> list[ConnectorInfo]:
    infos = [
        ConnectorInfo(c.type, c.label, "source", c, c.Config.secret_field_names()) for c in _SOURCES.values()
    ]
    infos += [
        ConnectorInfo(c.type, c.label, "destination", c, c.Config.secret_field_names())
        for c in _DESTINATIONS.values()
    ]
    return sorted(infos, key=lambda i: (i.role, i.type))


def parse_config(role: str, connector_type: str, data: dict[str, Any]) -> ConnectorConfig:
    """Validate ``data`` against the connector's config model, or raise ConfigError."""
    cls = connector_class(role, connector_type)
    try:
        return cls.Config.model_validate(data)
    except ValidationError as exc:
        details: dict[str, list[str]] = {}
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"]) or "config"
            details.setdefault(key, []).append(err["msg"])
        raise ConfigError(connector_type, details) from None
