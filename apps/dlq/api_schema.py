"""OpenAPI description of the dead letter queue endpoints (applied in ``apps.dlq.api``).
DLQ entries are flat objects, as in the vendor's DLQ docs."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers

from apps.api.schema import (
    IDEMPOTENCY_KEY,
    PAGINATION,
    boolean_query,
    collection,
    errors,
    ok,
    query,
    single,
    timestamp,
)
from apps.runs.api_schema import RUN

TAGS = ["Dead letter queue"]
MAX_RESOLVE_IDS = 10_000  # the one definition: apps.dlq.api enforces it


class ResolutionSerializer(serializers.Serializer):
    reason = serializers.CharField()
    note = serializers.CharField(allow_blank=True)
    by = serializers.CharField(help_text="The user or API key that resolved it.")

    class Meta:
        ref_name = "DlqResolution"


class DlqEntrySerializer(serializers.Serializer):
    id = serializers.CharField()
    sync_id = serializers.CharField()
    run_id = serializers.CharField()
    destination_id = serializers.CharField()
    object_name = serializers.CharField()
    record_key = serializers.CharField(allow_null=True)
    error_code = serializers.CharField(help_text="e.g. invalid_field_value, destination_rejected, …")
    error_message = serializers.CharField(allow_blank=True)
    destination_status = serializers.IntegerField(allow_null=True)
    retryable = serializers.BooleanField()
    retry_count = serializers.IntegerField(min_value=0)
    failed_at = timestamp()
    row_preview = serializers.DictField(child=serializers.JSONField())
    payload = serializers.DictField(child=serializers.JSONField())
    resolved = serializers.BooleanField()
    resolved_at = timestamp(allow_null=True)
    resolution = ResolutionSerializer(allow_null=True)
    replay_run_id = serializers.CharField(allow_null=True)
    previous_entry_id = serializers.CharField(
        allow_null=True, help_text="The entry this record re-failed after, when it failed again on replay."
    )

    class Meta:
        ref_name = "DlqEntry"


class CodeCountSerializer(serializers.Serializer):
    error_code = serializers.CharField()
    count = serializers.IntegerField(min_value=0)

    class Meta:
        ref_name = "DlqErrorCodeCount"


class SyncCountSerializer(serializers.Serializer):
    sync_id = serializers.CharField()
    name = serializers.CharField(allow_blank=True)
    count = serializers.IntegerField(min_value=0)

    class Meta:
        ref_name = "DlqSyncCount"


class WindowSerializer(serializers.Serializer):
    since = timestamp(allow_null=True)
    until = timestamp()

    class Meta:
        ref_name = "DlqStatsWindow"


class DlqStatsSerializer(serializers.Serializer):
    open_entries = serializers.IntegerField(min_value=0)
    resolved_entries = serializers.IntegerField(min_value=0)
    total_entries = serializers.IntegerField(min_value=0)
    by_error_code = CodeCountSerializer(many=True, help_text="Open entries by error code.")
    by_sync = SyncCountSerializer(many=True, help_text="Open entries by sync.")
    oldest_open_failed_at = timestamp(allow_null=True)
    window = WindowSerializer()

    class Meta:
        ref_name = "DlqStats"


class DlqResolveSerializer(serializers.Serializer):
    ids = serializers.ListField(child=serializers.CharField(), min_length=1, max_length=MAX_RESOLVE_IDS)
    reason = serializers.CharField(max_length=64, help_text="e.g. fixed_upstream, skipped, manual_push.")
    note = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    replay = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Start one run per affected sync that re-reads the current warehouse rows for these keys.",
    )

    class Meta:
        ref_name = "DlqResolve"


class DlqResolveResultSerializer(serializers.Serializer):
    resolved = serializers.ListField(child=serializers.CharField())
    already_resolved = serializers.ListField(child=serializers.CharField())
    not_found = serializers.ListField(child=serializers.CharField())
    replay_runs = serializers.ListSerializer(child=RUN.__class__())

    class Meta:
        ref_name = "DlqResolveResult"


DLQ_PAGE = collection("DlqEntryPage", DlqEntrySerializer)
DLQ_ENVELOPE = single("DlqEntryEnvelope", DlqEntrySerializer())
STATS_ENVELOPE = single("DlqStatsEnvelope", DlqStatsSerializer())
RESOLVE_ENVELOPE = single("DlqResolveEnvelope", DlqResolveResultSerializer())

dlq_list = extend_schema(
    operation_id="dlq_list",
    summary="List DLQ entries",
    tags=TAGS,
    parameters=[
        query("sync_id", "Only entries of this sync."),
        boolean_query("resolved", "false (default): open entries; true: resolved ones (history)."),
        query("error_code", "Only entries with this error code."),
        *PAGINATION,
    ],
    responses={200: ok(DLQ_PAGE), **errors(400)},
)

dlq_entry = extend_schema(
    operation_id="dlq_retrieve",
    summary="Get a DLQ entry",
    tags=TAGS,
    parameters=[
        OpenApiParameter("entry_id", str, OpenApiParameter.PATH, description="A DLQ entry id, `dlq_…`.")
    ],
    responses={200: ok(DLQ_ENVELOPE), **errors(404)},
)

dlq_stats = extend_schema(
    operation_id="dlq_stats",
    summary="DLQ statistics",
    description=(
        "Every count covers entries failed at or after `since` (all when omitted); `by_error_code` "
        "and `by_sync` count open entries."
    ),
    tags=TAGS,
    parameters=[
        query("sync_id", "Only this sync (omit for the workspace)."),
        query("since", "ISO 8601 timestamp.", type={"type": "string", "format": "date-time"}),
    ],
    responses={200: ok(STATS_ENVELOPE), **errors(400)},
)

dlq_resolve = extend_schema(
    operation_id="dlq_resolve",
    summary="Resolve (and replay) DLQ entries",
    tags=TAGS,
    parameters=[IDEMPOTENCY_KEY],
    request=DlqResolveSerializer,
    responses={
        200: ok(RESOLVE_ENVELOPE),
        **errors(400, 409, e409="conflict: the Idempotency-Key was used with another request."),
    },
)
