"""Sources and destinations (with check), and a destination's catalog: objects and fields.

One set of views serves both roles (``as_view(role=…)``). Reading needs ``destinations:read``
(the contract has no ``sources:read``), every change ``connections:write``.
"""

from __future__ import annotations

from typing import Any

from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from apps.api.errors import ApiError, conflict, invalid_request, not_found, validation_error
from apps.api.idempotency import idempotent
from apps.api.pagination import keyset_page
from apps.api.views import ApiView, query_bool
from apps.connections import api_schema as schema
from apps.connections import catalog
from apps.connections.api_input import available_types, config_details, parse_create, parse_update
from apps.connections.models import Connection, ConnectionRole
from apps.connections.representations import connection_resource, redact
from apps.connections.services import (
    ConnectionInUse,
    ConnectionNameTaken,
    DefaultSourceRequired,
    connection_check,
    connection_create,
    connection_delete,
    connection_update,
)
from apps.connectors.base import ConnectorError
from apps.connectors.registry import ConfigError

READ_SCOPE = "destinations:read"
WRITE_SCOPE = "connections:write"


class ConnectionView(ApiView):
    role: str = ConnectionRole.DESTINATION

    @property
    def required_scope(self) -> str:  # type: ignore[override]
        return READ_SCOPE if self.request.method in ("GET", "HEAD", "OPTIONS") else WRITE_SCOPE

    def get_connection(self, connection_id: str, role: str | None = None) -> Connection:
        role = role or self.role
        connection = Connection.objects.filter(workspace=self.workspace, role=role, pk=connection_id).first()
        if connection is None:
            raise not_found(f"No {role} {connection_id!r}.")
        return connection

    def resource(self, connection: Connection) -> dict[str, Any]:
        modes = catalog.supported_modes(connection) if connection.role == ConnectionRole.DESTINATION else None
        return connection_resource(connection, supported_modes=modes)


class ConnectionListView(ConnectionView):
    @schema.connection_list
    def get(self, request: Request) -> Response:
        connections = Connection.objects.filter(workspace=self.workspace, role=self.role)
        if connector_type := request.query_params.get("type"):
            types = available_types(self.role)
            if connector_type not in types.split(", "):
                raise invalid_request(
                    f"Unknown {self.role} type {connector_type!r}.",
                    {"type": [f"Expected one of {types}."]},
                )
            connections = connections.filter(connector_type=connector_type)
        return Response(keyset_page(request, connections, self.resource))

    @schema.connection_create
    def post(self, request: Request) -> Response:
        return idempotent(request, self._create)

    def _create(self) -> Response:
        data = parse_create(self.payload(), role=self.role)
        try:
            connection = connection_create(
                workspace=self.workspace,
                role=self.role,
                connector_type=data.connector_type,
                name=data.name,
                config=data.config,
                is_default=data.is_default,
            )
        except ConfigError as exc:
            raise validation_error(config_details(exc)) from exc
        except ConnectionNameTaken as exc:
            raise conflict(str(exc), {"name": ["Already taken."]}) from exc
        return Response({"data": self.resource(connection)}, status=status.HTTP_201_CREATED)


class ConnectionDetailView(ConnectionView):
    @schema.connection_retrieve
    def get(self, request: Request, connection_id: str) -> Response:
        return Response({"data": self.resource(self.get_connection(connection_id))})

    @schema.connection_update
    def put(self, request: Request, connection_id: str) -> Response:
        connection = self.get_connection(connection_id)
        data = parse_update(self.payload(), connection=connection)
        try:
            connection = connection_update(
                connection=connection, name=data.name, config=data.config, is_default=data.is_default
            )
        except ConfigError as exc:
            raise validation_error(config_details(exc)) from exc
        except ConnectionNameTaken as exc:
            raise conflict(str(exc), {"name": ["Already taken."]}) from exc
        except DefaultSourceRequired as exc:
            raise validation_error({"default": [str(exc)]}) from exc
        return Response({"data": self.resource(connection)})

    @schema.connection_destroy
    def delete(self, request: Request, connection_id: str) -> Response:
        try:
            connection_delete(connection=self.get_connection(connection_id))
        except ConnectionInUse as exc:
            raise conflict(str(exc), {"sync_ids": exc.sync_ids}) from exc
        return Response(status=status.HTTP_204_NO_CONTENT)


class ConnectionCheckView(ConnectionView):
    @schema.connection_check
    def post(self, request: Request, connection_id: str) -> Response:
        return idempotent(request, lambda: self._check(connection_id))

    def _check(self, connection_id: str) -> Response:
        connection = self.get_connection(connection_id)
        result = connection_check(connection=connection)
        return Response({"data": {"ok": result.ok, "message": redact(result.message, connection)}})


class CatalogView(ConnectionView):
    """Objects and fields come from the destination (cached); ``refresh=true`` refetches."""

    def required_params(self, *names: str) -> list[str]:
        """The values of required query parameters; a 400 naming every missing one."""
        values = [self.request.query_params.get(n, "").strip() for n in names]
        missing = [n for n, v in zip(names, values, strict=True) if not v]
        if missing:
            raise invalid_request(
                f"Missing required query parameter(s): {', '.join(missing)}.",
                {n: ["This query parameter is required."] for n in missing},
            )
        return values

    def refresh(self) -> bool:
        return query_bool(self.request, "refresh", False)

    def unavailable(self, exc: ConnectorError, connection: Connection) -> ApiError:
        return ApiError(
            status.HTTP_502_BAD_GATEWAY,
            "destination_unavailable",
            f"The destination could not list its catalog: {redact(exc.message, connection)}",
            {"connector_error_code": exc.code, "destination_status": exc.status},
        )


class ObjectListView(CatalogView):
    @schema.object_list
    def get(self, request: Request) -> Response:
        (destination_id,) = self.required_params("destination_id")
        refresh = self.refresh()
        destination = self.get_connection(destination_id, ConnectionRole.DESTINATION)
        try:
            objects = catalog.catalog_objects(destination, refresh=refresh)
        except ConnectorError as exc:
            raise self.unavailable(exc, destination) from exc
        if search := request.query_params.get("search", "").strip().casefold():
            objects = [o for o in objects if search in o.name.casefold() or search in o.label.casefold()]
        return Response({"data": [o.to_dict() for o in objects]})


class FieldListView(CatalogView):
    @schema.field_list
    def get(self, request: Request) -> Response:
        destination_id, object_name = self.required_params("destination_id", "object")
        refresh = self.refresh()
        destination = self.get_connection(destination_id, ConnectionRole.DESTINATION)
        try:
            fields = catalog.catalog_fields(destination, object_name, refresh=refresh)
        except catalog.UnknownObjectError as exc:
            raise not_found(str(exc), {"available_objects": exc.available}) from exc
        except ConnectorError as exc:
            raise self.unavailable(exc, destination) from exc
        return Response({"data": [f.to_dict() for f in fields]})
