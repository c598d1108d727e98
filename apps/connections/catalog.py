"""A destination's catalog (objects and their fields), cached for the API and validation.

Catalog answers come live from the destination's API, which is slow and rate limited, so they
are kept in Django's cache for a while. The key includes the connection's ``updated_at``: any
change to its config (or a check) gives new keys, so a stale catalog is never served for new
settings. Connector failures are not cached, so the next call tries again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.core.cache import cache

from apps.connections.models import Connection
from apps.connections.services import connector_for
from apps.connectors.base import ConnectorError, Destination, ErrorCode, FieldSpec, ObjectSpec
from apps.connectors.registry import ConfigError

CATALOG_TIMEOUT_SECONDS = 15 * 60


class UnknownObjectError(LookupError):
    """The destination has no such object; ``available`` names the ones it has."""

    def __init__(self, object_name: str, available: list[str]) -> None:
        listed = ", ".join(available) or "none"
        super().__init__(f"The destination has no object {object_name!r}; available: {listed}.")
        self.object_name = object_name
        self.available = available


def catalog_objects(connection: Connection, *, refresh: bool = False) -> list[ObjectSpec]:
    """The destination's objects. Raises ConnectorError when the destination cannot answer."""
    return _cached(_key(connection, "objects"), refresh, lambda d: d.list_objects(), connection)


def catalog_fields(connection: Connection, object_name: str, *, refresh: bool = False) -> list[FieldSpec]:
    """The fields of one object. Raises UnknownObjectError or ConnectorError."""
    if catalog_object(connection, object_name, refresh=refresh) is None:
        raise UnknownObjectError(object_name, [o.name for o in catalog_objects(connection)])
    digest = hashlib.sha256(object_name.encode()).hexdigest()[:32]  # any name makes a safe cache key
    return _cached(
        _key(connection, f"fields:{digest}"), refresh, lambda d: d.list_fields(object_name), connection
    )


def catalog_object(connection: Connection, object_name: str, *, refresh: bool = False) -> ObjectSpec | None:
    """One object by API name (listed, or accepted unlisted by a free-form destination), or None."""
    listed = next((o for o in catalog_objects(connection, refresh=refresh) if o.name == object_name), None)
    return listed or _lookup_object(connection, object_name)


def supported_modes(connection: Connection) -> list[str]:
    """The union of the modes of the destination's objects; [] when the catalog is unavailable."""
    try:
        objects = catalog_objects(connection)
    except ConnectorError:
        return []  # a listing shows the destination anyway; its status/check tells why
    modes: dict[str, None] = {}
    for spec in objects:
        modes.update(dict.fromkeys(spec.supported_modes))
    return list(modes)


def _lookup_object(connection: Connection, object_name: str) -> ObjectSpec | None:
    """Ask the connector about a name its listing lacks, when it has its own answer.

    Free-form destinations (the custom HTTP one) accept names they do not list. The base
    ``get_object`` only searches ``list_objects``, which the cached listing already did, so the
    connector is only called when it overrides it.
    """
    with _open(connection) as destination:
        if type(destination).get_object is Destination.get_object:
            return None
        return destination.get_object(object_name)


def _cached[T](key: str, refresh: bool, fetch: Callable[[Destination], T], connection: Connection) -> T:
    if not refresh:
        hit = cache.get(key)
        if hit is not None:
            return hit
    with _open(connection) as destination:
        value = fetch(destination)
    cache.set(key, value, timeout=CATALOG_TIMEOUT_SECONDS)
    return value


def _key(connection: Connection, part: str) -> str:
    return f"catalog:v1:{connection.pk}:{connection.updated_at.timestamp():.6f}:{part}"


@contextmanager
def _open(connection: Connection) -> Iterator[Destination]:
    """The connection's destination plugin, closed after use. Config and storage problems are
    reported as ConnectorError, so callers handle one kind of failure."""
    try:
        connector = connector_for(connection)
    except ConfigError as exc:
        raise ConnectorError(
            f"The stored config is no longer valid: {exc}", code=ErrorCode.VALIDATION_FAILED
        ) from exc
    except OSError as exc:
        raise ConnectorError(
            f"The destination could not be opened: {exc}", code=ErrorCode.DESTINATION_UNAVAILABLE
        ) from exc
    if not isinstance(connector, Destination):
        raise TypeError(f"{connection.pk} is a {connection.role}, not a destination.")
    try:
        yield connector
    finally:
        connector.close()
