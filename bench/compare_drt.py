"""The same reverse-ETL job run by Syncline and by drt-core (PyPI ``drt-core``), side by side.

Job: every row of a DuckDB table ``events`` (default 100,000 rows x 10 columns, built by the
harness) POSTed as ``{"records": [...]}`` bodies of 1,000 records to a local HTTP sink that runs in
its own process and counts what it accepts. Each tool runs as a CLI in a fresh process
(Syncline: ``manage.py run_sync``; drt: ``drt run``), timed by wall clock from spawn to exit, so
both pay their own start-up. Runs alternate between the tools; the table shows the median.

Prints the machine, the date, each tool's seconds, rows/s, requests and connections seen by the
sink, and the ratio drt seconds / Syncline seconds. It asserts nothing about speed; it does stop
if a tool did not deliver every row (a time for half a job is no figure).

drt-core is installed into its own virtualenv, var/bench-drt-venv (created on first use), never
into .venv, so the project's dependencies are untouched.

    .venv/bin/python bench/compare_drt.py [--rows 100000] [--repeat 3] [--batch-size 1000] [--keep]
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import os
import shutil
import statistics
import string
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

from counting_sink import CountingSinkProcess, SinkCounts
from harness import QUERY, ROOT, boot, build_warehouse, machine, make_sync

DRT_VERSION = "1.2.1"
# The duckdb extra is drt's own declared dependency set for its DuckDB source.
DRT_REQUIREMENT = f"drt-core[duckdb]=={DRT_VERSION}"
DRT_VENV = ROOT / "var" / "bench-drt-venv"
DRT_PYTHON = DRT_VENV / "bin" / "python"
DRT_CLI = DRT_VENV / "bin" / "drt"
INSTALL_TIMEOUT = 900.0
RUN_TIMEOUT = 900.0  # one sync of one tool; far above any sane time for 100k rows
SYNC_NAME = "events_to_sink"
# Set by harness.boot() for Syncline; kept out of drt's environment so nothing of one tool's
# configuration can leak into the other.
SYNCLINE_ENV = (
    "SYNCLINE_VAR_DIR",
    "DATABASE_URL",
    "DJANGO_SETTINGS_MODULE",
    "SYNCLINE_ALLOW_PRIVATE_DESTINATIONS",
    "SYNCLINE_DATA_DIRECTORIES",
)

# drt reads profiles (source credentials) from ~/.drt/profiles.yml; the benchmark points HOME at a
# throwaway directory so a developer's own ~/.drt is neither read nor written.
DRT_PROFILES = string.Template("""\
bench:
  type: duckdb
  database: $warehouse
""")
DRT_PROJECT = """\
name: syncline_bench
version: "0.1"
profile: bench
"""
# The closest drt equivalent of harness.make_sync(): same query, same body envelope as Syncline's
# HTTP destination ({"records": [...]}), same records per request, no rate limit.
#  - body_mode: batch + batch_template renders one body per request from the batch's rows;
#    tojson_safe is drt's JSON filter that also encodes dates, Decimals and UUIDs.
#  - max_records_per_request is left unset, so one request carries one sync.batch_size batch.
#  - rate_limit 0 turns pacing off; drt's default is 10 requests/s, Syncline's here is none.
#  - mode: full sends every row each run (drt keeps no per-row state in this mode).
DRT_SYNC = string.Template("""\
name: $name
description: "Syncline benchmark: the job of bench/harness.py make_sync(), as a drt sync"
model: $query
destination:
  type: rest_api
  url: $url
  method: POST
  headers:
    Content-Type: application/json
  body_mode: batch
  batch_template: '{"records": {{ rows | tojson_safe }}}'
  rate_limit:
    requests_per_second: 0
sync:
  mode: full
  batch_size: $batch_size
  on_error: fail
""")


@dataclass(frozen=True)
class Measurement:
    tool: str
    seconds: float  # wall clock, process spawn to exit
    own_seconds: float | None  # the tool's own figure for the sync, without its process start-up
    reported_rows: int
    reported_requests: int | None
    sink: SinkCounts


class BenchError(RuntimeError):
    pass


# --- drt's virtualenv ------------------------------------------------------------------------------
def _versions(python: Path, packages: tuple[str, ...]) -> dict[str, str] | None:
    """Installed versions in the interpreter ``python``; None when it can't run or lacks one."""
    code = (
        "import importlib.metadata as m, json, sys\n"
        "print(json.dumps({p: m.version(p) for p in sys.argv[1:]}))"
    )
    try:
        done = subprocess.run(
            [str(python), "-c", code, *packages], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return json.loads(done.stdout) if done.returncode == 0 else None


def ensure_drt() -> dict[str, str]:
    """drt-core's versions in var/bench-drt-venv, creating and installing it when missing."""
    wanted = ("drt-core", "duckdb", "httpx")
    versions = _versions(DRT_PYTHON, wanted) if DRT_PYTHON.exists() else None
    if versions and versions["drt-core"] == DRT_VERSION and DRT_CLI.exists():
        return versions
    if versions is None:
        # Missing, or broken (e.g. its base interpreter moved): --clear rebuilds it in place.
        print(f"creating a separate virtualenv for drt-core: {sys.executable} -m venv --clear {DRT_VENV}")
        _check_call([sys.executable, "-m", "venv", "--clear", str(DRT_VENV)], INSTALL_TIMEOUT)
    print(f"installing {DRT_REQUIREMENT} into {DRT_VENV} (not into .venv)")
    _check_call(
        [str(DRT_PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", DRT_REQUIREMENT],
        INSTALL_TIMEOUT,
    )
    versions = _versions(DRT_PYTHON, wanted)
    if not versions or versions["drt-core"] != DRT_VERSION:
        raise BenchError(f"{DRT_REQUIREMENT} did not install into {DRT_VENV}; delete it and rerun")
    print(f"installed: {', '.join(f'{k} {v}' for k, v in versions.items())}")
    return versions


def _check_call(cmd: list[str], timeout: float) -> None:
    try:
        subprocess.run(cmd, check=True, timeout=timeout)
    except subprocess.CalledProcessError as exc:
        raise BenchError(f"{' '.join(cmd)} failed with exit code {exc.returncode}") from exc
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"{' '.join(cmd)} took longer than {timeout:.0f} s") from exc


# --- running one tool ------------------------------------------------------------------------------
def _timed(cmd: list[str], *, cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    """(wall seconds, stdout) of ``cmd``; raises with its stderr when it fails or overruns."""
    started = time.perf_counter()
    try:
        # subprocess.run kills the child on timeout, so an overrun cannot outlive the benchmark.
        done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"{' '.join(cmd)} took longer than {RUN_TIMEOUT:.0f} s") from exc
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        tail = (done.stderr or done.stdout)[-2000:]
        raise BenchError(f"{' '.join(cmd)} exited with {done.returncode}:\n{tail}")
    return seconds, done.stdout


def run_syncline(var_dir: Path, warehouse: Path, sink: CountingSinkProcess, batch_size: int) -> Measurement:
    from django.db import connections

    from apps.runs.models import SyncRun

    # A new sync each time: a second run of the same sync sends only changed rows (none), which
    # would be another job. A new one sends every row, like drt's mode: full.
    sync = make_sync(var_dir, warehouse, sink.url, batch_size=batch_size)
    # The child writes its run to the same SQLite file; no connection of ours may hold it.
    connections.close_all()
    before = sink.counts()
    # Same env as harness.boot() set in this process (SYNCLINE_VAR_DIR, DATABASE_URL, ...).
    seconds, _ = _timed(
        [sys.executable, str(ROOT / "manage.py"), "run_sync", str(sync.pk)], cwd=ROOT, env=dict(os.environ)
    )
    delivered = sink.counts() - before
    run = SyncRun.objects.filter(sync=sync).order_by("-created_at").first()
    if run is None:
        raise BenchError(f"manage.py run_sync {sync.pk} left no run")
    return Measurement(
        tool="Syncline",
        seconds=seconds,
        own_seconds=run.duration_seconds,
        reported_rows=run.rows_written,
        reported_requests=int(run.metrics.get("requests", 0)),
        sink=delivered,
    )


def write_drt_project(base: Path, warehouse: Path, sink_url: str, batch_size: int) -> tuple[Path, Path]:
    """(HOME, project dir) of a drt project that runs the benchmark's job."""
    home, project = base / "home", base / "project"
    (home / ".drt").mkdir(parents=True, exist_ok=True)
    (project / "syncs").mkdir(parents=True, exist_ok=True)
    # json.dumps gives double-quoted strings, which YAML reads as the same strings.
    (home / ".drt" / "profiles.yml").write_text(DRT_PROFILES.substitute(warehouse=json.dumps(str(warehouse))))
    (project / "drt_project.yml").write_text(DRT_PROJECT)
    (project / "syncs" / f"{SYNC_NAME}.yml").write_text(
        DRT_SYNC.substitute(
            name=SYNC_NAME, query=json.dumps(QUERY), url=json.dumps(sink_url), batch_size=batch_size
        )
    )
    return home, project


def drt_env(home: Path) -> dict[str, str]:
    drop = {*SYNCLINE_ENV, "PYTHONPATH", "VIRTUAL_ENV"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    # drt's telemetry is off unless opted in; DO_NOT_TRACK makes sure of it (loopback only here).
    env.update(HOME=str(home), DO_NOT_TRACK="1", DRT_TELEMETRY="0")
    return env


def run_drt(home: Path, project: Path, sink: CountingSinkProcess) -> Measurement:
    before = sink.counts()
    seconds, out = _timed([str(DRT_CLI), "run", "--output", "json"], cwd=project, env=drt_env(home))
    delivered = sink.counts() - before
    try:
        report = json.loads(out[out.index("{") :])
        (synced,) = [s for s in report["syncs"] if s["name"] == SYNC_NAME]
    except (ValueError, KeyError) as exc:
        raise BenchError(f"unexpected output of drt run --output json:\n{out[-2000:]}") from exc
    if synced["status"] != "success":
        raise BenchError(f"drt reported status {synced['status']!r}: {synced}")
    return Measurement(
        tool="drt-core",
        seconds=seconds,
        own_seconds=synced.get("duration_seconds"),
        reported_rows=int(synced["rows_synced"]),
        reported_requests=None,  # drt reports rows, not requests; the sink's count stands in
        sink=delivered,
    )


def startup_seconds(home: Path, project: Path, times: int = 3) -> dict[str, float]:
    """Median wall seconds of each tool's CLI loading its run command and exiting (``--help``).

    Shows how much of a run's wall time is the process start-up alone, which weighs more the
    fewer rows a job has.
    """
    probes = {
        "Syncline": ([sys.executable, str(ROOT / "manage.py"), "run_sync", "--help"], ROOT, dict(os.environ)),
        "drt-core": ([str(DRT_CLI), "run", "--help"], project, drt_env(home)),
    }
    return {
        tool: statistics.median(_timed(cmd, cwd=cwd, env=env)[0] for _ in range(times))
        for tool, (cmd, cwd, env) in probes.items()
    }


# --- report ----------------------------------------------------------------------------------------
def check_delivery(m: Measurement, rows: int) -> None:
    if m.reported_rows != rows or m.sink.records != rows:
        raise BenchError(
            f"{m.tool} did not deliver every row: it reports {m.reported_rows:,}, "
            f"the sink accepted {m.sink.records:,}, expected {rows:,}"
        )


def _say(text: str, indent: str = "  ", bullet: str = "") -> None:
    """Print ``text`` wrapped to 100 columns under ``indent`` (long figures stay readable)."""
    print(
        textwrap.fill(text, 100, initial_indent=indent + bullet, subsequent_indent=indent + " " * len(bullet))
    )


def _first_record(body_start: str) -> str:
    """The first record's text, byte for byte as sent, out of the start of a request body."""
    start = body_start.find("{", body_start.find("["))
    try:
        _, length = json.JSONDecoder().raw_decode(body_start[start:])
    except ValueError:
        return body_start[:200] + " ..."  # a record longer than the sample: show its start
    return body_start[start : start + length]


def report(
    rows: int,
    batch_size: int,
    runs: dict[str, list[Measurement]],
    startup: dict[str, float],
    versions: dict[str, str],
    drt_versions: dict[str, str],
    drt_files: dict[str, str],
) -> None:
    syncline, drt = runs["Syncline"], runs["drt-core"]
    med = {tool: statistics.median(m.seconds for m in ms) for tool, ms in runs.items()}
    best = {tool: min(m.seconds for m in ms) for tool, ms in runs.items()}
    own = {tool: statistics.median(m.own_seconds or 0.0 for m in ms) for tool, ms in runs.items()}
    print()
    print(f"Syncline vs drt-core: the same job, {rows:,} rows x 10 columns")
    print(f"date:     {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC")
    print(f"machine:  {machine()}")
    print(f"job:      DuckDB file, `{QUERY}` -> local HTTP sink (own process, counts what it accepts),")
    print(f'          POST {{"records": [...]}}, {batch_size:,} records per request, no rate limit')
    print(
        f"timing:   {len(syncline)} run(s) of each, order alternating; wall clock from process spawn to exit,"
    )
    print("          so each tool's start-up counts")
    print()
    head = (
        f"{'tool':<10} {'version':<8} {'median s':>9} {'best s':>7} {'rows/s':>9} {'own s':>6} "
        f"{'start-up s':>10} {'requests':>8} {'conns':>6} {'MB sent':>8} {'rows at sink':>12}"
    )
    print(head)
    print("-" * len(head))
    for tool, version in (("Syncline", versions["syncline"]), ("drt-core", DRT_VERSION)):
        last = runs[tool][-1].sink
        print(
            f"{tool:<10} {version:<8} {med[tool]:>9.2f} {best[tool]:>7.2f} {rows / med[tool]:>9,.0f} "
            f"{own[tool]:>6.2f} {startup[tool]:>10.2f} {last.requests:>8,} {last.connections:>6,} "
            f"{last.bytes / 1e6:>8.1f} {last.records:>12,}"
        )
    print()
    print(
        f"ratio drt-core / Syncline: {med['drt-core'] / med['Syncline']:.2f}x (median seconds), "
        f"{best['drt-core'] / best['Syncline']:.2f}x (best seconds)"
    )
    for tool, ms in runs.items():
        print(f"  every run, {tool:<8}: " + "  ".join(f"{m.seconds:.2f}" for m in ms) + " s")
    _say(
        "own s = median of the tool's own duration of the sync (Syncline: the run's started -> finished; "
        "drt: its duration_seconds), so wall - own is process start-up, set-up and exit. start-up s = "
        "median wall time of `manage.py run_sync --help` / `drt run --help`, the CLI start-up alone. "
        "requests, conns (TCP connections), MB sent and rows at sink are what the sink saw in the last run."
    )
    reported = sorted({m.reported_requests for m in syncline if m.reported_requests is not None})
    print()
    print("set-up of each (both read the same DuckDB file and post to the same sink URL):")
    _say(
        f"Syncline {versions['syncline']} (duckdb {versions['duckdb']}): `manage.py run_sync <id>` on a new "
        f"sync made by harness.make_sync(): HTTP destination, batch_size {batch_size}, "
        f"rate_limit_per_second null, up to 4 requests in flight (the destination's max_concurrency); "
        f"it reported {'/'.join(map(str, reported))} requests.",
        bullet="- ",
    )
    _say(
        f"drt-core {drt_versions['drt-core']} (duckdb {drt_versions['duckdb']}, httpx "
        f"{drt_versions['httpx']}) in its own virtualenv {DRT_VENV.relative_to(ROOT)}: `drt run --output "
        f"json`; rest_api destination, body_mode batch, sync.batch_size {batch_size}, mode full, "
        "rate limit off (configuration below).",
        bullet="- ",
    )
    print()
    print("caveats:")
    for caveat in (
        "concurrency: Syncline keeps up to 4 requests in flight; drt-core's rest_api destination sends "
        "the batches of one sync one after another (its --threads runs several syncs at once, not the "
        "batches of one).",
        f"connections: per run the sink saw {syncline[-1].sink.connections} TCP connection(s) from Syncline "
        f"and {drt[-1].sink.connections} from drt-core (drt-core 1.2.1 opens a new httpx.Client for every "
        "batch, so there is no keep-alive between batches).",
        "work beyond sending: Syncline also keeps per-row diff state (its next run sends only the changes), "
        "records the run and its metrics in its SQLite app database and sends an Idempotency-Key per "
        "request; drt's mode full keeps no per-row state (every run re-sends every row) and writes a "
        "small state/history file.",
        "same envelope and rows, but the value encodings differ where the tools render types differently "
        "(see the body samples: e.g. DECIMAL as a number or a string); so do the bytes sent.",
        f"a {os.cpu_count()}-core machine: the sink and the tool share it; the figures hold for this "
        "machine and these settings only.",
    ):
        _say(caveat, bullet="- ")
    print()
    print("first record of a request body, as the sink received it:")
    for tool, ms in runs.items():
        print(f"  {tool:<8}: {_first_record(ms[-1].sink.sample)}")
    print()
    print("drt configuration used (sink URL and warehouse path are this run's):")
    for name, text in drt_files.items():
        print(f"  --- {name}")
        print("".join(f"    {line}\n" for line in text.splitlines()), end="")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n", 1)[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each tool (the median is shown)")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--keep", action="store_true", help="keep the throwaway directory for inspection")
    args = parser.parse_args()

    drt_versions = ensure_drt()
    var_dir = boot()
    versions = {p: importlib.metadata.version(p) for p in ("syncline", "duckdb")}
    print(f"throwaway directory: {var_dir}")
    warehouse = var_dir / "warehouse.duckdb"
    build_warehouse(warehouse, args.rows)
    runs: dict[str, list[Measurement]] = {"Syncline": [], "drt-core": []}
    ok = False
    try:
        with CountingSinkProcess() as sink:
            home, project = write_drt_project(var_dir / "drt", warehouse, sink.url, args.batch_size)
            drt_files = {
                "syncs/events_to_sink.yml": (project / "syncs" / f"{SYNC_NAME}.yml").read_text(),
                "drt_project.yml": (project / "drt_project.yml").read_text(),
                "~/.drt/profiles.yml (HOME is a throwaway directory)": (
                    home / ".drt" / "profiles.yml"
                ).read_text(),
            }
            startup = startup_seconds(home, project)
            for i in range(args.repeat):
                # Alternating which tool goes first spreads any drift (page cache, CPU clock,
                # neighbours) over both instead of charging it to one.
                order = ("Syncline", "drt-core") if i % 2 == 0 else ("drt-core", "Syncline")
                for tool in order:
                    if tool == "Syncline":
                        m = run_syncline(var_dir, warehouse, sink, args.batch_size)
                    else:
                        m = run_drt(home, project, sink)
                    check_delivery(m, args.rows)
                    runs[tool].append(m)
                    done = f"{m.sink.records:,} rows in {m.sink.requests:,} requests"
                    print(f"run {i + 1}/{args.repeat} {tool:<8}: {m.seconds:6.2f} s, {done}", flush=True)
        report(args.rows, args.batch_size, runs, startup, versions, drt_versions, drt_files)
        ok = True
    except BenchError as exc:
        print(f"\nbenchmark stopped: {exc}", file=sys.stderr)
        sys.exit(1)
    finally:
        if ok and not args.keep:
            shutil.rmtree(var_dir, ignore_errors=True)
        else:
            print(f"throwaway directory kept: {var_dir}")


if __name__ == "__main__":
    main()
