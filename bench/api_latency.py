"""REST API latency on PostgreSQL at scale: 1,000,000 DLQ entries and 100,000 runs.

Creates a throwaway PostgreSQL database on 127.0.0.1:5432 (user postgres, trust auth), migrates
it, seeds it with set-based SQL (ids made by ``apps.core.ids`` and COPYed in, every other column
derived in one INSERT ... SELECT), then times requests through the whole Django stack in-process
(``django.test.Client`` with a Bearer key: auth, scope check, rate limiting, pagination and
serialisation included). Prints p50/p95/max per scenario against the issue's targets. Asserts
nothing about speed; it does check that every request answered 200.

    .venv/bin/python bench/api_latency.py                  # seed, measure, drop the database
    .venv/bin/python bench/api_latency.py --keep           # keep it (its name is printed)
    .venv/bin/python bench/api_latency.py --database NAME  # reuse a kept database (no seeding)
    .venv/bin/python bench/api_latency.py --explain        # also EXPLAIN ANALYZE each scenario's SQL
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


from bench.harness import create_postgres_database, drop_postgres_database, machine  # noqa: E402

API = "/api/reverse-etl"
SYNCS = 20
SPAN = dt.timedelta(days=30)
# (error code, share in %, destination status, retryable)
ERROR_CODES = [
    ("invalid_field_value", 30, 400, False),
    ("destination_constraint_violation", 20, 400, False),
    ("missing_required_field", 12, 400, False),
    ("validation_failed", 10, None, False),
    ("destination_rejected", 8, 422, False),
    ("rate_limited", 6, 429, True),
    ("destination_unavailable", 5, 503, True),
    ("schema_drift", 3, 400, False),
    ("payload_too_large", 2, 413, False),
    ("permission_denied", 2, 403, False),
    ("auth_failed", 1, 401, False),
    ("source_row_missing", 1, None, False),
]
RESOLVE_BATCH = 10_000


# --- database ---------------------------------------------------------------------------------


def boot(database: str, var_dir: Path) -> None:
    os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{database}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.local"
    os.environ["SYNCLINE_VAR_DIR"] = str(var_dir)
    os.environ["SYNCLINE_API_RATE_LIMIT_PER_MINUTE"] = str(10**9)
    os.environ["SYNCLINE_ALLOW_PRIVATE_DESTINATIONS"] = "true"
    os.environ["ALLOWED_HOSTS"] = "testserver,127.0.0.1,localhost"
    os.environ["DEBUG"] = "false"  # DEBUG keeps every query in memory; measure as in production
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


# --- seeding ----------------------------------------------------------------------------------


def _copy_ids(cursor, table: str, prefix: str, count: int, start_ms: int, span_ms: int) -> None:
    """``table(n, id, ms)``: ``count`` ids made by apps.core.ids, ascending in time over the span."""
    from apps.core.ids import new_ulid

    cursor.execute(f"CREATE TEMP TABLE {table} (n integer PRIMARY KEY, id text NOT NULL, ms bigint NOT NULL)")
    with cursor.copy(f"COPY {table} (n, id, ms) FROM STDIN") as copy:
        buf = io.StringIO()
        for n in range(count):
            ms = start_ms + n * span_ms // count
            buf.write(f"{n}\t{prefix}_{new_ulid(now_ms=ms)}\t{ms}\n")
            if n % 50_000 == 49_999:
                copy.write(buf.getvalue())
                buf = io.StringIO()
        copy.write(buf.getvalue())


def seed(dlq_count: int, run_count: int) -> dict:
    from django.db import connection, transaction

    from apps.accounts.services import api_key_create, workspace_create
    from apps.connections.services import connection_create
    from apps.dlq.models import DlqEntry
    from apps.runs.models import SyncRun
    from apps.syncs.models import Sync

    started = time.perf_counter()
    workspace = workspace_create(slug="bench", name="Bench")
    issued = api_key_create(workspace=workspace, name="bench", scopes=["*"])
    dest = connection_create(
        workspace=workspace,
        role="destination",
        connector_type="http",
        name="sink",
        config={"url": "https://sink.example.com/records", "batch_size": 100},
    )
    syncs = [
        Sync.objects.create(
            workspace=workspace,
            name=f"bench_sync_{i:02d}",
            source_query=f"SELECT * FROM analytics.table_{i:02d}",
            destination=dest,
            object_name="records",
            field_mappings=[
                {"source": "id", "destination": "id", "key": True},
                {"source": "email", "destination": "email"},
            ],
        )
        for i in range(SYNCS)
    ]
    sync_ids = [s.id for s in syncs]
    end_ms = int(time.time() * 1000) - 60_000
    span_ms = int(SPAN.total_seconds() * 1000)
    start_ms = end_ms - span_ms

    code_rows, bound = [], 0
    for code, share, status, retryable in ERROR_CODES:
        code_rows.append(f"({bound}, {bound + share}, '{code}', {status or 'NULL'}::int, {retryable})")
        bound += share

    with transaction.atomic(), connection.cursor() as cur:
        raw = cur.cursor  # the psycopg cursor, for COPY
        _copy_ids(raw, "seed_run", "retl_run", run_count, start_ms, span_ms)
        _copy_ids(raw, "seed_dlq", "dlq", dlq_count, start_ms, span_ms)
        print(f"  ids generated and copied in {time.perf_counter() - started:.1f} s", flush=True)

        # Runs: mostly succeeded; metrics balance as the engine requires.
        cur.execute(
            f"""
            INSERT INTO {SyncRun._meta.db_table} (
                id, workspace_id, sync_id, status, trigger, full_resync, dry_run, requested_by,
                created_at, started_at, finished_at,
                rows_read, rows_added, rows_changed, rows_removed, rows_unchanged, rows_invalid,
                rows_written, rows_failed, batches, requests, progress, phase_timings,
                error_code, error_message, heartbeat_at, worker, cancel_requested_at)
            SELECT r.id, %(ws)s, (%(syncs)s::text[])[1 + r.n %% {SYNCS}], m.status,
                   (ARRAY['schedule', 'schedule', 'schedule', 'manual', 'api'])[1 + r.n %% 5],
                   r.n %% 97 = 0, false, '',
                   t.created, t.created + interval '1 second',
                   t.created + interval '1 second' + make_interval(secs => 5 + r.n %% 600),
                   m.read, m.added, m.changed, 0, m.read - m.added - m.changed - m.invalid, m.invalid,
                   m.added + m.changed - m.failed, m.failed,
                   (m.added + m.changed + 999) / 1000, (m.added + m.changed + 999) / 1000, 1.0,
                   jsonb_build_object('extract', 0.4, 'diff', 0.2, 'load', 1.5, 'commit', 0.3),
                   CASE WHEN m.status = 'failed' THEN 'destination_unavailable' ELSE '' END,
                   CASE WHEN m.status = 'failed' THEN 'HTTP 503 from the destination after 5 retries'
                        ELSE '' END,
                   t.created + interval '2 seconds', 'worker-1', NULL
            FROM seed_run r
            CROSS JOIN LATERAL (SELECT to_timestamp(r.ms / 1000.0) AS created) t
            CROSS JOIN LATERAL (
                SELECT s.status, s.read, s.read / 10 AS added, s.read / 20 AS changed, r.n %% 3 AS invalid,
                       CASE WHEN s.status = 'partially_succeeded' THEN (s.read / 10 + s.read / 20) / 50
                            WHEN s.status = 'failed' THEN s.read / 10 + s.read / 20
                            ELSE 0 END AS failed
                FROM (SELECT CASE WHEN r.n %% 100 < 80 THEN 'succeeded'
                                  WHEN r.n %% 100 < 90 THEN 'partially_succeeded'
                                  WHEN r.n %% 100 < 98 THEN 'failed'
                                  ELSE 'canceled' END AS status,
                             1000 + (r.n * 7919) %% 100000 AS read) s
            ) m
            """,
            {"ws": workspace.pk, "syncs": sync_ids},
        )
        print(f"  {run_count:,} runs inserted at {time.perf_counter() - started:.1f} s", flush=True)

        # DLQ entries: each belongs to the run (and its sync) that was going at its failure time.
        cur.execute(
            f"""
            INSERT INTO {DlqEntry._meta.db_table} (
                id, workspace_id, sync_id, run_id, destination_id, object_name, record_key,
                error_code, error_message, destination_status, retryable, retry_count, failed_at,
                row_preview, payload, resolved, resolved_at, resolution_reason, resolution_note,
                resolved_by, replay_run_id, previous_entry_id)
            SELECT d.id, %(ws)s, (%(syncs)s::text[])[1 + r.n %% {SYNCS}], r.id, %(dest)s, 'records',
                   'K' || lpad(d.n::text, 9, '0'),
                   c.code, 'Record K' || lpad(d.n::text, 9, '0') || ' failed: ' || c.code,
                   c.status, c.retryable, CASE WHEN c.retryable THEN 5 ELSE 0 END,
                   to_timestamp(d.ms / 1000.0),
                   jsonb_build_object('id', 'K' || lpad(d.n::text, 9, '0'),
                                      'email', 'user' || d.n || '@example.com'),
                   jsonb_build_object('id', 'K' || lpad(d.n::text, 9, '0'),
                                      'email', 'user' || d.n || '@example.com', 'score', d.n %% 100),
                   b.resolved,
                   CASE WHEN b.resolved THEN to_timestamp(d.ms / 1000.0) + interval '6 hours' END,
                   CASE WHEN b.resolved THEN 'fixed_upstream' ELSE '' END, '',
                   CASE WHEN b.resolved THEN 'api key ops' ELSE '' END, NULL, NULL
            FROM seed_dlq d
            JOIN seed_run r ON r.n = (d.n::bigint * {run_count} / {dlq_count})::int
            CROSS JOIN LATERAL (
                SELECT (d.n::bigint * 2654435761) %% 100 AS code_bucket,
                       (d.n::bigint * 40503 + 7) %% 100 < 30 AS resolved
            ) b
            JOIN (VALUES {", ".join(code_rows)}) c (lo, hi, code, status, retryable)
              ON b.code_bucket >= c.lo AND b.code_bucket < c.hi
            """,
            {"ws": workspace.pk, "syncs": sync_ids, "dest": dest.pk},
        )
        print(f"  {dlq_count:,} DLQ entries inserted at {time.perf_counter() - started:.1f} s", flush=True)
        cur.execute(
            f"""
            UPDATE {Sync._meta.db_table} s SET last_run_id = (
                SELECT max(id) FROM {SyncRun._meta.db_table} r WHERE r.sync_id = s.id)
            WHERE s.workspace_id = %s
            """,
            [workspace.pk],
        )
    # Rows inserted with SQL bypass the services that keep the daily counters and the open marks;
    # rebuild them as the data migrations would for an existing queue.
    from apps.dlq.counters import counts_rebuild
    from apps.dlq.open_entries import open_entries_rebuild

    counts_rebuild(workspace_id=workspace.pk)
    open_entries_rebuild(workspace_id=workspace.pk)
    # VACUUM as autovacuum would after a bulk load: statistics, plus the visibility map that
    # index-only scans rely on.
    with connection.cursor() as cur:
        cur.execute(f"VACUUM ANALYZE {DlqEntry._meta.db_table}")
        cur.execute(f"VACUUM ANALYZE {SyncRun._meta.db_table}")
        cur.execute(f"VACUUM ANALYZE {Sync._meta.db_table}")
        cur.execute("VACUUM ANALYZE dlq_dlqdailycount")
        cur.execute("VACUUM ANALYZE dlq_dlqopenentry")
    print(f"  seeded and vacuumed in {time.perf_counter() - started:.1f} s", flush=True)
    return {"raw_key": issued.raw_key}


def bench_key() -> str:
    """A fresh key for a reused database (keys are stored only as hashes)."""
    from apps.accounts.models import Workspace
    from apps.accounts.services import api_key_create

    workspace = Workspace.objects.get(slug="bench")
    return api_key_create(workspace=workspace, name=f"bench-{int(time.time())}", scopes=["*"]).raw_key


# --- measuring --------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


def explain(client, path: str, params: dict) -> None:
    """EXPLAIN ANALYZE every SELECT one request runs (auth included), slowest first."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        client.get(path, params)
    print(f"\n--- {path} {params or ''}: {len(ctx.captured_queries)} queries")
    plans = []
    with connection.cursor() as cur:
        for query in ctx.captured_queries:
            sql_text = query["sql"]
            if not sql_text.lstrip().upper().startswith("SELECT"):
                print(f"  (not explained) {sql_text[:120]}")
                continue
            cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql_text)
            plan = [row[0] for row in cur.fetchall()]
            total = float(plan[-1].split(":")[1].split()[0]) if plan[-1].startswith("Execution") else 0.0
            plans.append((total, sql_text, plan))
    for total, sql_text, plan in sorted(plans, key=lambda p: -p[0]):
        print(f"  {total:8.2f} ms  {sql_text[:300]}")
        if total >= 1.0:
            for line in plan:
                print(f"      {line}")


def measure(client, path: str, params: dict, requests: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        response = client.get(path, params)
        assert response.status_code == 200, (path, params, response.status_code, response.content[:500])
    timings = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(path, params)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, params, response.status_code)
    return timings


def scenarios(dlq_count: int, run_count: int) -> list[tuple[str, str, dict, float]]:
    from django.db import connection

    from apps.api.pagination import encode_cursor
    from apps.dlq.models import DlqEntry
    from apps.runs.models import SyncRun
    from apps.syncs.models import Sync

    dlq_total = DlqEntry.objects.count()
    runs_total = SyncRun.objects.count()
    dlq_depth = min(dlq_total - 1, dlq_count * 9 // 10)
    run_depth = min(runs_total - 1, run_count * 9 // 10)
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT id FROM {DlqEntry._meta.db_table} ORDER BY id DESC OFFSET %s LIMIT 1", [dlq_depth]
        )
        dlq_cursor = encode_cursor(cur.fetchone()[0])
        cur.execute(
            f"SELECT id FROM {SyncRun._meta.db_table} ORDER BY id DESC OFFSET %s LIMIT 1", [run_depth]
        )
        run_cursor = encode_cursor(cur.fetchone()[0])
    sync_id = Sync.objects.order_by("id").values_list("id", flat=True)[SYNCS // 2]
    week_ago = (dt.datetime.now(dt.UTC) - dt.timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
    # The worst cut for stats: noon, half a day of entries counted either way.
    noon = (dt.datetime.now(dt.UTC) - dt.timedelta(days=7)).strftime("%Y-%m-%dT12:00:00Z")
    lim = {"limit": 50}
    return [
        ("dlq first page", f"{API}/dlq", lim, 50),
        ("dlq sync_id", f"{API}/dlq", {**lim, "sync_id": sync_id}, 50),
        ("dlq error_code=schema_drift", f"{API}/dlq", {**lim, "error_code": "schema_drift"}, 50),
        ("dlq resolved=true", f"{API}/dlq", {**lim, "resolved": "true"}, 50),
        (f"dlq cursor {dlq_depth:,} deep", f"{API}/dlq", {**lim, "cursor": dlq_cursor}, 50),
        (
            "dlq sync_id + deep cursor",
            f"{API}/dlq",
            {**lim, "sync_id": sync_id, "cursor": dlq_cursor},
            50,
        ),
        ("runs first page", f"{API}/runs", lim, 50),
        (f"runs cursor {run_depth:,} deep", f"{API}/runs", {**lim, "cursor": run_cursor}, 50),
        ("runs sync_id", f"{API}/runs", {**lim, "sync_id": sync_id}, 50),
        ("runs status=failed", f"{API}/runs", {**lim, "status": "failed"}, 50),
        ("syncs first page", f"{API}/syncs", lim, 50),
        ("dlq stats (workspace)", f"{API}/dlq/stats", {}, 100),
        ("dlq stats sync_id", f"{API}/dlq/stats", {"sync_id": sync_id}, 100),
        ("dlq stats since 7 days", f"{API}/dlq/stats", {"since": week_ago}, 100),
        ("dlq stats since noon 7 days ago", f"{API}/dlq/stats", {"since": noon}, 100),
    ]


def measure_resolve(client, repetitions: int, replay_too: bool) -> list[tuple[str, float, int]]:
    from apps.dlq.models import DlqEntry

    batches = repetitions + (1 if replay_too else 0)
    # Open ids spread over the whole queue (every sync, every age), a different set each time.
    ids = list(
        DlqEntry.objects.filter(resolved=False)
        .order_by("?")
        .values_list("id", flat=True)[: batches * RESOLVE_BATCH]
    )
    results = []
    for i in range(batches):
        replay = replay_too and i == batches - 1
        chunk = ids[i * RESOLVE_BATCH : (i + 1) * RESOLVE_BATCH]
        body = {"ids": chunk, "reason": "fixed_upstream", "note": "bench", "replay": replay}
        started = time.perf_counter()
        response = client.post(f"{API}/dlq/resolve", body, content_type="application/json")
        elapsed = (time.perf_counter() - started) * 1000
        assert response.status_code == 200, response.content[:500]
        resolved = len(response.json()["data"]["resolved"])
        results.append((f"dlq resolve 10,000 #{i + 1}{' (replay)' if replay else ''}", elapsed, resolved))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dlq", type=int, default=1_000_000, help="DLQ entries to seed")
    parser.add_argument("--runs", type=int, default=100_000, help="runs to seed")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per scenario")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--resolves", type=int, default=3, help="resolve calls of 10,000 ids")
    parser.add_argument("--replay", action="store_true", help="one more resolve call with replay: true")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--database", help="reuse a database kept by --keep (no seeding, never dropped)")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE each scenario's queries")
    parser.add_argument("--only", help="only scenarios whose name contains this")
    args = parser.parse_args()

    database = args.database or create_postgres_database()
    var_dir = Path(tempfile.mkdtemp(prefix="syncline-bench-api-"))
    print(f"database {database}, var {var_dir}", flush=True)
    try:
        boot(database, var_dir)
        from django.db import connection
        from django.test import Client

        if args.database:
            raw_key = bench_key()
        else:
            print(f"seeding {args.dlq:,} DLQ entries and {args.runs:,} runs ...", flush=True)
            raw_key = seed(args.dlq, args.runs)["raw_key"]
        with connection.cursor() as cur:
            cur.execute("SELECT version()")
            pg_version = cur.fetchone()[0].split(" on ")[0]
            # The write path (resolve) depends on these server settings more than on our code.
            settings_shown = []
            for name in ("shared_buffers", "max_wal_size", "wal_compression", "synchronous_commit"):
                cur.execute(f"SHOW {name}")
                settings_shown.append(f"{name}={cur.fetchone()[0]}")
            pg_version += " (" + ", ".join(settings_shown) + ")"
        client = Client(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
        rows = []
        for name, path, params, target in scenarios(args.dlq, args.runs):
            if args.only and args.only not in name:
                continue
            if args.explain:
                explain(client, path, params)
            timings = measure(client, path, params, args.requests, args.warmup)
            rows.append((name, len(timings), timings, target))
            p95 = percentile(timings, 0.95)
            print(f"  {name:<34} p95 {p95:7.1f} ms", flush=True)
        resolves = [] if args.only and "resolve" not in args.only else None
        if resolves is None:
            resolves = measure_resolve(client, args.resolves, args.replay)

        print()
        print(f"API latency — {dt.date.today().isoformat()}, {machine()}, {pg_version}")
        print(
            f"data: {args.dlq:,} DLQ entries (~70% open), {args.runs:,} runs, {SYNCS} syncs, one workspace; "
            f"{args.requests} requests per line after {args.warmup} warm-up, in-process django.test.Client"
        )
        print()
        print(f"{'scenario':<36} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'target':>10}  result")
        for name, n, timings, target in rows:
            p95 = percentile(timings, 0.95)
            print(
                f"{name:<36} {n:>4} {statistics.median(timings):8.1f} {p95:8.1f} {max(timings):8.1f} "
                f"{'p95<=' + str(target):>10}  {'PASS' if p95 <= target else 'MISS'}"
            )
        for name, elapsed, resolved in resolves:
            print(
                f"{name:<36} {1:>4} {'':>8} {'':>8} {elapsed:8.1f} {'<=2000':>10}  "
                f"{'PASS' if elapsed <= 2000 else 'MISS'}  ({resolved:,} resolved)"
            )
    finally:
        if args.keep or args.database:
            print(f"\nkept database {database}")
        else:
            drop_postgres_database(database)


if __name__ == "__main__":
    main()
