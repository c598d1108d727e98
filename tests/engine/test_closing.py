"""A finished run's workbench closes on a thread; whatever opens its state file next waits."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import duckdb
import pytest

from apps.engine import closing
from apps.engine.state import FileStateStore
from apps.runs.models import RunStatus
from tests.engine_fixtures import balanced, run_now


def test_wait_for_returns_once_the_close_is_done():
    done = threading.Event()

    def slow_close() -> None:
        time.sleep(0.2)
        done.set()

    closing.close_later("k", slow_close)
    assert not done.is_set()
    closing.wait_for("k")
    assert done.is_set()
    closing.wait_for("k")  # nothing pending: returns at once


def test_a_failing_close_is_logged_and_forgotten(caplog):
    def broken() -> None:
        raise OSError("disk gone")

    closing.close_later("k", broken)
    closing.wait_for("k")
    assert "closing a finished run's workbench failed" in caplog.text


def _hold_lock(path, seconds: float) -> subprocess.Popen:
    """Another process with the state file attached (a worker whose run is still closing)."""
    code = (
        "import duckdb, sys, time\n"
        "con = duckdb.connect(':memory:')\n"
        f"con.execute(\"ATTACH '{path}' AS s\")\n"
        "print('held', flush=True)\n"
        f"time.sleep({seconds})\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def test_attach_waits_while_another_process_holds_the_file(tmp_path):
    path = tmp_path / "state.duckdb"
    duckdb.connect(str(path)).close()
    holder = _hold_lock(path, 0.5)
    con = duckdb.connect(":memory:")
    started = time.monotonic()
    closing.attach_with_retry(con, f"ATTACH '{path}' AS s")
    assert time.monotonic() - started >= 0.2  # it did wait for the lock
    assert holder.wait(timeout=10) == 0
    con.close()


def test_attach_gives_up_with_the_lock_error_after_the_timeout(tmp_path):
    path = tmp_path / "state.duckdb"
    duckdb.connect(str(path)).close()
    holder = _hold_lock(path, 5)
    try:
        with pytest.raises(duckdb.IOException, match="lock"):
            closing.attach_with_retry(duckdb.connect(":memory:"), f"ATTACH '{path}' AS s", timeout=0.3)
    finally:
        holder.kill()
        holder.wait()


def test_other_errors_are_not_retried(tmp_path):
    con = duckdb.connect(":memory:")
    started = time.monotonic()
    with pytest.raises(duckdb.Error):
        closing.attach_with_retry(con, f"ATTACH '{tmp_path}/missing/dir/x.duckdb' AS s", timeout=30)
    assert time.monotonic() - started < 5


def test_runs_back_to_back_wait_for_the_last_close(make_sync, monkeypatch, settings):
    """The next run attaches the state file only once the last run's workbench has let it go."""
    settings.SYNCLINE_STATE_STORE = "file"  # the database store attaches no file
    sync = make_sync()
    closes: list[str] = []
    real_close_later = closing.close_later

    def slow_close_later(key, close):
        def slow() -> None:
            time.sleep(0.3)
            close()
            closes.append(key)

        real_close_later(key, slow)

    monkeypatch.setattr(closing, "close_later", slow_close_later)
    first = run_now(sync)
    assert first.status == RunStatus.SUCCEEDED and not closes  # recorded before its close
    second = run_now(sync)
    balanced(second)
    assert second.status == RunStatus.SUCCEEDED
    assert second.metrics["rows_unchanged"] == first.metrics["rows_written"]
    assert closes[0] == FileStateStore(sync.id).location


def test_the_next_workbench_takes_the_spare_database_with_its_own_settings(tmp_path, settings):
    from apps.engine import workbench as wb

    wb.make_spare()
    spare = wb._spare
    assert spare is not None
    first = wb.Workbench(tmp_path / "a", memory_limit="300MB", threads=1)
    second = wb.Workbench(tmp_path / "b", memory_limit="400MB", threads=2)
    try:
        assert first.con is spare[1] and second.con is not spare[1]  # one database, one run
        settings_of = "SELECT current_setting('threads'), current_setting('TimeZone')"
        assert first.con.execute(settings_of).fetchone() == (1, "UTC")
        assert second.con.execute(settings_of).fetchone() == (2, "UTC")
        assert "spill" in first.con.execute("SELECT current_setting('temp_directory')").fetchone()[0]
    finally:
        first.close()
        second.close()


def test_a_spare_made_before_a_fork_is_never_used(tmp_path, monkeypatch):
    from apps.engine import workbench as wb

    parents = duckdb.connect(":memory:")
    monkeypatch.setattr(wb, "_spare", (-1, parents))  # made by another process id
    bench = wb.Workbench(tmp_path / "w")
    try:
        assert bench.con is not parents and parents in wb._inherited
    finally:
        bench.close()
        wb._inherited.remove(parents)
