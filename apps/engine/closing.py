"""A run's workbench is closed after the run is recorded as finished, on a thread of its own.

Closing the workbench checkpoints the state file it attached (DuckDB writes the changed row
groups back: ~20-50 ms after a small run) and deletes its spill directory. Nothing of the run
depends on that any more (its outcomes are committed and the state transaction too), so the
run reports its end first and its worker is free sooner. Whatever opens the state file next
waits for the close (``wait_for``) in this process; another process finds DuckDB's file lock
held and retries (``attach_with_retry``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import duckdb

logger = logging.getLogger(__name__)
_pending: dict[str, threading.Thread] = {}
_lock = threading.Lock()
LOCK_WAIT_SECONDS = 60.0  # a run still closing elsewhere takes well under a second


def close_later(key: str, close: Callable[[], None]) -> None:
    """Run ``close`` on a thread; ``wait_for(key)`` returns once it is done."""
    wait_for(key)  # one close per key at a time (a run closing right after another)
    thread = threading.Thread(target=_logged, args=(close,), name="syncline-close")
    with _lock:
        _pending[key] = thread
    thread.start()


def wait_for(key: str) -> None:
    with _lock:
        thread = _pending.get(key)
    if thread is not None and thread is not threading.current_thread():  # not the close itself
        thread.join()
        with _lock:
            if _pending.get(key) is thread:
                del _pending[key]


def wait_all() -> None:
    with _lock:
        keys = list(_pending)
    for key in keys:
        wait_for(key)


def _logged(close: Callable[[], None]) -> None:
    try:
        close()
    except Exception:  # nothing is lost: the state was committed before; a WAL is replayed
        logger.exception("closing a finished run's workbench failed")


def attach_with_retry(
    con: duckdb.DuckDBPyConnection, statement: str, *, timeout: float = LOCK_WAIT_SECONDS
) -> None:
    """Run an ATTACH, waiting while another process still holds the file's lock (a run of the
    same sync closing its workbench there)."""
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        try:
            con.execute(statement)
            return
        except (duckdb.IOException, duckdb.ResourceInUseException) as exc:
            # Another process: "Could not set lock on file"; this one: "file handle conflict".
            held = "lock" in str(exc) or isinstance(exc, duckdb.ResourceInUseException)
            if not held or time.monotonic() >= deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.5)
