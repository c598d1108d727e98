"""Sync as the API contract shows it."""

from __future__ import annotations

from typing import Any

from apps.core.timefmt import iso
from apps.syncs.models import Sync, SyncStatus


def sync_resource(sync: Sync) -> dict[str, Any]:
    last_run = sync.last_run
    attributes: dict[str, Any] = {
        "name": sync.name,
        "source_query": sync.source_query,
        # null = the workspace's default warehouse at run time (it follows a change of default).
        "source_id": sync.source_id,
        "destination_id": sync.destination_id,
        "object_name": sync.object_name,
        "field_mappings": [
            {"source": m.get("source"), "destination": m.get("destination"), "key": bool(m.get("key", False))}
            for m in sync.field_mappings
        ],
        "sync_mode": sync.sync_mode,
        "schedule": sync.schedule,
        "enabled": sync.enabled,
        # A disabled sync is paused whatever its last run said.
        "status": sync.status if sync.enabled else SyncStatus.PAUSED.value,
        "incremental": sync.incremental,
        "last_run": (
            {"id": last_run.id, "status": last_run.status, "finished_at": iso(last_run.finished_at)}
            if last_run is not None
            else None
        ),
        "next_run_at": iso(sync.next_run_at),
        "created_at": iso(sync.created_at),
        "updated_at": iso(sync.updated_at),
    }
    return {"id": sync.id, "type": "reverse_etl_sync", "attributes": attributes}
