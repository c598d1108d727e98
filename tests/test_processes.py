"""Smoke test of what `make run` starts: the web server answers, the worker runs a task, the
tick runs, and one signal stops them all.

It uses the same broker as the rest of the run (filesystem:// embedded, Redis in CI's second
pass), so a missing broker fails this test rather than skipping it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import repo_root

pytestmark = pytest.mark.processes

ENQUEUE_DEMO_RUN = """
from apps.runs.services import run_enqueue
from apps.syncs.models import Sync
run, _ = run_enqueue(sync=Sync.objects.get(workspace__slug="demo"), trigger="manual")
print(run.id)
"""
RUN_STATUS = """
from apps.runs.models import SyncRun
r = SyncRun.objects.get(pk="{run_id}")
print(r.status, r.rows_written, r.rows_invalid, r.rows_failed)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def manage(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=repo_root(),
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def product_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_SETTINGS"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "SYNCLINE_VAR_DIR": str(tmp_path / "var"),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'smoke.sqlite3'}",
            "SYNCLINE_TICK_SECONDS": "1",
        }
    )
    result = manage(env, "migrate", "--noinput")
    assert result.returncode == 0, result.stderr
    return env


def test_runall_serves_web_runs_tasks_and_stops_cleanly(product_env):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "runall", "--port", str(port), "--concurrency", "1"],
        cwd=repo_root(),
        env=product_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline:
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/login/", timeout=2).status_code
                break
            except httpx.TransportError:
                time.sleep(0.5)
        assert status == 200

        result = manage(product_env, "check_worker", "--timeout", "60")
        assert result.returncode == 0, result.stdout + result.stderr
        assert "worker answered pong:" in result.stdout
        # The whole embedded stack: the demo sync runs on the worker, into the sandbox CRM.
        assert manage(product_env, "seed_demo").returncode == 0
        started = manage(product_env, "shell", "-c", ENQUEUE_DEMO_RUN)
        assert started.returncode == 0, started.stderr
        run_id = started.stdout.strip().splitlines()[-1]
        deadline = time.monotonic() + 120
        status = ""
        while time.monotonic() < deadline:
            status = manage(product_env, "shell", "-c", RUN_STATUS.format(run_id=run_id)).stdout.strip()
            status = status.splitlines()[-1] if status else ""
            if status.split()[0] not in ("queued", "running"):
                break
            time.sleep(1)
        # 550 dirty demo rows (bad emails, null and duplicate keys) land in the DLQ, the rest is written
        assert status == "partially_succeeded 49475 550 0", status
        beat_file = Path(product_env["SYNCLINE_VAR_DIR"]) / "celery" / "beat-schedule"
        deadline = time.monotonic() + 30
        while not any(beat_file.parent.glob("beat-schedule*")) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert any(beat_file.parent.glob("beat-schedule*")), "the scheduler tick (celery beat) did not start"
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    assert "all processes stopped" in output, output[-3000:]
    assert proc.returncode == 0
    children = subprocess.run(["pgrep", "-f", f"runserver 127.0.0.1:{port}"], capture_output=True, text=True)
    assert children.stdout.strip() == ""
