"""Dry run: plan a sync's next run — what it would add, change, remove, reject — writing nothing."""

from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson
from django.conf import settings

from apps.connections.services import connector_for
from apps.engine import closing
from apps.engine.coercion import split_reason
from apps.engine.plan import build_spec
from apps.engine.query import compile_extract
from apps.engine.state import state_store_for
from apps.engine.workbench import Workbench
from apps.syncs.models import Sync, SyncState


@dataclass
class Preview:
    rows_read: int
    rows_to_add: int
    rows_to_change: int
    rows_to_remove: int
    rows_unchanged: int
    rows_invalid: int
    invalid_samples: list[dict[str, Any]] = field(default_factory=list)
    sample_payloads: list[dict[str, Any]] = field(default_factory=list)
    state_reset: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def preview_sync(*, sync: Sync, full_resync: bool = False, samples: int = 5) -> Preview:
    destination = connector_for(sync.destination)
    spec = build_spec(sync, destination, full_resync=full_resync)
    source = connector_for(spec.source_connection)
    state = SyncState.objects.filter(sync_id=sync.id).first()
    state_valid = state is not None and state.fingerprint == spec.fingerprint
    work_dir = Path(tempfile.mkdtemp(prefix="preview-", dir=_engine_dir()))
    workbench = Workbench(work_dir)
    try:
        use_watermark = (
            spec.strategy == "watermark" and not full_resync and state_valid and state.watermark_value
        )
        query = compile_extract(
            source_sql=spec.source_sql,
            dialect=source.dialect,
            fields=spec.fields,
            watermark_column=spec.watermark_column if spec.strategy == "watermark" else "",
            watermark_value=orjson.loads(state.watermark_value) if use_watermark else None,
            # The same hashes a run computes, so unchanged rows compare equal to the state.
            row_hash_sql=source.row_hash_sql([f.column for f in spec.fields]),
        )
        workbench.attach_source(
            source.stream(query.sql, params=query.params), [f.column for f in spec.fields]
        )
        state_table = _read_only_state(workbench, sync.id) if state_valid else None
        workbench.build_work(
            fields=spec.fields,
            mode=spec.mode,
            state_table=state_table,
            force_send=spec.strategy == "none" or full_resync,
        )
        removes = spec.mode == "mirror" and spec.strategy != "watermark" and state_table is not None
        if removes:
            workbench.build_removed(state_table)
        counts = workbench.counts(with_removed=removes)
        invalid = []
        for rows in workbench.invalid_rows(spec.fields, batch_size=samples):
            for row in rows[:samples]:
                code, field_name, message = split_reason(row["reason"])
                invalid.append(
                    {
                        "record_key": row["key"],
                        "error_code": code,
                        "field": field_name,
                        "message": message,
                        "row_preview": orjson.loads(row["preview"]),
                    }
                )
            break
        return Preview(
            rows_read=counts.read,
            rows_to_add=counts.added,
            rows_to_change=counts.changed,
            rows_to_remove=counts.removed,
            rows_unchanged=counts.unchanged,
            rows_invalid=counts.invalid,
            invalid_samples=invalid,
            sample_payloads=[orjson.loads(p) for p in workbench.sample_payloads(samples)],
            state_reset=not state_valid,
        )
    finally:
        workbench.close()
        source.close()
        destination.close()


def _engine_dir() -> Path:
    path = Path(settings.SYNCLINE_VAR_DIR) / "engine"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _read_only_state(workbench: Workbench, sync_id: str) -> str | None:
    """The accepted state, readable without changing it (and without a lock a run needs)."""
    store = state_store_for(sync_id)
    if store.backend == "file":
        path = Path(store.location)
        if not path.exists():
            return None
        closing.wait_for(store.location)
        closing.attach_with_retry(workbench.con, f"ATTACH '{path}' AS sync_state (READ_ONLY)")
        return "sync_state.rows"
    return store.attach(workbench.con)
