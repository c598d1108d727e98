"""Peak memory of a full sync as the row count grows (1M, 2.5M, 5M rows x 10 columns).

Each size runs in a fresh process: DuckDB warehouse -> the HTTP sink (in its own process),
batches of 1,000. Prints the peak resident set size of the syncing process (ru_maxrss).
Target (issue 3): <= 500 MB at 5,000,000 rows, and flat as the row count grows.

    .venv/bin/python bench/sync_memory.py [rows ...]
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from harness import boot, build_warehouse, machine, make_sync, run
from sink_process import SinkProcess


def build(path: str, rows: int) -> None:
    build_warehouse(Path(path), rows)


def one(rows: int, warehouse: Path) -> None:
    var_dir = boot()
    samples: list[tuple[float, float, str]] = []
    watcher = RssWatcher(samples)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with SinkProcess() as sink:
        sync = make_sync(var_dir, warehouse, sink.url)
        started = time.perf_counter()
        watcher.start()
        finished, _ = run(sync)
        watcher.stop()
        seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert finished.rows_written == rows, (finished.status, finished.error_message)
    print(f"{rows:>10,} rows  peak RSS {peak:7.1f} MB  (before the sync {before:6.1f} MB)  {seconds:6.1f} s")
    if "--trace" in sys.argv:  # the highest sample in each of ~30 windows
        step = max(1, len(samples) // 30)
        for i in range(0, len(samples), step):
            window = samples[i : i + step]
            print(f"    t={window[0][0]:5.1f}s max rss={max(r for _, r, _ in window):7.1f} MB")


class RssWatcher(threading.Thread):
    """Samples this process's resident set size every 50 ms (for --trace)."""

    def __init__(self, samples: list) -> None:
        super().__init__(daemon=True)
        self.samples = samples
        self._stop_event = threading.Event()

    def run(self) -> None:
        started = time.perf_counter()
        while not self._stop_event.wait(0.05):
            rss = int(Path("/proc/self/statm").read_text().split()[1]) * resource.getpagesize() / 2**20
            self.samples.append((time.perf_counter() - started, rss, ""))

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:] if a.isdigit()] or [1_000_000, 2_500_000, 5_000_000]
    extra = [a for a in sys.argv[1:] if a.startswith("--")]
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        for rows in sizes:
            warehouse = f"{tmp}/warehouse-{rows}.duckdb"
            # Built in another process, so the sync's process starts with nothing in memory.
            subprocess.run([sys.executable, __file__, "--build", warehouse, str(rows)], check=True)
            subprocess.run([sys.executable, __file__, "--one", str(rows), warehouse, *extra], check=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--build"]:
        build(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1:2] == ["--one"]:
        one(int(sys.argv[2]), Path(sys.argv[3]))
    else:
        main()
