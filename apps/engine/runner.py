"""One sync run, from a queued SyncRun to a finished one whose counts balance.

plan → extract → diff → validate (invalid rows to the DLQ, no request) → load + commit per
acknowledged batch → record. See docs/engine.md.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pyarrow as pa
from django.conf import settings
from django.db.models import F

from apps.connections.services import connector_for
from apps.connectors.base import ConnectorError, Destination, ErrorCode, OutgoingBatch, Source
from apps.connectors.json_rows import JsonRows
from apps.connectors.ratelimit import limiter_for
from apps.connectors.registry import ConfigError
from apps.dlq.models import DlqEntry
from apps.dlq.services import Failure, dlq_record_failures, dlq_resolve_succeeded, open_dlq_keys
from apps.engine import closing, pushdown
from apps.engine.coercion import split_reason
from apps.engine.heartbeat import Heartbeat
from apps.engine.loader import PendingBatch, RetryPolicy, RunStopped, run_batches, send_with_retries
from apps.engine.metrics import PhaseTimer, RunMetrics
from apps.engine.plan import PlanError, build_spec
from apps.engine.query import MappingError, compile_extract
from apps.engine.spec import RunSpec
from apps.engine.state import InDoubtBatch, StateStore, state_store_for
from apps.engine.workbench import Workbench, make_spare
from apps.runs.models import RunStatus, RunTrigger, SyncRun
from apps.runs.services import run_claim, run_finish, run_heartbeat
from apps.syncs.models import SyncState

logger = logging.getLogger(__name__)
_NO_ROWS = pa.table({"key": pa.array([], pa.string()), "row_hash": pa.array([], pa.uint64())})
SOURCE_BATCH_ROWS = 20_000  # per Arrow batch from the warehouse: ~5 MB at 10 columns
PROGRESS_EVERY_SECONDS = 1.0


def run_sync(run_id: str) -> SyncRun | None:
    """Execute a queued run. Returns the finished run, or None if it was not ours to run.

    Database connection hygiene around it is the caller's: Celery's Django fix-up closes stale
    connections before and after each task.
    """
    run = run_claim(run_id=run_id)
    if run is None:
        logger.info("run %s is not queued any more; skipping", run_id)
        return None
    with Heartbeat(run.id) as heartbeat:
        return SyncExecution(run, heartbeat).execute()


class SyncExecution:
    def __init__(self, run: SyncRun, heartbeat: Heartbeat) -> None:
        self.run = run
        self.sync = run.sync
        self.heartbeat = heartbeat
        self.metrics = RunMetrics()
        self.timer = PhaseTimer()
        self.progress = 0.0
        self._last_progress_write = 0.0
        self._batch_number = 0
        self.recovered: list[InDoubtBatch] = []
        self._state_table: str | None = None
        self._keys_on_demand = False  # the state table holds only keys loaded for this run
        self._order_to_save = False

    # --- the run -----------------------------------------------------------------------------
    def execute(self) -> SyncRun:
        workbench: Workbench | None = None
        source: Source | None = None
        destination: Destination | None = None
        store: StateStore | None = None
        try:
            destination = connector_for(self.sync.destination)  # type: ignore[assignment]
            with self.timer.phase("plan"):
                spec = build_spec(self.sync, destination, full_resync=self.run.full_resync)
                source = connector_for(spec.source_connection)  # type: ignore[assignment]
                source.prepare()
                store = state_store_for(self.sync.id)
                state = self._state_for(spec, store)
            workbench = Workbench(Path(settings.SYNCLINE_VAR_DIR) / "engine" / self.run.id)
            self._extract(spec, source, workbench, state, store)
            self._diff(spec, store, workbench)
            self._dlq_invalid(spec, workbench)
            status = self._load(spec, destination, store, workbench)
            if spec.strategy == "watermark" and self.run.trigger != RunTrigger.REPLAY:
                self._save_watermark(state, workbench)
            return self._finish(status)
        except RunStopped as exc:
            return self._finish(
                RunStatus.FAILED, (exc.error.code, f"The destination refused the run: {exc.error.message}")
            )
        except PlanError as exc:
            return self._finish(RunStatus.FAILED, (exc.code, str(exc)))
        except MappingError as exc:
            return self._finish(RunStatus.FAILED, (ErrorCode.VALIDATION_FAILED, str(exc)))
        except ConfigError as exc:  # a stored config a newer rule refuses (e.g. a data directory)
            message = f"A connection's stored config is no longer valid; edit the connection: {exc}"
            return self._finish(RunStatus.FAILED, (ErrorCode.VALIDATION_FAILED, message))
        except ConnectorError as exc:
            return self._finish(RunStatus.FAILED, (exc.code, exc.message))
        except Exception as exc:  # a run must always end with a status and a reason
            logger.exception("run %s failed", self.run.id)
            return self._finish(RunStatus.FAILED, ("internal_error", f"{type(exc).__name__}: {exc}"))
        finally:
            for closeable in (source, destination):
                if closeable is not None:
                    closeable.close()
            if workbench is not None:
                self._close_later(store, workbench)

    def _close_later(self, store: StateStore | None, workbench: Workbench) -> None:
        """Once the run is recorded, on a thread (``closing``): save its row order, close the
        workbench (the state file's checkpoint) and make the next run's database. None of it
        changes what the run did, so none of it holds the run up. Keyed by the state file the
        workbench attached, which the sync's next run waits for."""
        save_order = self._order_to_save and store is not None

        def wrap_up() -> None:
            try:
                if save_order:
                    assert store is not None
                    self._save_row_order(store, workbench)
            finally:
                workbench.close()
                make_spare()

        attached_file = store is not None and store.backend == "file"
        closing.close_later(store.location if attached_file else self.run.id, wrap_up)

    # --- phases ------------------------------------------------------------------------------
    def _state_for(self, spec: RunSpec, store: StateStore) -> SyncState:
        state, _ = SyncState.objects.get_or_create(sync_id=self.sync.id)
        if state.fingerprint != spec.fingerprint or state.backend != store.backend:
            # Query, mappings, object, mode or store changed: the old state no longer describes
            # what the destination holds. Start over; this run sends every row.
            store.reset()
            state.fingerprint = spec.fingerprint
            state.backend = store.backend
            state.location = store.location
            state.version = 0
            state.row_count = 0
            state.watermark_value = ""
            state.save()
        return state

    def _extract(
        self, spec: RunSpec, source: Source, workbench: Workbench, state: SyncState, store: StateStore
    ) -> None:
        with self.timer.phase("extract"):
            use_watermark = (
                spec.strategy == "watermark"
                and not spec.full_resync
                and self.run.trigger != RunTrigger.REPLAY
            )
            query = compile_extract(
                source_sql=spec.source_sql,
                dialect=source.dialect,
                fields=spec.fields,
                watermark_column=spec.watermark_column if spec.strategy == "watermark" else "",
                watermark_value=orjson.loads(state.watermark_value)
                if use_watermark and state.watermark_value
                else None,
                row_hash_sql=source.row_hash_sql([f.column for f in spec.fields]),
            )
            forced = spec.full_resync or self.run.trigger == RunTrigger.REPLAY
            pushed_down = False
            if pushdown.applies(spec, source, query, state_rows=state.row_count, forced=forced):
                pushed_down = pushdown.extract_changed_rows(
                    spec=spec,
                    source=source,
                    workbench=workbench,
                    extract=query,
                    state_table=self._attach_hashes(spec, store, workbench),
                    batch_rows=SOURCE_BATCH_ROWS,
                    saved_order=store.saved_order(),
                )
                self._settle_state_keys(store, workbench, pushed_down=pushed_down)
            if not pushed_down:
                columns = [f.column for f in spec.fields]
                workbench.attach_source(
                    source.stream(query.sql, params=query.params, batch_size=SOURCE_BATCH_ROWS), columns
                )
        self._set_progress(0.1, force=True)

    def _attach_state(self, store: StateStore, workbench: Workbench) -> str:
        """The accepted state, attached to the workbench once per run."""
        if self._state_table is None:
            self._state_table = store.attach(workbench.con)
        return self._state_table

    def _attach_hashes(self, spec: RunSpec, store: StateStore, workbench: Workbench) -> str:
        """The accepted hashes, for a hash pass; a store that loads keys at a cost then loads
        only those of the rows read in full. Mirror syncs need every key (removals)."""
        if spec.mode == "mirror":
            return self._attach_state(store, workbench)
        attached = store.attach_hashes(workbench.con)
        self._state_table, self._keys_on_demand = attached.rows, attached.keys_on_demand
        return attached.hashes

    def _settle_state_keys(self, store: StateStore, workbench: Workbench, *, pushed_down: bool) -> None:
        """After a hash pass on a state that holds keys on demand: the rows read in full ask for
        theirs (``Workbench.build_work``); a fall-back to reading every row needs every key."""
        if not self._keys_on_demand:
            return
        if pushed_down:
            workbench.load_state_keys = lambda keys: store.load_keys(workbench.con, keys)
        else:
            self._state_table, self._keys_on_demand = store.attach(workbench.con), False

    def _diff(self, spec: RunSpec, store: StateStore, workbench: Workbench) -> None:
        # The source streams into the diff: time spent waiting on the warehouse counts as
        # extract, the rest as diff.
        started, extract_before = time.perf_counter(), workbench.extract_seconds
        try:
            self._build_diff(spec, store, workbench)
        finally:
            waited = workbench.extract_seconds - extract_before
            self.timer.add("extract", waited)
            self.timer.add("diff", time.perf_counter() - started - waited)
        self._set_progress(0.35, force=True)

    def _build_diff(self, spec: RunSpec, store: StateStore, workbench: Workbench) -> None:
        state_table = self._attach_state(store, workbench)
        replay_keys = self._replay_keys() if self.run.trigger == RunTrigger.REPLAY else None
        force = spec.strategy == "none" or spec.full_resync or replay_keys is not None
        workbench.build_work(
            fields=spec.fields,
            mode=spec.mode,
            state_table=state_table,
            force_send=force,
            replay_keys=replay_keys,
        )
        removes = spec.mode == "mirror" and spec.strategy != "watermark" and replay_keys is None
        if removes:
            workbench.build_removed(state_table)
        self.recovered = self._recover_in_doubt(store, workbench, removes)
        counts = workbench.counts(with_removed=removes)
        if replay_keys is not None:
            self._dlq_missing_replay_rows(spec, workbench, replay_keys)
        m = self.metrics
        m.rows_read = counts.read
        m.rows_invalid, m.rows_added, m.rows_changed = counts.invalid, counts.added, counts.changed
        m.rows_unchanged, m.rows_removed = counts.unchanged, counts.removed

    def _recover_in_doubt(self, store: StateStore, workbench: Workbench, removes: bool) -> list[InDoubtBatch]:
        """Batches a killed run sent without committing their outcome.

        One whose rows are all still to be sent with the same content is resent exactly as it was
        (same rows, same order, same Idempotency-Key), so a destination that already applied it
        applies it once. Any other is dropped: its rows changed, or were committed after all.
        """
        doubts = store.in_doubt()
        if not doubts:
            return []
        recoverable = workbench.recoverable(doubts, removes=removes)
        for doubt in doubts:
            if doubt.batch_key not in recoverable:
                store.settle(doubt.batch_key)
        kept = [d for d in doubts if d.batch_key in recoverable]
        workbench.exclude_keys([k for d in kept for k in d.keys])
        return kept

    def _replay_keys(self) -> list[str]:
        return list(
            DlqEntry.objects.filter(
                workspace_id=self.run.workspace_id,
                sync_id=self.run.sync_id,
                replay_run=self.run,
                record_key__isnull=False,
            )
            .values_list("record_key", flat=True)
            .distinct()
        )

    def _dlq_missing_replay_rows(self, spec: RunSpec, workbench: Workbench, replay_keys: list[str]) -> None:
        found = set(workbench.con.execute("SELECT DISTINCT key FROM work").fetchall())
        missing = [k for k in replay_keys if (k,) not in found]
        dlq_record_failures(
            run=self.run,
            object_name=spec.object.name,
            failures=[
                Failure(
                    k,
                    ErrorCode.SOURCE_ROW_MISSING,
                    f"Replay found no row with key {k!r} in the current query result.",
                )
                for k in missing
            ],
        )

    def _dlq_invalid(self, spec: RunSpec, workbench: Workbench) -> None:
        with self.timer.phase("validate"):
            if not self.metrics.rows_invalid:  # counted by the diff: no query for none
                return
            for rows in workbench.invalid_rows(spec.fields):
                failures = []
                for row in rows:
                    code, field, message = split_reason(row["reason"])
                    failures.append(
                        Failure(
                            record_key=row["key"],
                            error_code=code,
                            error_message=f"{field}: {message}",
                            payload=orjson.loads(row["row_json"]),
                            row_preview=orjson.loads(row["preview"]),
                        )
                    )
                dlq_record_failures(run=self.run, object_name=spec.object.name, failures=failures)

    def _load(self, spec: RunSpec, destination: Destination, store: StateStore, workbench: Workbench) -> str:
        key_field = spec.key_field
        match_key = key_field.spec.name if key_field else None
        rate, burst = destination.rate_limit()
        scope = destination.rate_limit_scope() or spec.destination_id
        limiter = limiter_for(f"destination:{scope}", rate, burst, settings.SYNCLINE_REDIS_URL or None)
        policy = RetryPolicy(
            max_retries=settings.SYNCLINE_MAX_RETRIES,
            base_delay=settings.SYNCLINE_RETRY_BASE_DELAY,
            max_delay=settings.SYNCLINE_RETRY_MAX_DELAY,
        )
        open_keys = open_dlq_keys(sync_id=self.sync.id)
        to_send = self.metrics.rows_added + self.metrics.rows_changed + self.metrics.rows_removed
        commit_seconds = 0.0
        load_started = time.perf_counter()

        def send(pending: PendingBatch) -> PendingBatch:
            return send_with_retries(
                destination, spec.object.name, pending, match_key=match_key, limiter=limiter, policy=policy
            )

        batches = self._batches(spec, destination, store, workbench, match_key)
        for done in run_batches(
            batches,
            send,
            concurrency=destination.concurrency(),
            should_stop=self.heartbeat.cancel_requested.is_set,
        ):
            started = time.perf_counter()
            self._commit(spec, store, workbench, done, open_keys)
            commit_seconds += time.perf_counter() - started
            sent = self.metrics.rows_written + self.metrics.rows_failed
            self._set_progress(0.35 + 0.6 * sent / max(1, to_send))
        self.timer.add("load", time.perf_counter() - load_started - commit_seconds)
        with self.timer.phase("commit"):
            store.finish(workbench.con, located=workbench.state_rowids())
        self._order_to_save = True  # once the run is recorded (``_close_later``)
        self.timer.add("commit", commit_seconds)
        if self.metrics.batches:
            SyncState.objects.filter(sync_id=self.sync.id).update(
                row_count=store.count(workbench.con),
                version=F("version") + self.metrics.batches,
                last_committed_run=self.run,
            )
        if self.heartbeat.cancel_requested.is_set():
            return RunStatus.CANCELED
        return RunStatus.SUCCEEDED

    def _save_row_order(self, store: StateStore, workbench: Workbench) -> None:
        """Keep this run's row order of accepted hashes for the next run's hash pass. Only a
        shortcut: failing to save it costs the next run a join, so it does not fail this run."""
        saved = store.saved_order()
        if saved is None or self._state_table is None:
            return
        log = workbench.order_to_save(state_changed=self.metrics.batches > 0)
        if log is None:
            return
        try:
            saved.adopt(log, workbench.state_fingerprint(self._state_table))
        except OSError:
            logger.warning(
                "run %s: could not save the row order in %s", self.run.id, saved.path, exc_info=True
            )
            saved.remove()

    def _batches(
        self,
        spec: RunSpec,
        destination: Destination,
        store: StateStore,
        workbench: Workbench,
        match_key: str | None,
    ) -> Iterator[PendingBatch]:
        """In-doubt batches of a killed run first (verbatim, same Idempotency-Key), then the rest.

        Each batch is recorded as an intent before it is handed to the sender, and settled once
        its outcome is committed (see ``_commit``). Keys and hashes stay Arrow arrays: no Python
        object per row unless a row fails.
        """
        write_mode = "upsert" if spec.mode == "mirror" else spec.mode
        for doubt in self.recovered:
            rows_json = (
                workbench.payloads(doubt.keys)
                if doubt.mode != "delete"
                else self._delete_rows(doubt.keys, match_key)
            )
            yield self._pending(
                doubt.mode,
                pa.array(doubt.keys, pa.string()),
                pa.array(doubt.hashes, pa.uint64()),
                rows_json,
                store,
                batch_key=doubt.batch_key,
            )
        size = max(1, destination.batch_size(spec.object.name, write_mode))
        for arrow_batch in workbench.rows_to_send(size):
            keys, rows, hashes = arrow_batch.columns
            yield self._pending(write_mode, keys, hashes, JsonRows(rows), store)
        if spec.mode == "mirror" and match_key:
            delete_size = max(1, destination.batch_size(spec.object.name, "delete"))
            for keys in workbench.removed_keys(delete_size):
                yield self._pending(
                    "delete",
                    pa.array(keys, pa.string()),
                    pa.nulls(len(keys), pa.uint64()),
                    self._delete_rows(keys, match_key),
                    store,
                )

    @staticmethod
    def _delete_rows(keys: list[str], match_key: str | None) -> list[str]:
        return [orjson.dumps({match_key: k}).decode() for k in keys]

    def _pending(
        self,
        mode: str,
        keys: pa.Array,
        hashes: pa.Array,
        rows: list[str] | JsonRows,
        store: StateStore,
        *,
        batch_key: str | None = None,
    ) -> PendingBatch:
        self._batch_number += 1
        if batch_key is None:
            # Unique per run and batch: a later run sending the same rows is a new write, while a
            # resend of an in-doubt batch reuses the key it was first sent with.
            batch_key = hashlib.sha256(f"{self.run.id}|{self._batch_number}".encode()).hexdigest()[:40]
        store.intend(batch_key, mode, keys, hashes)
        if isinstance(rows, JsonRows):
            batch = OutgoingBatch(json_rows=rows, idempotency_key=batch_key)
        else:
            batch = OutgoingBatch(rows, idempotency_key=batch_key)
        return PendingBatch(self._batch_number, mode, keys, hashes, batch)

    def _commit(
        self, spec: RunSpec, store: StateStore, workbench: Workbench, done: PendingBatch, open_keys: set[str]
    ) -> None:
        """Advance the state for the acknowledged records of one batch; DLQ the rest."""
        failed = [o for o in done.outcomes if not o.ok]
        if failed:
            accepted_mask = pa.array([o.ok for o in done.outcomes], pa.bool_())
            ok_keys, ok_hashes = done.keys.filter(accepted_mask), done.hashes.filter(accepted_mask)
        else:
            ok_keys, ok_hashes = done.keys, done.hashes
        batch_key = done.batch.idempotency_key or ""
        if done.mode == "delete" and spec.mode == "mirror":
            store.commit(workbench.con, _NO_ROWS, ok_keys.to_pylist(), batch_key)
        else:
            accepted = pa.table({"key": ok_keys, "row_hash": ok_hashes})
            store.commit(workbench.con, accepted, [], batch_key)
            if spec.strategy == "watermark":
                workbench.record_accepted(ok_keys)
        if open_keys:
            resolved = [k for k in ok_keys.to_pylist() if k in open_keys]
            if resolved:
                dlq_resolve_succeeded(sync_id=self.sync.id, keys=resolved)
                open_keys.difference_update(resolved)
        if failed:
            self._dlq_rejected(spec, workbench, done, failed)
        self.metrics.rows_written += len(ok_keys)
        self.metrics.rows_failed += len(failed)
        self.metrics.batches += 1
        self.metrics.requests += done.requests

    def _dlq_rejected(self, spec: RunSpec, workbench: Workbench, done: PendingBatch, failed: list) -> None:
        keys = [done.keys[o.index].as_py() for o in failed]
        previews = workbench.previews(spec.fields, keys)
        records = done.batch.records
        dlq_record_failures(
            run=self.run,
            object_name=spec.object.name,
            failures=[
                Failure(
                    record_key=key,
                    error_code=o.error_code or ErrorCode.DESTINATION_REJECTED,
                    error_message=o.message or "rejected by the destination",
                    destination_status=o.status,
                    retryable=o.retryable,
                    retries=done.retries,
                    payload=records[o.index],
                    row_preview=orjson.loads(previews[key]) if key in previews else {},
                )
                for key, o in zip(keys, failed, strict=True)
            ],
        )

    def _save_watermark(self, state: SyncState, workbench: Workbench) -> None:
        value = workbench.next_watermark()
        if value is not None:
            state.watermark_value = orjson.dumps(value, default=str).decode()
            state.save(update_fields=["watermark_value", "updated_at"])

    # --- bookkeeping -------------------------------------------------------------------------
    def _set_progress(self, value: float, *, force: bool = False) -> None:
        self.progress = value
        now = time.monotonic()
        if force or now - self._last_progress_write >= PROGRESS_EVERY_SECONDS:
            self._last_progress_write = now
            if run_heartbeat(
                run=self.run, progress=value, metrics=self.metrics.as_dict(), phase_timings=self.timer.timings
            ):
                self.heartbeat.cancel_requested.set()

    def _finish(self, status: str, error: tuple[str, str] | None = None) -> SyncRun:
        if status == RunStatus.SUCCEEDED:
            problem = self.metrics.imbalance()
            if problem is not None:
                status, error = (
                    RunStatus.FAILED,
                    ("metrics_unbalanced", f"The run's counts do not balance: {problem}"),
                )
            elif self.metrics.rows_failed and not self.metrics.rows_written:
                status, error = (
                    RunStatus.FAILED,
                    (
                        "all_writes_failed",
                        "Every record sent was refused or lost; "
                        "see the dead letter queue for each one's reason.",
                    ),
                )
            elif self.metrics.rows_failed or self.metrics.rows_invalid:
                status = RunStatus.PARTIALLY_SUCCEEDED
        if status == RunStatus.CANCELED and error is None:
            error = ("canceled", "Canceled on request; batches already sent were committed.")
        return run_finish(
            run=self.run,
            status=status,
            metrics=self.metrics.as_dict(),
            phase_timings=self.timer.timings,
            error=error,
        )
