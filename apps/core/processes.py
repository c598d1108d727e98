"""A tiny supervisor for the processes of the embedded product (web, worker, scheduler tick).

It starts each in its own session so a terminal's Ctrl-C reaches only us, then shuts them all
down in order: SIGTERM (Celery's warm shutdown, the web server's clean exit), then SIGKILL for
whatever is still alive after a grace period. If any process dies on its own, the others are
stopped too and the exit code says so — a half-running product is worse than a stopped one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class ManagedProcess:
    name: str
    argv: list[str]
    popen: subprocess.Popen | None = None


class Supervisor:
    def __init__(
        self,
        processes: list[ManagedProcess],
        *,
        grace_seconds: float = 15.0,
        log: Callable[[str], None] = print,
    ) -> None:
        self.processes = processes
        self.grace_seconds = grace_seconds
        self.log = log
        self._stopping = False

    def _request_stop(self, signum: int, frame: object) -> None:
        self._stopping = True

    def run(self) -> int:
        previous = {s: signal.signal(s, self._request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            for proc in self.processes:
                proc.popen = subprocess.Popen(proc.argv, start_new_session=True)
                self.log(f"started {proc.name} (pid {proc.popen.pid})")
            exit_code = 0
            while not self._stopping:
                for proc in self.processes:
                    code = proc.popen.poll() if proc.popen else None
                    if code is not None:
                        self.log(f"{proc.name} exited with code {code}; stopping the others")
                        exit_code = code or 1
                        self._stopping = True
                        break
                time.sleep(0.3)
            self.stop()
            return exit_code
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def stop(self) -> None:
        alive = [p for p in self.processes if p.popen and p.popen.poll() is None]
        for proc in alive:
            self._signal(proc, signal.SIGTERM)
        deadline = time.monotonic() + self.grace_seconds
        for proc in alive:
            remaining = max(0.1, deadline - time.monotonic())
            try:
                proc.popen.wait(timeout=remaining)  # type: ignore[union-attr]
            except subprocess.TimeoutExpired:
                self.log(f"{proc.name} did not stop in time; killing it")
                self._signal(proc, signal.SIGKILL)
                proc.popen.wait()  # type: ignore[union-attr]
        self.log("all processes stopped")

    @staticmethod
    def _signal(proc: ManagedProcess, sig: int) -> None:
        # SIGTERM goes to the leader alone so Celery can stop its own pool cleanly; SIGKILL goes to
        # the whole process group so nothing is left behind.
        try:
            if sig == signal.SIGKILL:
                os.killpg(proc.popen.pid, sig)  # type: ignore[union-attr]
            else:
                os.kill(proc.popen.pid, sig)  # type: ignore[union-attr]
        except ProcessLookupError:
            pass
