"""Syncs: list, create, get, update, delete, run on demand, enable/pause."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.response import Response

from apps.api.errors import ApiError, invalid_request, not_found, validation_error
from apps.api.idempotency import idempotent
from apps.api.pagination import keyset_page
from apps.api.views import ApiView, query_bool
from apps.runs.representations import run_resource
from apps.syncs import api_schema as schema
from apps.syncs.models import Sync
from apps.syncs.representations import sync_resource
from apps.syncs.services import sync_create, sync_delete, sync_run, sync_toggle, sync_update
from apps.syncs.validation import SyncValidationError

RUN_FIELDS = frozenset({"sync_id", "sync_ids", "full_resync"})
TOGGLE_FIELDS = frozenset({"sync_id", "enabled"})


def _invalid_sync(exc: SyncValidationError) -> ApiError:
    return validation_error(exc.details, f"The sync is not valid: see details ({', '.join(exc.details)}).")


def _unknown_fields(data: dict[str, Any], allowed: frozenset[str], errors: dict[str, list[str]]) -> None:
    for key in sorted(set(data) - allowed):
        errors[key] = [f"Unknown field; accepted: {', '.join(sorted(allowed))}."]


class SyncViewMixin:
    """Reads the scope from the method (GET reads, the rest writes) and finds syncs."""

    request: Request
    workspace: Any

    @property
    def required_scope(self) -> str:
        return "syncs:read" if self.request.method in SAFE_METHODS else "syncs:write"

    def sync_body(self) -> dict[str, Any]:
        # The raw body, not payload(): validation maps both spellings itself and names an
        # unknown field exactly as the client sent it.
        data = self.request.data
        if not isinstance(data, dict):
            raise invalid_request("The request body must be a JSON object.")
        return data

    def get_sync(self, sync_id: str) -> Sync:
        sync = (
            Sync.objects.select_related("last_run", "workspace")
            .filter(workspace=self.workspace, pk=sync_id, deleted_at=None)
            .first()
        )
        if sync is None:
            raise not_found(f"No sync {sync_id!r}.")
        return sync


class SyncListView(SyncViewMixin, ApiView):
    @schema.sync_list
    def get(self, request: Request) -> Response:
        syncs = Sync.objects.filter(workspace=self.workspace, deleted_at=None).select_related("last_run")
        if destination_id := request.query_params.get("destination_id"):
            syncs = syncs.filter(destination_id=destination_id)
        if request.query_params.get("enabled"):
            syncs = syncs.filter(enabled=query_bool(request, "enabled", True))
        return Response(keyset_page(request, syncs, sync_resource))

    @schema.sync_create
    def post(self, request: Request) -> Response:
        return idempotent(request, self._create)

    def _create(self) -> Response:
        try:
            sync = sync_create(workspace=self.workspace, data=self.sync_body(), actor=self.principal.name)
        except SyncValidationError as exc:
            raise _invalid_sync(exc) from exc
        return Response({"data": sync_resource(sync)}, status=201)


class SyncDetailView(SyncViewMixin, ApiView):
    @schema.sync_retrieve
    def get(self, request: Request, sync_id: str) -> Response:
        return Response({"data": sync_resource(self.get_sync(sync_id))})

    @schema.sync_update
    def put(self, request: Request, sync_id: str) -> Response:
        sync = self.get_sync(sync_id)
        try:
            sync = sync_update(sync=sync, data=self.sync_body(), actor=self.principal.name)
        except SyncValidationError as exc:
            raise _invalid_sync(exc) from exc
        return Response({"data": sync_resource(sync)})

    @schema.sync_destroy
    def delete(self, request: Request, sync_id: str) -> Response:
        sync_delete(sync=self.get_sync(sync_id), actor=self.principal.name)
        return Response(status=204)


class SyncRunView(SyncViewMixin, ApiView):
    required_scope = "syncs:run"  # type: ignore[assignment]

    @schema.sync_run
    def post(self, request: Request) -> Response:
        return idempotent(request, self._run)

    def _run(self) -> Response:
        data = self.payload()
        errors: dict[str, list[str]] = {}
        _unknown_fields(data, RUN_FIELDS, errors)
        one, many = data.get("sync_id"), data.get("sync_ids")
        ids: list[str] = []
        if (one is None) == (many is None):
            errors["syncId"] = ['Give either syncId ("…") or syncIds (["…", …]), not both.']
        elif one is not None:
            if isinstance(one, str) and one:
                ids = [one]
            else:
                errors["syncId"] = ["syncId must be a sync id (a string)."]
        elif not isinstance(many, list) or not many or not all(isinstance(i, str) and i for i in many):
            errors["syncIds"] = ["syncIds must be a non-empty list of sync ids."]
        elif len(many) > schema.MAX_RUN_IDS:
            errors["syncIds"] = [f"At most {schema.MAX_RUN_IDS} syncs per request (got {len(many)})."]
        else:
            ids = list(dict.fromkeys(many))  # one run per sync, even if an id is repeated
        full_resync = data.get("full_resync", False)
        if not isinstance(full_resync, bool):
            errors["fullResync"] = ["fullResync must be true or false."]
        if errors:
            raise validation_error(errors)
        found = {s.pk: s for s in Sync.objects.filter(workspace=self.workspace, deleted_at=None, pk__in=ids)}
        if missing := [i for i in ids if i not in found]:
            # Nothing is queued when any id is unknown: a partial batch is harder to retry.
            raise not_found(f"No sync {', '.join(repr(i) for i in missing)}.", {"ids": missing})
        results = sync_run(
            syncs=[found[i] for i in ids], full_resync=full_resync, requested_by=self.principal.name
        )
        return Response(
            {"data": [run_resource(run, deduplicated=deduplicated) for run, deduplicated in results]},
            status=202,
        )


class SyncToggleView(SyncViewMixin, ApiView):
    @schema.sync_toggle
    def post(self, request: Request) -> Response:
        return idempotent(request, self._toggle)

    def _toggle(self) -> Response:
        data = self.payload()
        errors: dict[str, list[str]] = {}
        _unknown_fields(data, TOGGLE_FIELDS, errors)
        sync_id, enabled = data.get("sync_id"), data.get("enabled")
        if not isinstance(sync_id, str) or not sync_id:
            errors["syncId"] = ["syncId is required: the id of the sync to enable or pause."]
        if not isinstance(enabled, bool):
            errors["enabled"] = ["enabled is required: true to enable the sync, false to pause it."]
        if errors:
            raise validation_error(errors)
        sync = sync_toggle(sync=self.get_sync(sync_id), enabled=enabled, actor=self.principal.name)
        return Response({"data": sync_resource(sync)})
