"""The sync of sync_throughput.py on the production stack's state store: the app database.

A deployment on PostgreSQL keeps change-detection state in the app database (the "database"
store, ``apps/engine/database_state.py``) so every worker reaches it. This runs the same sync as
sync_throughput.py (DuckDB -> HTTP sink in its own process, batches of 1,000) against a throwaway
PostgreSQL database with that store and prints: the full run, the unchanged re-run, and the
median of three runs with 1% of rows changed.

    .venv/bin/python bench/database_store.py [rows]     # default 1,000,000
"""

from __future__ import annotations

import os
import statistics
import sys

import duckdb
from harness import (
    boot,
    build_warehouse,
    create_postgres_database,
    drop_postgres_database,
    machine,
    make_sync,
    run,
)
from sink_process import SinkProcess

CHANGED_RUNS = 3


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    database = create_postgres_database()
    try:
        os.environ["SYNCLINE_STATE_STORE"] = "database"
        var_dir = boot(database_url=f"postgres://postgres@127.0.0.1:5432/{database}")
        warehouse = var_dir / "warehouse.duckdb"
        build_warehouse(warehouse, rows)
        with SinkProcess() as sink:
            sync = make_sync(var_dir, warehouse, sink.url)
            full, full_s = run(sync)
            assert full.rows_written == rows, (full.status, full.error_message, full.metrics)
            again, again_s = run(sync)
            changes = []
            for salt in range(CHANGED_RUNS):
                with duckdb.connect(str(warehouse)) as con:
                    con.execute(f"UPDATE events SET score = score + 1 WHERE hash(id || '{salt}') % 100 = 0")
                changed, changed_s = run(sync)
                changes.append(changed_s)
        print(f"machine: {machine()}")
        print(f"rows: {rows:,} x 10 columns, DuckDB -> HTTP sink, state in PostgreSQL (database store)")
        print(
            f"full run:        {full_s:6.2f} s  {rows / full_s:>10,.0f} rows/s  phases {full.phase_timings}"
        )
        print(
            f"unchanged rerun: {again_s:6.2f} s  sent {again.rows_written} rows  phases {again.phase_timings}"
        )
        median = statistics.median(changes)
        print(
            f"1% changed:      {median:6.2f} s  sent {changed.rows_written:,} rows = "
            f"{median / full_s:.1%} of the full run  median of {CHANGED_RUNS}: "
            + ", ".join(f"{t:.2f} s" for t in changes)
        )
    finally:
        drop_postgres_database(database)


if __name__ == "__main__":
    main()
