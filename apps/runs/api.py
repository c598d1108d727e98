"""Run history: list, detail, cancel."""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.response import Response

from apps.api.errors import conflict, invalid_request, not_found
from apps.api.pagination import keyset_page
from apps.api.views import ApiView
from apps.runs import api_schema as schema
from apps.runs.models import RunStatus, SyncRun
from apps.runs.representations import run_resource
from apps.runs.services import RunNotCancelable, run_cancel


class RunListView(ApiView):
    required_scope = "syncs:read"

    @schema.run_list
    def get(self, request: Request) -> Response:
        runs = SyncRun.objects.filter(workspace=self.workspace)
        if sync_id := request.query_params.get("sync_id"):
            runs = runs.filter(sync_id=sync_id)
        if status := request.query_params.get("status"):
            if status not in RunStatus.values:
                raise invalid_request(
                    f"Unknown status {status!r}.",
                    {"status": [f"Expected one of {', '.join(RunStatus.values)}."]},
                )
            runs = runs.filter(status=status)
        return Response(keyset_page(request, runs, run_resource))


def get_run(view: ApiView, run_id: str) -> SyncRun:
    run = SyncRun.objects.filter(workspace=view.workspace, pk=run_id).first()
    if run is None:
        raise not_found(f"No run {run_id!r}.")
    return run


class RunDetailView(ApiView):
    required_scope = "syncs:read"

    @schema.run_detail
    def get(self, request: Request, run_id: str) -> Response:
        return Response({"data": run_resource(get_run(self, run_id))})


class RunCancelView(ApiView):
    required_scope = "syncs:run"

    @schema.run_cancel
    def post(self, request: Request, run_id: str) -> Response:
        run = get_run(self, run_id)
        try:
            run = run_cancel(run=run)
        except RunNotCancelable as exc:
            raise conflict(str(exc)) from exc
        return Response({"data": run_resource(run)}, status=202 if run.status == RunStatus.RUNNING else 200)
