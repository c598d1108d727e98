"""Shared fixtures: a small DuckDB warehouse, a sandbox destination, syncs between them, and an
HTTP-destination sync factory (registered for every test by tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from apps.connections.models import Connection
from apps.connections.services import connection_create
from apps.connectors.destinations.sandbox import SandboxDestination
from apps.connectors.registry import parse_config
from apps.engine.runner import run_sync
from apps.runs.models import SyncRun
from apps.runs.services import run_enqueue
from apps.syncs.models import Sync

CUSTOMERS_SQL = "SELECT * FROM customers"


class Warehouse:
    def __init__(self, path: Path) -> None:
        self.path = path

    def execute(self, sql: str, params: list | None = None) -> None:
        with duckdb.connect(str(self.path)) as con:
            con.execute(sql, params or [])


@pytest.fixture
def warehouse(tmp_path: Path) -> Warehouse:
    wh = Warehouse(tmp_path / "warehouse.duckdb")
    wh.execute("""
        CREATE TABLE customers AS
        SELECT printf('C%04d', i) AS id, 'user' || i || '@example.com' AS email, 'Name ' || i AS name,
               (i % 100)::INTEGER AS score, TIMESTAMP '2026-01-01 00:00:00' + to_hours(i) AS updated_at
        FROM range(1, 251) t(i)
    """)
    return wh


@pytest.fixture
def engine_var(settings, tmp_path: Path) -> Path:
    settings.SYNCLINE_VAR_DIR = tmp_path / "var"
    settings.SYNCLINE_MAX_RETRIES = 3
    return settings.SYNCLINE_VAR_DIR


@dataclass
class WarehouseConnections:
    source: Connection  # the warehouse fixture, as the workspace's DuckDB source "wh"
    destination: Connection  # the crm fixture's sandbox account, as destination "crm"


@pytest.fixture
def connections(db, workspace, warehouse, tmp_path, engine_var) -> WarehouseConnections:
    source = connection_create(
        workspace=workspace,
        role="source",
        connector_type="duckdb",
        name="wh",
        config={"path": str(warehouse.path)},
    )
    sandbox = connection_create(
        workspace=workspace,
        role="destination",
        connector_type="sandbox",
        name="crm",
        config={"path": str(tmp_path / "crm.sqlite3")},
    )
    return WarehouseConnections(source, sandbox)


@pytest.fixture
def make_sync(workspace, connections) -> Callable[..., Sync]:
    source, sandbox = connections.source, connections.destination

    def make(**overrides) -> Sync:
        values = {
            "workspace": workspace,
            "name": "customers",
            "source": source,
            "source_query": CUSTOMERS_SQL,
            "destination": sandbox,
            "object_name": "contacts",
            "sync_mode": "upsert",
            "field_mappings": [
                {"source": "id", "destination": "external_id", "key": True},
                {"source": "email", "destination": "email"},
                {"source": "name", "destination": "first_name"},
                {"source": "score", "destination": "lead_score"},
            ],
        }
        values.update(overrides)
        return Sync.objects.create(**values)

    return make


@pytest.fixture
def crm(tmp_path) -> SandboxDestination:
    return SandboxDestination(parse_config("destination", "sandbox", {"path": str(tmp_path / "crm.sqlite3")}))


@pytest.fixture
def http_sync(make_sync, workspace, settings):
    settings.SYNCLINE_ALLOW_PRIVATE_DESTINATIONS = True
    settings.SYNCLINE_RETRY_BASE_DELAY = 0.01

    def make(sink, **config):
        destination = connection_create(
            workspace=workspace,
            role="destination",
            connector_type="http",
            name=f"sink {sink.port}",
            config={
                "url": sink.url,
                "batch_size": 50,
                "rate_limit_per_second": None,
                "timeout_seconds": 0.5,
                **config,
            },
        )
        return make_sync(
            destination=destination,
            object_name="records",
            field_mappings=[
                {"source": "id", "destination": "id", "key": True},
                {"source": "email", "destination": "email"},
                {"source": "score", "destination": "score"},
            ],
        )

    return make


def run_now(sync: Sync, *, trigger: str = "manual", full_resync: bool = False) -> SyncRun:
    run, deduplicated = run_enqueue(sync=sync, trigger=trigger, full_resync=full_resync, dispatch=False)
    assert not deduplicated
    finished = run_sync(run.id)
    assert finished is not None
    return finished


def balanced(run: SyncRun) -> None:
    """The run's counts add up: every row read is classified once, every row to write has an outcome."""
    m = run.metrics
    assert m["rows_read"] == m["rows_unchanged"] + m["rows_invalid"] + m["rows_added"] + m["rows_changed"]
    assert m["rows_added"] + m["rows_changed"] + m["rows_removed"] == m["rows_written"] + m["rows_failed"]


def record_reads(monkeypatch: pytest.MonkeyPatch, source_class: type) -> list[tuple[str, int]]:
    """Every query ``source_class`` streams from now on, with the number of rows it returned."""
    reads: list[tuple[str, int]] = []
    # The DuckDB source runs every read (plain, and by a list of values) through ``_stream``.
    method = "_stream" if "_stream" in vars(source_class) else "stream"
    original = getattr(source_class, method)

    def recording(self, sql, **kwargs):
        rows = 0
        for batch in original(self, sql, **kwargs):
            rows += batch.num_rows
            yield batch
        reads.append((sql, rows))

    monkeypatch.setattr(source_class, method, recording)
    return reads
