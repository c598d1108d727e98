"""OpenAPI description of the sync endpoints (applied in ``apps.syncs.api``).

Request bodies are documented in camelCase, as in the vendor docs; the snake_case spelling of
every field is accepted too. Responses are snake_case.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers

from apps.api.schema import (
    IDEMPOTENCY_KEY,
    NO_CONTENT,
    PAGINATION,
    boolean_query,
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
from apps.runs.api_schema import RUN
from apps.runs.models import RunStatus
from apps.syncs.models import IncrementalStrategy, ScheduleType, SyncStatus
from apps.syncs.validation import MAX_NAME, MAX_QUERY

TAGS = ["Syncs"]
MAX_RUN_IDS = 100  # the one definition: apps.syncs.api enforces it

# --- Shared shapes ---------------------------------------------------------------------------


class FieldMappingSerializer(serializers.Serializer):
    source = serializers.CharField(
        help_text="A column of the query, a SQL expression over them, or a literal."
    )
    destination = serializers.CharField(help_text="A field API name of the object.")
    key = serializers.BooleanField(
        required=False, default=False, help_text="The match key (upsert, update, delete, mirror)."
    )

    class Meta:
        ref_name = "FieldMapping"


class ScheduleSerializer(serializers.Serializer):
    type = choice(*ScheduleType.values)
    expression = serializers.CharField(required=False, help_text="5-field cron, with type cron.")
    timezone = serializers.CharField(required=False, help_text="IANA name (default UTC), with type cron.")

    class Meta:
        ref_name = "Schedule"


class IncrementalSerializer(serializers.Serializer):
    strategy = choice(*IncrementalStrategy.values)
    column = serializers.CharField(required=False, help_text="The watermark column, with strategy watermark.")

    class Meta:
        ref_name = "Incremental"


# --- Responses -------------------------------------------------------------------------------


class LastRunSerializer(serializers.Serializer):
    id = serializers.CharField()
    status = choice(*RunStatus.values)
    finished_at = timestamp(allow_null=True)

    class Meta:
        ref_name = "SyncLastRun"


class SyncAttributesSerializer(serializers.Serializer):
    name = serializers.CharField()
    source_query = serializers.CharField()
    source_id = serializers.CharField(
        allow_null=True, help_text="null: the workspace's default warehouse at run time."
    )
    destination_id = serializers.CharField()
    object_name = serializers.CharField()
    field_mappings = FieldMappingSerializer(many=True)
    sync_mode = serializers.CharField(
        help_text="upsert, insert, update, delete or a connector-specific mode."
    )
    schedule = ScheduleSerializer()
    enabled = serializers.BooleanField()
    status = choice(*SyncStatus.values)
    incremental = IncrementalSerializer()
    last_run = LastRunSerializer(allow_null=True)
    next_run_at = timestamp(allow_null=True)
    created_at = timestamp()
    updated_at = timestamp()

    class Meta:
        ref_name = "SyncAttributes"


SYNC = resource("Sync", "reverse_etl_sync", SyncAttributesSerializer)
SYNC_ENVELOPE = single("SyncEnvelope", SYNC)
SYNC_PAGE = collection("SyncPage", SYNC)
RUN_LIST = listing("RunList", RUN)

# --- Requests --------------------------------------------------------------------------------


class SyncWriteSerializer(serializers.Serializer):
    """Create: the six first fields are required. Update: every field is optional."""

    name = serializers.CharField(max_length=MAX_NAME)
    sourceQuery = serializers.CharField(
        max_length=MAX_QUERY,
        help_text="A read-only SELECT (or WITH … SELECT), or `semantic:<model_name>`.",
    )
    destinationId = serializers.CharField(max_length=64)
    objectName = serializers.CharField(max_length=200)
    fieldMappings = FieldMappingSerializer(many=True)
    syncMode = serializers.CharField(max_length=32)
    schedule = ScheduleSerializer(required=False, help_text='Default {"type": "manual"}.')
    sourceId = serializers.CharField(
        required=False,
        allow_null=True,
        max_length=64,
        help_text="Default: the workspace's default warehouse.",
    )
    incremental = IncrementalSerializer(required=False, help_text='Default {"strategy": "diff"}.')
    enabled = serializers.BooleanField(required=False, default=True)


class SyncCreateSerializer(SyncWriteSerializer):
    class Meta:
        ref_name = "SyncCreate"


class SyncUpdateSerializer(SyncWriteSerializer):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False

    class Meta:
        ref_name = "SyncUpdate"


class SyncRunSerializer(serializers.Serializer):
    syncId = serializers.CharField(required=False, help_text="One sync; or give syncIds.")
    syncIds = serializers.ListField(
        child=serializers.CharField(), required=False, min_length=1, max_length=MAX_RUN_IDS
    )
    fullResync = serializers.BooleanField(
        required=False, default=False, help_text="Ignore the incremental state and resend every row."
    )

    class Meta:
        ref_name = "SyncRun"


class SyncToggleSerializer(serializers.Serializer):
    syncId = serializers.CharField()
    enabled = serializers.BooleanField(help_text="true to enable, false to pause.")

    class Meta:
        ref_name = "SyncToggle"


# --- Operations ------------------------------------------------------------------------------

SYNC_ID = OpenApiParameter("sync_id", str, OpenApiParameter.PATH, description="A sync id, `retl_sync_…`.")

sync_list = extend_schema(
    operation_id="syncs_list",
    summary="List syncs",
    tags=TAGS,
    parameters=[
        query("destination_id", "Only syncs writing to this destination."),
        boolean_query("enabled", "true: active syncs; false: paused ones."),
        *PAGINATION,
    ],
    responses={200: ok(SYNC_PAGE), **errors(400)},
)

sync_create = extend_schema(
    operation_id="syncs_create",
    summary="Create a sync",
    description=(
        "Validated against the warehouse (the query compiles, mapped columns resolve) and the "
        "destination catalog (object, fields, key and mode). Field-level 400s otherwise."
    ),
    tags=TAGS,
    parameters=[IDEMPOTENCY_KEY],
    request=SyncCreateSerializer,
    responses={
        201: ok(SYNC_ENVELOPE, "Created."),
        **errors(400, 409, e409="conflict: the Idempotency-Key was used with another request."),
    },
)

sync_retrieve = extend_schema(
    operation_id="syncs_retrieve",
    summary="Get a sync",
    tags=TAGS,
    parameters=[SYNC_ID],
    responses={200: ok(SYNC_ENVELOPE), **errors(404)},
)

sync_update = extend_schema(
    operation_id="syncs_update",
    summary="Update a sync",
    description=(
        "Same fields as create, all optional, validated the same way. A change to the query, mappings, "
        "object or mode resets the change-detection state: the next run is a full run."
    ),
    tags=TAGS,
    parameters=[SYNC_ID],
    request=SyncUpdateSerializer,
    responses={200: ok(SYNC_ENVELOPE), **errors(400, 404)},
)

sync_destroy = extend_schema(
    operation_id="syncs_destroy",
    summary="Delete a sync",
    description="Its run history and DLQ entries stay readable.",
    tags=TAGS,
    parameters=[SYNC_ID],
    responses={204: NO_CONTENT, **errors(404)},
)

sync_run = extend_schema(
    operation_id="syncs_run",
    summary="Run syncs now",
    description=(
        "One run per sync. A sync that already has a queued or running run gets that run back "
        '(`"deduplicated": true`). Unknown ids → 404 naming them (`details.ids`), and nothing is queued.'
    ),
    tags=TAGS,
    parameters=[IDEMPOTENCY_KEY],
    request=SyncRunSerializer,
    responses={
        202: ok(RUN_LIST, "Queued (or already queued/running)."),
        **errors(400, 404, 409, e409="conflict: the Idempotency-Key was used with another request."),
    },
)

sync_toggle = extend_schema(
    operation_id="syncs_toggle",
    summary="Enable or pause a sync",
    tags=TAGS,
    parameters=[IDEMPOTENCY_KEY],
    request=SyncToggleSerializer,
    responses={
        200: ok(SYNC_ENVELOPE),
        **errors(400, 404, 409, e409="conflict: the Idempotency-Key was used with another request."),
    },
)
