"""A real Celery worker on Redis, killed with SIGKILL in the middle of a run.

Nothing is lost and nothing is applied twice: the sweeper fails the dead run, and the next run
(on a fresh worker) resends the batches that were in flight verbatim, then the rest. A missing
Redis fails this test; it is never skipped.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
import redis
from celery import Celery
from django.db import connection

from apps.runs.models import SyncRun
from apps.runs.services import run_enqueue, runs_sweep_stale
from tests.conftest import repo_root
from tests.fakes.http_sink import Fault, HttpSink

pytestmark = [pytest.mark.processes, pytest.mark.django_db(transaction=True)]

BROKER = "redis://127.0.0.1:6379/12"
TOTAL = 3000


def database_url() -> str:
    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{s['NAME']}"
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    return f"postgres://{s['USER']}{password}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


class Worker:
    def __init__(self, settings, log: Path) -> None:
        self.queue = f"kill-test-{uuid.uuid4().hex[:8]}"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_SETTINGS"))},
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "DATABASE_URL": database_url(),
            "SYNCLINE_VAR_DIR": str(settings.SYNCLINE_VAR_DIR),
            "SYNCLINE_DATA_DIRECTORIES": ",".join(settings.SYNCLINE_DATA_DIRECTORIES),
            "SYNCLINE_STATE_STORE": settings.SYNCLINE_STATE_STORE,
            "SECRET_KEY": settings.SECRET_KEY,
            "SYNCLINE_ENCRYPTION_KEY": settings.SYNCLINE_ENCRYPTION_KEY,
            "CELERY_BROKER_URL": BROKER,
            "CELERY_RESULT_BACKEND": BROKER,
            "SYNCLINE_ALLOW_PRIVATE_DESTINATIONS": "true",
        }
        self.log = log
        self.proc: subprocess.Popen | None = None

    def start(self) -> Worker:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-Q",
                self.queue,
                "-c",
                "1",
                "--without-mingle",
                "--without-gossip",
                "-l",
                "INFO",
                "-n",
                f"{self.queue}@%h",
            ],
            cwd=repo_root(),
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def send(self, run_id: str) -> None:
        # An explicit connection: Celery lets a CELERY_BROKER_URL variable override broker=.
        app = Celery("kill-test")
        with app.connection_for_write(BROKER) as conn:
            app.send_task("runs.execute", args=[run_id], queue=self.queue, connection=conn)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def test_sigkill_mid_run_loses_nothing_and_applies_nothing_twice(http_sync, warehouse, settings, tmp_path):
    redis.Redis.from_url(BROKER).ping()  # Redis must be there: fail, don't skip
    warehouse.execute(f"""
        INSERT INTO customers
        SELECT printf('C%04d', i), 'user' || i || '@example.com', 'Name ' || i, (i % 100)::INTEGER,
               TIMESTAMP '2026-01-01 00:00:00' + to_hours(i)
        FROM range(251, {TOTAL} + 1) t(i)
    """)
    log = tmp_path / "worker.log"
    first = Worker(settings, log).start()
    second = None
    try:
        with HttpSink(faults=lambda n, records: Fault(delay=0.03)) as sink:
            sync = http_sync(sink, batch_size=20)
            run, _ = run_enqueue(sync=sync, trigger="manual", dispatch=False)
            first.send(run.id)
            wait_for(lambda: sink.requests >= 30, 90, "the worker to send 30 batches")
            first.kill()
            run.refresh_from_db()
            assert run.status == "running" and sink.record_count < TOTAL

            assert runs_sweep_stale(now=run.heartbeat_at + dt.timedelta(seconds=200)) == [run.id]
            run.refresh_from_db()
            assert run.status == "failed" and run.error_code == "worker_lost"

            second = Worker(settings, log).start()
            nxt, deduplicated = run_enqueue(sync=sync, trigger="manual", dispatch=False)
            assert not deduplicated
            second.send(nxt.id)
            wait_for(
                lambda: SyncRun.objects.get(pk=nxt.id).status not in ("queued", "running"),
                120,
                "the next run to finish",
            )
            nxt.refresh_from_db()
            assert nxt.status == "succeeded", nxt.error_message
            assert nxt.rows_unchanged > 0  # it continued where the killed run stopped
            assert nxt.rows_unchanged + nxt.rows_added == TOTAL
            ids = Counter(r["id"] for r in sink.received)
            assert len(ids) == TOTAL, "a row was lost"
            assert max(ids.values()) == 1, "a row was applied twice"
    except BaseException:
        print(log.read_text()[-5000:])
        raise
    finally:
        first.kill()
        if second is not None:
            second.kill()
