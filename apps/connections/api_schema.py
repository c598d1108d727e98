"""OpenAPI description of the connection and catalog endpoints (applied in
``apps.connections.api``). One view class serves sources and destinations (``as_view(role=…)``):
``ByRole`` and ``{role}`` give each route its own shapes and operation ids."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers

from apps.api.schema import (
    BOOLEAN_QUERY,
    IDEMPOTENCY_KEY,
    NO_CONTENT,
    PAGINATION,
    ByRole,
    choice,
    collection,
    errors,
    listing,
    ok,
    query,
    resource,
    single,
    timestamp,
)
from apps.connections.models import ConnectionStatus
from apps.connectors.base import FIELD_TYPES

TAGS = ["Sources and destinations"]
CATALOG_TAGS = ["Destination catalog"]
IDEMPOTENCY_409 = "conflict: the Idempotency-Key was used with another request."


class ConnectionAttributesSerializer(serializers.Serializer):
    name = serializers.CharField()
    connector_type = serializers.CharField(help_text="e.g. duckdb, postgres, salesforce, hubspot, http.")
    status = choice(*ConnectionStatus.values)
    status_message = serializers.CharField(allow_blank=True, help_text="What the last check found.")
    checked_at = timestamp(allow_null=True)
    created_at = timestamp()
    updated_at = timestamp()
    config = serializers.DictField(child=serializers.JSONField(), help_text="Public settings (no secrets).")
    secrets_set = serializers.ListField(
        child=serializers.CharField(), help_text="Names of the secrets that have a value (never the values)."
    )


class DestinationAttributesSerializer(ConnectionAttributesSerializer):
    supported_modes = serializers.ListField(child=serializers.CharField())

    class Meta:
        ref_name = "DestinationAttributes"


class SourceAttributesSerializer(ConnectionAttributesSerializer):
    default = serializers.BooleanField(help_text="The workspace's default warehouse.")

    class Meta:
        ref_name = "SourceAttributes"


DESTINATION = resource("Destination", "destination", DestinationAttributesSerializer)
SOURCE = resource("Source", "source", SourceAttributesSerializer)
ENVELOPE = ByRole(
    source=single("SourceEnvelope", SOURCE), destination=single("DestinationEnvelope", DESTINATION)
)
PAGE = ByRole(source=collection("SourcePage", SOURCE), destination=collection("DestinationPage", DESTINATION))


class ConnectionWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    type = serializers.CharField(help_text="The connector type; cannot change on update.")
    config = serializers.DictField(
        child=serializers.JSONField(),
        help_text="The connector's settings and secrets (secrets are write-only). On update, top-level "
        "keys are merged over the stored ones; null clears an optional setting.",
    )


class DestinationCreateSerializer(ConnectionWriteSerializer):
    class Meta:
        ref_name = "DestinationCreate"


class SourceCreateSerializer(ConnectionWriteSerializer):
    default = serializers.BooleanField(required=False, default=False)

    class Meta:
        ref_name = "SourceCreate"


def _optional(serializer_class: type[serializers.Serializer], ref_name: str) -> type[serializers.Serializer]:
    class Meta:
        pass

    Meta.ref_name = ref_name

    def __init__(self, *args, **kwargs) -> None:
        serializer_class.__init__(self, *args, **kwargs)
        for field in self.fields.values():
            field.required = False

    return type(ref_name + "Serializer", (serializer_class,), {"Meta": Meta, "__init__": __init__})


CREATE = ByRole(source=SourceCreateSerializer, destination=DestinationCreateSerializer)
UPDATE = ByRole(
    source=_optional(SourceCreateSerializer, "SourceUpdate"),
    destination=_optional(DestinationCreateSerializer, "DestinationUpdate"),
)


class CheckResultSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    message = serializers.CharField(allow_blank=True)

    class Meta:
        ref_name = "ConnectionCheck"


class CatalogObjectSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    supported_modes = serializers.ListField(child=serializers.CharField())
    custom = serializers.BooleanField()
    freeform_fields = serializers.BooleanField(
        help_text="Accepts any field name (the custom HTTP destination)."
    )

    class Meta:
        ref_name = "CatalogObject"


class CatalogFieldSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    type = choice(*FIELD_TYPES)
    required = serializers.BooleanField()
    createable = serializers.BooleanField()
    updateable = serializers.BooleanField()
    identifier = serializers.BooleanField(help_text="Can serve as the match key.")
    enum_values = serializers.ListField(child=serializers.CharField(), allow_null=True)
    max_length = serializers.IntegerField(allow_null=True)

    class Meta:
        ref_name = "CatalogField"


CONNECTION_ID = OpenApiParameter(
    "connection_id", str, OpenApiParameter.PATH, description="A connection id, `conn_…`."
)
TYPE_FILTER = query("type", "Only this connector type (e.g. salesforce, hubspot); an unknown type → 400.")
REFRESH = query("refresh", "true: refetch from the destination instead of the cache.", type=BOOLEAN_QUERY)
CATALOG_ERRORS = errors(400, 404, 502)

connection_list = extend_schema(
    operation_id="{role}s_list",
    summary="List {role}s",
    tags=TAGS,
    parameters=[TYPE_FILTER, *PAGINATION],
    responses={200: ok(PAGE), **errors(400)},
)

connection_create = extend_schema(
    operation_id="{role}s_create",
    summary="Create a {role}",
    description="A config that fails the connector's validation → 400 with `config.<field>` details.",
    tags=TAGS,
    parameters=[IDEMPOTENCY_KEY],
    request=CREATE,
    responses={
        201: ok(ENVELOPE, "Created."),
        **errors(400, 409, e409="conflict: the name is taken, or the Idempotency-Key was reused."),
    },
)

connection_retrieve = extend_schema(
    operation_id="{role}s_retrieve",
    summary="Get a {role}",
    tags=TAGS,
    parameters=[CONNECTION_ID],
    responses={200: ok(ENVELOPE), **errors(404)},
)

connection_update = extend_schema(
    operation_id="{role}s_update",
    summary="Update a {role}",
    description="Top-level config keys are merged over the stored ones. The connector type cannot change.",
    tags=TAGS,
    parameters=[CONNECTION_ID],
    request=UPDATE,
    responses={200: ok(ENVELOPE), **errors(400, 404, 409, e409="conflict: the name is taken.")},
)

connection_destroy = extend_schema(
    operation_id="{role}s_destroy",
    summary="Delete a {role}",
    tags=TAGS,
    parameters=[CONNECTION_ID],
    responses={
        204: NO_CONTENT,
        **errors(404, 409, e409="conflict: syncs use it (`details.sync_ids`)."),
    },
)

connection_check = extend_schema(
    operation_id="{role}s_check",
    summary="Check a {role}'s connection",
    tags=TAGS,
    parameters=[CONNECTION_ID, IDEMPOTENCY_KEY],
    request=None,
    responses={
        200: ok(single("ConnectionCheckEnvelope", CheckResultSerializer())),
        **errors(400, 404, 409, e400="invalid_request: a malformed Idempotency-Key.", e409=IDEMPOTENCY_409),
    },
)

object_list = extend_schema(
    operation_id="objects_list",
    summary="List a destination's objects",
    tags=CATALOG_TAGS,
    parameters=[
        query("destination_id", "The destination.", required=True),
        query("search", "Case-insensitive match on label or API name."),
        REFRESH,
    ],
    responses={200: ok(listing("CatalogObjectList", CatalogObjectSerializer)), **CATALOG_ERRORS},
)

field_list = extend_schema(
    operation_id="fields_list",
    summary="List an object's fields",
    tags=CATALOG_TAGS,
    parameters=[
        query("destination_id", "The destination.", required=True),
        query("object", "The object's API name.", required=True),
        REFRESH,
    ],
    responses={
        200: ok(listing("CatalogFieldList", CatalogFieldSerializer)),
        **errors(
            400, 404, 502, e404="not_found: no such destination, or object (`details.available_objects`)."
        ),
    },
)
