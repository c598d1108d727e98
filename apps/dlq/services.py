"""DLQ use cases the engine needs: record failures, resolve entries whose rows went through."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from django.db import connection, transaction
from django.utils import timezone

from apps.audit.services import audit_record
from apps.core.sql import in_condition
from apps.dlq.counters import CountDeltas, CountKey, utc_day
from apps.dlq.models import DlqEntry
from apps.dlq.open_entries import mark_open, refresh_open
from apps.dlq.resolving import ResolvedEntry, resolve_entries
from apps.runs.models import RunTrigger, SyncRun
from apps.syncs.models import Sync

SUCCEEDED_ON_RETRY = "succeeded_on_retry"
SYSTEM_ACTOR = "syncline"
_CHUNK = 500


@dataclass(frozen=True)
class Failure:
    record_key: str | None
    error_code: str
    error_message: str
    destination_status: int | None = None
    retryable: bool = False
    retries: int = 0
    payload: dict[str, Any] | None = None
    row_preview: dict[str, Any] | None = None


def dlq_record_failures(*, run: SyncRun, object_name: str, failures: list[Failure]) -> int:
    """Open (or refresh) one DLQ entry per failed record; return how many entries were touched.

    A record that fails again while its entry is still open refreshes that entry (error, run,
    time, retry count) instead of piling up duplicates. After a replay, a record that fails again
    opens a new entry linked to the one the replay resolved.
    """
    if not failures:
        return 0
    now = timezone.now()
    keyed = [f for f in failures if f.record_key is not None]
    touched = 0
    with transaction.atomic():
        open_by_key: dict[str, DlqEntry] = {}
        for start in range(0, len(keyed), _CHUNK):
            keys = [f.record_key for f in keyed[start : start + _CHUNK]]
            for entry in DlqEntry.objects.filter(sync_id=run.sync_id, resolved=False, record_key__in=keys):
                open_by_key[entry.record_key] = entry
        # Rows without a key can only be recognised by their content.
        keyless_open = (
            {
                _payload_identity(e.payload): e
                for e in DlqEntry.objects.filter(sync_id=run.sync_id, resolved=False, record_key__isnull=True)
            }
            if len(keyed) < len(failures)
            else {}
        )
        previous = (
            _replayed_entries(run, [f.record_key for f in keyed]) if run.trigger == RunTrigger.REPLAY else {}
        )
        to_update: list[DlqEntry] = []
        to_create: list[DlqEntry] = []
        deltas = CountDeltas()
        counted: set[str] = set()  # entries whose old (code, day) has been taken off the counters
        for failure in failures:
            if failure.record_key is not None:
                entry = open_by_key.get(failure.record_key)
            else:
                entry = keyless_open.pop(_payload_identity(failure.payload or {}), None)
            if entry is None:
                entry = DlqEntry(
                    workspace_id=run.workspace_id,
                    sync_id=run.sync_id,
                    destination_id=run.sync.destination_id,
                    object_name=object_name,
                    record_key=failure.record_key,
                    previous_entry=previous.get(failure.record_key),
                )
                to_create.append(entry)
                if failure.record_key is not None:
                    open_by_key[failure.record_key] = entry
            else:
                entry.retry_count += 1
                to_update.append(entry)
                if not entry._state.adding and entry.pk not in counted:
                    # A refreshed open entry moves off its old code and day (once per entry).
                    counted.add(entry.pk)
                    deltas.open(_count_key(entry), -1)
            entry.run_id = run.id
            entry.error_code = failure.error_code
            entry.error_message = failure.error_message[:4000]
            entry.destination_status = failure.destination_status
            entry.retryable = failure.retryable
            entry.retry_count += failure.retries
            entry.failed_at = now
            entry.payload = failure.payload or {}
            entry.row_preview = failure.row_preview or entry.row_preview or {}
            touched += 1
        DlqEntry.objects.bulk_create(to_create, batch_size=_CHUNK)
        DlqEntry.objects.bulk_update(
            to_update,
            [
                "run_id",
                "error_code",
                "error_message",
                "destination_status",
                "retryable",
                "retry_count",
                "failed_at",
                "payload",
                "row_preview",
            ],
            batch_size=_CHUNK,
        )
        # Open marks, then counters, after entries, as in every DLQ write: one lock order, so a
        # run recording failures and a user resolving entries cannot deadlock on each other.
        mark_open(to_create)
        created = {e.pk for e in to_create}
        refresh_open({e.pk: e for e in to_update if e.pk not in created}.values())
        for entry in {e.pk: e for e in [*to_create, *to_update]}.values():
            deltas.open(_count_key(entry))
        deltas.apply()
    return touched


def _count_key(entry: DlqEntry) -> CountKey:
    return (entry.workspace_id, entry.sync_id, entry.error_code, utc_day(entry.failed_at))


def _payload_identity(payload: dict[str, Any]) -> bytes:
    return orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)


def _replayed_entries(run: SyncRun, keys: list[str]) -> dict[str, DlqEntry]:
    entries = DlqEntry.objects.filter(sync_id=run.sync_id, replay_run=run, record_key__in=keys)
    return {e.record_key: e for e in entries}


def open_dlq_keys(*, sync_id: str) -> set[str]:
    return set(
        DlqEntry.objects.filter(sync_id=sync_id, resolved=False, record_key__isnull=False).values_list(
            "record_key", flat=True
        )
    )


def dlq_resolve_succeeded(*, sync_id: str, keys: list[str]) -> int:
    """Resolve the open entries of records that have now been written."""
    if not keys:
        return 0
    now = timezone.now()
    resolved = 0
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        resolved += len(
            resolve_entries(
                where=f"sync_id = %s AND record_key IN ({', '.join(['%s'] * len(chunk))})",
                params=[sync_id, *chunk],
                resolved_at=now,
                reason=SUCCEEDED_ON_RETRY,
                note="",
                by=SYSTEM_ACTOR,
            )
        )
    return resolved


@dataclass
class ResolveResult:
    resolved: list[str]
    already_resolved: list[str]
    not_found: list[str]
    replay_runs: list[SyncRun]


def dlq_resolve(
    *, workspace_id: str, ids: list[str], reason: str, note: str = "", replay: bool = False, by: str = ""
) -> ResolveResult:
    """Resolve open entries; with ``replay``, start one run per affected sync that re-reads the
    CURRENT warehouse rows for those keys and writes them (trigger ``replay``)."""
    wanted = list(dict.fromkeys(ids))
    now = timezone.now()
    with transaction.atomic():
        # Replay runs first (one per sync with open, keyed entries among the ids), so the one
        # UPDATE that resolves an entry also points it at its run: each entry is written once.
        run_by_sync = _replay_runs_for(workspace_id, wanted, by) if replay and wanted else {}
        # Set-based: one UPDATE … RETURNING resolves the open entries of this workspace among the
        # ids and says which they were; only the ids it did not return are looked up, to tell
        # "already resolved" from "not found". Whole rows (payloads) are never loaded.
        where, params = in_condition("id", wanted)
        changed = {
            e.id: e
            for e in (
                resolve_entries(
                    where=f"workspace_id = %s AND {where}",
                    params=[workspace_id, *params],
                    resolved_at=now,
                    reason=reason,
                    note=note,
                    by=by,
                    replay_run_by_sync={s: r.id for s, r in run_by_sync.items()},
                )
                if wanted
                else ()
            )
        }
        others = [i for i in wanted if i not in changed]
        existing = set(
            DlqEntry.objects.filter(workspace_id=workspace_id, id__in=others).values_list("id", flat=True)
            if others
            else ()
        )
        resolved_ids = [i for i in wanted if i in changed]
        already = [i for i in others if i in existing]
        not_found = [i for i in others if i not in existing]
        if resolved_ids:
            audit_record(
                workspace_id=workspace_id,
                actor=by,
                action="dlq.resolved",
                object_type="dlq_entry",
                details={"ids": resolved_ids, "reason": reason, "note": note, "replay": replay},
            )
        replay_runs = _audit_replays([changed[i] for i in resolved_ids], run_by_sync, workspace_id, by)
    return ResolveResult(resolved_ids, already, not_found, replay_runs)


def _replay_runs_for(workspace_id: str, ids: list[str], by: str) -> dict[str, SyncRun]:
    """A replay run for each sync (not deleted) with open entries that have a key among ``ids``.

    Should another resolve take all of a sync's entries first, its run replays nothing.
    """
    where, params = in_condition("id", ids)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT sync_id FROM {DlqEntry._meta.db_table} WHERE workspace_id = %s AND {where} "
            "AND resolved = %s AND record_key IS NOT NULL",
            [workspace_id, *params, False],
        )
        sync_ids = sorted(row[0] for row in cursor.fetchall())
    syncs = Sync.objects.filter(pk__in=sync_ids, deleted_at__isnull=True).in_bulk()
    return {sync_id: _replay_run(syncs[sync_id], by) for sync_id in sync_ids if sync_id in syncs}


def _audit_replays(
    resolved: list[ResolvedEntry], run_by_sync: dict[str, SyncRun], workspace_id: str, by: str
) -> list[SyncRun]:
    """Record which entries each replay run re-reads; return the runs in the order of the ids."""
    entries_of: dict[str, list[str]] = {}
    for entry in resolved:
        if entry.keyed and entry.sync_id in run_by_sync:
            entries_of.setdefault(entry.sync_id, []).append(entry.id)
    for sync_id, entry_ids in entries_of.items():
        run = run_by_sync[sync_id]
        audit_record(
            workspace_id=workspace_id,
            actor=by,
            action="dlq.replayed",
            object_type="sync",
            object_id=run.sync_id,
            details={"run_id": run.id, "ids": entry_ids},
        )
    return [run_by_sync[sync_id] for sync_id in entries_of]


def _replay_run(sync: Sync, by: str) -> SyncRun:
    """A replay run for the entries' sync. If the sync is already running, that run is returned:
    the resolved entries' rows are not in the accepted state, so it sends them anyway."""
    from apps.runs.services import run_enqueue  # runs.services imports syncs; keep import order simple

    run, _ = run_enqueue(sync=sync, trigger=RunTrigger.REPLAY, requested_by=by)
    return run
