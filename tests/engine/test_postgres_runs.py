"""End to end from a real PostgreSQL warehouse to a fault-injecting HTTP destination."""

from collections import Counter

import pytest

from apps.connections.services import connection_create
from apps.dlq.models import DlqEntry
from tests.engine.conftest import run_now
from tests.engine_fixtures import record_reads
from tests.fakes.http_sink import Fault, HttpSink, reject_where
from tests.pg import SERVER, execute, throwaway_database

pytestmark = pytest.mark.django_db

SETUP = """
CREATE SCHEMA analytics;
CREATE TABLE analytics.accounts (
    account_id text PRIMARY KEY, name text, revenue numeric(14, 2), is_active bool, updated_at timestamptz
);
INSERT INTO analytics.accounts
SELECT 'ACC-' || lpad(i::text, 5, '0'), 'Account ' || i, i * 1000.25, i % 10 <> 0,
       timestamptz '2026-01-01 00:00:00+00' + i * interval '1 minute'
FROM generate_series(1, 2000) AS i;
"""


@pytest.fixture
def pg_warehouse():
    with throwaway_database(SETUP) as name:
        yield name


@pytest.fixture
def pg_sync(pg_warehouse, http_sync, workspace):
    source = connection_create(
        workspace=workspace,
        role="source",
        connector_type="postgres",
        name="pg",
        config={**SERVER, "database": pg_warehouse},
    )

    def make(sink, **overrides):
        sync = http_sync(sink)
        sync.source = source
        sync.source_query = "SELECT * FROM analytics.accounts WHERE is_active AND name LIKE 'Account%'"
        sync.field_mappings = [
            {"source": "account_id", "destination": "id", "key": True},
            {"source": "upper(name)", "destination": "name"},
            {"source": "revenue", "destination": "revenue"},
            {"source": "updated_at", "destination": "updated_at"},
        ]
        for field, value in overrides.items():
            setattr(sync, field, value)
        sync.save()
        return sync

    return make


def test_postgres_rows_reach_the_destination_exactly_once_through_faults(pg_sync, pg_warehouse):
    faults = [reject_where(lambda r: r["id"].endswith("7"), "name already taken", "duplicate")]

    def hook(n, records):
        if n in (2, 5):
            return Fault.rate_limited(retry_after=0.05)
        if n == 3:
            return Fault.server_error(502)
        return faults[0](n, records)

    with HttpSink(faults=hook) as sink:
        sync = pg_sync(sink)
        first = run_now(sync)
        assert first.rows_read == 1800  # the query's WHERE ran in PostgreSQL
        assert first.rows_failed == 200 and first.rows_written == 1600
        assert first.status == "partially_succeeded"
        sample = next(r for r in sink.received if r["id"] == "ACC-00001")
        # the mapping expression ran in the warehouse; numeric and timestamptz kept their meaning
        assert sample == {
            "id": "ACC-00001",
            "name": "ACCOUNT 1",
            "revenue": 1000.25,
            "updated_at": "2026-01-01T00:01:00.000Z",
        }
        entry = DlqEntry.objects.get(record_key="ACC-00007")
        assert (
            entry.error_message.startswith("name already taken")
            and entry.row_preview["upper(name)"] == "ACCOUNT 7"
        )

        execute(
            pg_warehouse,
            "UPDATE analytics.accounts SET revenue = 1 WHERE account_id IN ('ACC-00001', 'ACC-00002')",
        )
        faults[0] = lambda n, records: None  # the destination now accepts everything
        second = run_now(sync)
        assert (second.rows_changed, second.rows_added) == (2, 200)
        assert second.rows_written == 202 and second.status == "succeeded"
        assert DlqEntry.objects.filter(resolved=False).count() == 0
    versions = Counter((r["id"], r["revenue"]) for r in sink.received)
    assert max(versions.values()) == 1


def test_postgres_watermark_is_a_bound_parameter(pg_sync, pg_warehouse):
    with HttpSink() as sink:
        sync = pg_sync(sink, incremental_strategy="watermark", incremental_column="updated_at")
        assert run_now(sync).rows_written == 1800
        execute(
            pg_warehouse,
            "UPDATE analytics.accounts SET name = 'Account x', updated_at = now() "
            "WHERE account_id = 'ACC-00003'",
        )
        second = run_now(sync)
        # only rows at or after the stored watermark were read: the boundary row and the updated one
        assert second.rows_read == 2 and second.rows_changed == 1 and second.rows_unchanged == 1


def test_postgres_hashes_rows_and_reads_only_the_changed_ones_in_full(pg_sync, pg_warehouse, monkeypatch):
    from apps.connectors.sources.postgres import PostgresSource

    reads = record_reads(monkeypatch, PostgresSource)
    with HttpSink() as sink:
        sync = pg_sync(sink)
        assert run_now(sync).rows_written == 1800
        execute(
            pg_warehouse,
            "UPDATE analytics.accounts SET revenue = revenue + 1 "
            "WHERE account_id IN ('ACC-00003', 'ACC-00004', 'ACC-01999')",
        )
        reads.clear()
        second = run_now(sync)
        assert (second.rows_changed, second.rows_unchanged, second.rows_written) == (3, 1797, 3)
        (narrow, narrow_rows), (wanted, wanted_rows) = reads
        assert "hashtextextended" in narrow and narrow_rows == 1800
        assert "= ANY(" in wanted and wanted_rows == 3
        changed = {r["id"]: r["revenue"] for r in sink.received[1800:]}
        assert changed == {"ACC-00003": 3001.75, "ACC-00004": 4002.0, "ACC-01999": 1999 * 1000.25 + 1}
        reads.clear()
        third = run_now(sync)
        assert third.rows_unchanged == 1800 and third.rows_written == 0 and len(reads) == 1
        # An accepted row now present twice: found by its signed hash and read back by it.
        execute(pg_warehouse, "ALTER TABLE analytics.accounts DROP CONSTRAINT accounts_pkey")
        execute(
            pg_warehouse,
            "INSERT INTO analytics.accounts SELECT * FROM analytics.accounts WHERE account_id = 'ACC-00011'",
        )
        reads.clear()
        fourth = run_now(sync)
        assert [rows for _, rows in reads] == [1801, 2]
        assert (fourth.rows_invalid, fourth.rows_unchanged, fourth.rows_written) == (2, 1799, 0)
