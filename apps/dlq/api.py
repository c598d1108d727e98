"""Dead letter queue: list, entry, stats, resolve (with replay)."""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.response import Response

from apps.api.errors import invalid_request, not_found, validation_error
from apps.api.idempotency import idempotent
from apps.api.pagination import keyset_page
from apps.api.views import ApiView, query_bool
from apps.core.timefmt import parse_iso
from apps.dlq import api_schema as schema
from apps.dlq.models import DlqEntry
from apps.dlq.representations import dlq_entry
from apps.dlq.selectors import OPEN_PAGE_KEY, dlq_entries, dlq_stats
from apps.dlq.services import dlq_resolve
from apps.runs.representations import run_resource


class DlqListView(ApiView):
    required_scope = "dlq:read"

    @schema.dlq_list
    def get(self, request: Request) -> Response:
        params = request.query_params
        resolved = query_bool(request, "resolved", False)
        entries = dlq_entries(
            workspace_id=self.workspace.pk,
            resolved=resolved,
            sync_id=params.get("sync_id"),
            error_code=params.get("error_code"),
        )
        key = "pk" if resolved else OPEN_PAGE_KEY
        return Response(keyset_page(request, entries, dlq_entry, key=key))


class DlqEntryView(ApiView):
    required_scope = "dlq:read"

    @schema.dlq_entry
    def get(self, request: Request, entry_id: str) -> Response:
        entry = DlqEntry.objects.filter(workspace=self.workspace, pk=entry_id).first()
        if entry is None:
            raise not_found(f"No DLQ entry {entry_id!r}.")
        return Response({"data": dlq_entry(entry)})


class DlqStatsView(ApiView):
    required_scope = "dlq:read"

    @schema.dlq_stats
    def get(self, request: Request) -> Response:
        since = None
        if raw := request.query_params.get("since"):
            try:
                since = parse_iso(raw)
            except ValueError:
                raise invalid_request(
                    "since must be an ISO 8601 timestamp.", {"since": [f"Got {raw!r}."]}
                ) from None
        stats = dlq_stats(
            workspace_id=self.workspace.pk, sync_id=request.query_params.get("sync_id"), since=since
        )
        return Response({"data": stats})


class DlqResolveView(ApiView):
    required_scope = "dlq:write"

    @schema.dlq_resolve
    def post(self, request: Request) -> Response:
        return idempotent(request, self._resolve)

    def _resolve(self) -> Response:
        data = self.payload()
        errors: dict[str, list[str]] = {}
        ids = data.get("ids")
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
            errors["ids"] = ["A non-empty list of DLQ entry ids is required."]
        elif len(ids) > schema.MAX_RESOLVE_IDS:
            errors["ids"] = [f"At most {schema.MAX_RESOLVE_IDS} ids per request."]
        reason = data.get("reason")
        if not isinstance(reason, str) or not reason.strip() or len(reason) > 64:
            errors["reason"] = ["A short reason code is required, e.g. fixed_upstream, skipped, manual_push."]
        note = data.get("note", "")
        if note is not None and not isinstance(note, str):
            errors["note"] = ["The note must be a string."]
        replay = data.get("replay", False)
        if not isinstance(replay, bool):
            errors["replay"] = ["replay must be true or false."]
        if errors:
            raise validation_error(errors)
        result = dlq_resolve(
            workspace_id=self.workspace.pk,
            ids=ids,
            reason=reason.strip(),
            note=note or "",
            replay=replay,
            by=self.principal.name,
        )
        return Response(
            {
                "data": {
                    "resolved": result.resolved,
                    "already_resolved": result.already_resolved,
                    "not_found": result.not_found,
                    "replay_runs": [run_resource(r) for r in result.replay_runs],
                }
            }
        )
