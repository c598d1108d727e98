"""Shared set-up for benchmarks: a throwaway Syncline (own var/ dir, SQLite app database), a
DuckDB warehouse of N rows x 10 columns, and the local HTTP sink. Benchmarks print figures; they
assert nothing (timed assertions flake on shared machines)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


POSTGRES = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}


def boot(var_dir: Path | None = None, *, database_url: str | None = None) -> Path:
    """Configure Django for a throwaway install in ``var_dir`` and migrate it (its own SQLite
    database unless ``database_url`` names another)."""
    var_dir = var_dir or Path(tempfile.mkdtemp(prefix="syncline-bench-"))
    os.environ["SYNCLINE_VAR_DIR"] = str(var_dir)
    os.environ["DATABASE_URL"] = database_url or f"sqlite:///{var_dir / 'bench.sqlite3'}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.local"
    os.environ["SYNCLINE_ALLOW_PRIVATE_DESTINATIONS"] = "true"
    # Benchmark warehouses are throwaway files in the temporary folder.
    os.environ.setdefault("SYNCLINE_DATA_DIRECTORIES", tempfile.gettempdir())
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return var_dir


def create_postgres_database() -> str:
    """A new, empty PostgreSQL database on the local server; its name."""
    import uuid

    import psycopg
    from psycopg import sql

    name = f"syncline_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(**POSTGRES, dbname="postgres", autocommit=True, connect_timeout=5) as con:
        con.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return name


def drop_postgres_database(name: str) -> None:
    import psycopg
    from django.db import connections
    from psycopg import sql

    connections.close_all()
    with psycopg.connect(**POSTGRES, dbname="postgres", autocommit=True, connect_timeout=5) as con:
        con.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


WAREHOUSE_SQL = """
CREATE TABLE events AS
SELECT
    'K' || lpad(i::VARCHAR, 9, '0') AS id,
    'user' || i || '@example.com' AS email,
    'First' || (i % 1000) AS first_name,
    'Last' || (i % 977) AS last_name,
    (i % 100)::INTEGER AS score,
    round((i % 100000) / 7.0, 2)::DECIMAL(12, 2) AS amount,
    (i % 3 = 0) AS active,
    DATE '2024-01-01' + (i % 700)::INTEGER AS signup_date,
    TIMESTAMP '2026-01-01 00:00:00' + to_seconds(i) AS updated_at,
    list_extract(['free', 'pro', 'team', 'enterprise'], 1 + (i % 4)::INTEGER) AS plan
FROM range(1, {rows} + 1) t(i)
"""
QUERY = "SELECT * FROM events"
MAPPINGS = [
    {"source": "id", "destination": "id", "key": True},
    *[
        {"source": c, "destination": c}
        for c in (
            "email",
            "first_name",
            "last_name",
            "score",
            "amount",
            "active",
            "signup_date",
            "updated_at",
            "plan",
        )
    ],
]


def build_warehouse(path: Path, rows: int) -> None:
    import duckdb

    path.unlink(missing_ok=True)
    with duckdb.connect(str(path)) as con:
        con.execute(WAREHOUSE_SQL.format(rows=rows))


def make_sync(var_dir: Path, warehouse: Path, sink_url: str, *, batch_size: int = 1000):
    from apps.accounts.services import workspace_create
    from apps.connections.services import connection_create
    from apps.syncs.models import Sync

    workspace = workspace_create(slug=f"bench-{int(time.time() * 1000) % 10**9}")
    source = connection_create(
        workspace=workspace,
        role="source",
        connector_type="duckdb",
        name="wh",
        config={"path": str(warehouse)},
    )
    dest = connection_create(
        workspace=workspace,
        role="destination",
        connector_type="http",
        name="sink",
        config={"url": sink_url, "batch_size": batch_size, "rate_limit_per_second": None},
    )
    return Sync.objects.create(
        workspace=workspace,
        name="bench",
        source=source,
        source_query=QUERY,
        destination=dest,
        object_name="records",
        field_mappings=MAPPINGS,
    )


def run(sync, *, full_resync: bool = False):
    from apps.engine.runner import run_sync
    from apps.runs.services import run_enqueue

    queued, _ = run_enqueue(sync=sync, trigger="manual", full_resync=full_resync, dispatch=False)
    started = time.perf_counter()
    finished = run_sync(queued.id)
    return finished, time.perf_counter() - started


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = subprocess.run(["free", "-g"], capture_output=True, text=True).stdout.splitlines()
    total = mem[1].split()[1] if len(mem) > 1 else "?"
    return f"{os.cpu_count()} cores ({cpu}), {total} GiB RAM, Python {platform.python_version()}"
