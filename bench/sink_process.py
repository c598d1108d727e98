"""Runs the test suite's HTTP sink in a process of its own, as a vendor's server would be: the
engine's process then does not share its GIL with the server. Prints the URL, serves until killed."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from harness import ROOT  # noqa: F401 - puts the repository on sys.path


def serve() -> None:
    from tests.fakes.http_sink import HttpSink

    with HttpSink(count_only=True, dedupe_idempotency=False) as sink:
        print(sink.url, flush=True)
        signal.sigwait({signal.SIGTERM, signal.SIGINT})


class SinkProcess:
    def __enter__(self) -> SinkProcess:
        self.proc = subprocess.Popen([sys.executable, __file__], stdout=subprocess.PIPE, text=True)
        self.url = self.proc.stdout.readline().strip()
        time.sleep(0.2)
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    serve()
