"""The test suite's HTTP sink in a process of its own, plus ``GET /count`` so a benchmark can see
what arrived whichever tool sent it (a tool's own report is a claim; the sink's count is the check).

``/count`` answers ``{"records", "requests", "bytes", "connections", "sample"}``: accepted records,
write requests, request body bytes, TCP connections that carried writes, and the start of the
latest body. The counters only grow; a benchmark reads them before and after a run and takes the
difference.

    .venv/bin/python bench/counting_sink.py      # prints its URL, serves until SIGTERM/SIGINT
"""

from __future__ import annotations

import json
import select
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from typing import Any

from harness import ROOT  # noqa: F401 - puts the repository on sys.path for tests.fakes

# Enough for the first record of a body, whose encoding a benchmark shows.
SAMPLE_BYTES = 600


@dataclass(frozen=True)
class SinkCounts:
    records: int
    requests: int
    bytes: int
    connections: int
    sample: str

    def __sub__(self, before: SinkCounts) -> SinkCounts:
        # The sample is not a counter: the newer one is what the run in between sent.
        return SinkCounts(
            records=self.records - before.records,
            requests=self.requests - before.requests,
            bytes=self.bytes - before.bytes,
            connections=self.connections - before.connections,
            sample=self.sample,
        )


def serve() -> None:
    # Imported here, not at the top, so the parent process that only drives the sink does not
    # need the test fakes (nor orjson) importable.
    from tests.fakes.http_sink import HttpSink, _Handler

    class CountingSink(HttpSink):
        def __init__(self) -> None:
            # count_only: keeping 100,000 records would measure the fake's memory, not the client.
            # No idempotency dedupe: a replayed key must not hide a record from the count.
            super().__init__(count_only=True, dedupe_idempotency=False)
            self.connections = 0
            self.sample = b""

        def start(self) -> CountingSink:
            super().start()
            # Swapped in before the URL is printed, so no client can have reached the plain handler.
            assert self._server is not None
            self._server.RequestHandlerClass = CountingHandler
            return self

        def note_connection(self) -> None:
            with self._lock:
                self.connections += 1

        def note_body(self, body: bytes) -> None:
            with self._lock:
                self.sample = body[:SAMPLE_BYTES]

        def counts(self) -> dict[str, Any]:
            with self._lock:
                return {
                    "records": self.record_count,
                    "requests": self.requests,
                    "bytes": self.bodies_bytes,
                    "connections": self.connections,
                    "sample": self.sample.decode("utf-8", "replace"),
                }

    class CountingHandler(_Handler):
        server: Any  # the sink's _Server, whose .sink is a CountingSink here

        wrote = False  # per instance: one handler object serves one TCP connection

        def _body(self) -> bytes:
            # Every write goes through _body(), so this sees each body without copying the
            # base class's request handling.
            body = super()._body()
            if body:
                self.server.sink.note_body(body)
                if not self.wrote:
                    # Connections that carried writes (not the /count reads): shows which client
                    # reuses connections (keep-alive) and which opens one per request.
                    self.wrote = True
                    self.server.sink.note_connection()
            return body

        def _get(self) -> None:
            if self.path.split("?", 1)[0] == "/count":
                self._body()
                self._send(200, json.dumps(self.server.sink.counts()).encode())
            else:
                self._probe()

        do_GET = _get

    with CountingSink() as sink:
        print(sink.url, flush=True)
        signal.sigwait({signal.SIGTERM, signal.SIGINT})


class CountingSinkProcess:
    """Starts the sink in its own process (so it shares no GIL with the client being measured)."""

    def __init__(self, start_timeout: float = 30.0) -> None:
        self.start_timeout = start_timeout
        self.url = ""
        self.base_url = ""

    def __enter__(self) -> CountingSinkProcess:
        self.proc = subprocess.Popen([sys.executable, __file__], stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        # A bounded wait for the URL line: a sink that failed to import must not hang the benchmark.
        ready, _, _ = select.select([self.proc.stdout], [], [], self.start_timeout)
        line = self.proc.stdout.readline().strip() if ready else ""
        if not line.startswith("http://"):
            self.__exit__()
            raise RuntimeError(f"the counting sink did not start (exit code {self.proc.poll()})")
        self.url = line
        self.base_url = line.rsplit("/", 1)[0]
        time.sleep(0.2)
        return self

    def counts(self) -> SinkCounts:
        with urllib.request.urlopen(self.base_url + "/count", timeout=10) as response:
            return SinkCounts(**json.loads(response.read()))

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


if __name__ == "__main__":
    # Blocked before the server threads start, so they inherit the mask and sigwait() gets the
    # signal instead of the default handler killing the process mid-response.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    serve()
