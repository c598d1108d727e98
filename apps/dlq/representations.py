"""DlqEntry as the API contract shows it: a flat object."""

from __future__ import annotations

from typing import Any

from apps.core.timefmt import iso
from apps.dlq.models import DlqEntry


def dlq_entry(entry: DlqEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "sync_id": entry.sync_id,
        "run_id": entry.run_id,
        "destination_id": entry.destination_id,
        "object_name": entry.object_name,
        "record_key": entry.record_key,
        "error_code": entry.error_code,
        "error_message": entry.error_message,
        "destination_status": entry.destination_status,
        "retryable": entry.retryable,
        "retry_count": entry.retry_count,
        "failed_at": iso(entry.failed_at),
        "row_preview": entry.row_preview,
        "payload": entry.payload,
        "resolved": entry.resolved,
        "resolved_at": iso(entry.resolved_at),
        "resolution": entry.resolution,
        "replay_run_id": entry.replay_run_id,
        "previous_entry_id": entry.previous_entry_id,
    }
