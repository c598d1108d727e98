"""A background heartbeat for a running run, so the sweeper can tell a live run from a dead one
even while the main thread waits on a slow warehouse or a long Retry-After."""

from __future__ import annotations

import threading

from django.db import close_old_connections, connection
from django.utils import timezone

from apps.runs.models import SyncRun


class Heartbeat:
    def __init__(self, run_id: str, interval: float = 10.0) -> None:
        self.run_id = run_id
        self.interval = interval
        self.cancel_requested = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{run_id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _beat(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                close_old_connections()
                SyncRun.objects.filter(pk=self.run_id).update(heartbeat_at=timezone.now())
                if SyncRun.objects.filter(pk=self.run_id, cancel_requested_at__isnull=False).exists():
                    self.cancel_requested.set()
        finally:
            connection.close()
