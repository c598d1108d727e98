"""OpenAPI description of the run endpoints (applied in ``apps.runs.api``)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers

from apps.api.schema import PAGINATION, choice, collection, errors, ok, query, resource, single, timestamp
from apps.runs.models import METRIC_FIELDS, RunStatus, RunTrigger

TAGS = ["Runs"]


class _MetricsMeta:
    ref_name = "RunMetrics"


RunMetricsSerializer = type(
    "RunMetricsSerializer",
    (serializers.Serializer,),
    {"Meta": _MetricsMeta, **{name: serializers.IntegerField(min_value=0) for name in METRIC_FIELDS}},
)


class RunErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField(allow_blank=True)

    class Meta:
        ref_name = "RunError"


class RunAttributesSerializer(serializers.Serializer):
    sync_id = serializers.CharField()
    status = choice(*RunStatus.values)
    trigger = choice(*RunTrigger.values)
    full_resync = serializers.BooleanField()
    created_at = timestamp()
    started_at = timestamp(allow_null=True)
    finished_at = timestamp(allow_null=True)
    duration_seconds = serializers.FloatField(allow_null=True, min_value=0)
    metrics = RunMetricsSerializer()
    progress = serializers.FloatField(min_value=0, max_value=1, help_text="From 0 to 1 while running.")
    phase_timings = serializers.DictField(child=serializers.FloatField(), help_text="Seconds per phase.")
    error = RunErrorSerializer(allow_null=True)
    deduplicated = serializers.BooleanField(
        required=False,
        help_text="Only in POST sync/run answers: true when an already queued or running run came back.",
    )

    class Meta:
        ref_name = "RunAttributes"


RUN = resource("Run", "reverse_etl_run", RunAttributesSerializer)
RUN_ENVELOPE = single("RunEnvelope", RUN)
RUN_PAGE = collection("RunPage", RUN)

RUN_ID = OpenApiParameter("run_id", str, OpenApiParameter.PATH, description="A run id, `retl_run_…`.")

run_list = extend_schema(
    operation_id="runs_list",
    summary="List runs",
    description="Runs of the workspace, newest first.",
    tags=TAGS,
    parameters=[
        query("sync_id", "Only runs of this sync."),
        query("status", "Only runs in this status.", enum=list(RunStatus.values)),
        *PAGINATION,
    ],
    responses={200: ok(RUN_PAGE), **errors(400)},
)

run_detail = extend_schema(
    operation_id="runs_retrieve",
    summary="Get a run",
    tags=TAGS,
    parameters=[RUN_ID],
    responses={200: ok(RUN_ENVELOPE), **errors(404)},
)

run_cancel = extend_schema(
    operation_id="runs_cancel",
    summary="Cancel a run",
    description=(
        "A queued run is canceled at once (200); a running one is asked to stop after the batches "
        "in flight, which are committed (202); a finished one → 409."
    ),
    tags=TAGS,
    parameters=[RUN_ID],
    request=None,
    responses={
        200: ok(RUN_ENVELOPE, "Canceled."),
        202: ok(RUN_ENVELOPE, "Running: asked to stop."),
        **errors(404, 409, e409="conflict: the run has already finished."),
    },
)
