"""SyncRun as the API contract shows it."""

from __future__ import annotations

from typing import Any

from apps.core.timefmt import iso
from apps.runs.models import SyncRun


def run_resource(run: SyncRun, *, deduplicated: bool | None = None) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "sync_id": run.sync_id,
        "status": run.status,
        "trigger": run.trigger,
        "full_resync": run.full_resync,
        "created_at": iso(run.created_at),
        "started_at": iso(run.started_at),
        "finished_at": iso(run.finished_at),
        "duration_seconds": run.duration_seconds,
        "metrics": run.metrics,
        "progress": round(run.progress, 4),
        "phase_timings": run.phase_timings,
        "error": {"code": run.error_code, "message": run.error_message} if run.error_code else None,
    }
    if deduplicated is not None:
        attributes["deduplicated"] = deduplicated
    return {"id": run.id, "type": "reverse_etl_run", "attributes": attributes}
