"""The loader's retry, classification and draining rules, with a scripted destination."""

import threading

import pytest

from apps.connectors.base import (
    CheckResult,
    ConnectorError,
    Destination,
    ErrorCode,
    OutgoingBatch,
    RecordOutcome,
    WriteResult,
)
from apps.connectors.destinations.http import HttpDestination
from apps.connectors.ratelimit import limiter_for
from apps.connectors.registry import parse_config
from apps.engine.loader import PendingBatch, RetryPolicy, RunStopped, run_batches, send_with_retries
from tests.fakes.http_sink import HttpSink


class Scripted(Destination):
    """Answers each write with the next scripted result (an exception or a list of ok flags)."""

    type = "scripted"
    label = "Scripted"
    Config = None  # type: ignore[assignment]

    def __init__(self, script):
        self.script = list(script)
        self.calls = 0
        self.lock = threading.Lock()

    def check(self):
        return CheckResult(True, "ok")

    def list_objects(self):
        return []

    def list_fields(self, object_name):
        return []

    def write(self, object_name, mode, batch, *, match_key):
        with self.lock:
            self.calls += 1
            step = self.script.pop(0) if self.script else None
        if isinstance(step, Exception):
            raise step
        flags = step or [True] * len(batch)
        return WriteResult(
            [
                RecordOutcome(
                    i,
                    ok,
                    error_code=None if ok else ErrorCode.INVALID_FIELD_VALUE,
                    message=None if ok else "no",
                )
                for i, ok in enumerate(flags)
            ]
        )


def pending(n: int = 3, number: int = 1) -> PendingBatch:
    return PendingBatch(
        number,
        "upsert",
        [f"k{i}" for i in range(n)],
        ["h"] * n,
        OutgoingBatch.of([{"id": i} for i in range(n)]),
    )


THREE_RETRIES = RetryPolicy(max_retries=3)


def send(dest, batch, policy=THREE_RETRIES, sleeps=None):
    sleeps = [] if sleeps is None else sleeps
    return send_with_retries(
        dest, "obj", batch, match_key="id", limiter=limiter_for("t", None), policy=policy, sleep=sleeps.append
    )


def test_transient_errors_are_retried_honouring_retry_after():
    dest = Scripted(
        [
            ConnectorError(
                "slow down", code=ErrorCode.RATE_LIMITED, status=429, retryable=True, retry_after=7
            ),
            ConnectorError("oops", code=ErrorCode.DESTINATION_UNAVAILABLE, status=503, retryable=True),
            None,
        ]
    )
    sleeps = []
    done = send(dest, pending(), sleeps=sleeps)
    assert all(o.ok for o in done.outcomes) and done.requests == 3 and done.retries == 2
    assert sleeps[0] == 7 and 0 <= sleeps[1] <= RetryPolicy().base_delay * 2


def test_exhausted_retries_fail_records_as_retryable():
    errors = [ConnectorError("down", code=ErrorCode.DESTINATION_UNAVAILABLE, status=502, retryable=True)] * 4
    done = send(Scripted(errors), pending())
    assert [o.ok for o in done.outcomes] == [False] * 3
    assert all(
        o.retryable and o.status == 502 and o.error_code == "destination_unavailable" for o in done.outcomes
    )
    assert done.requests == 4


def test_permanent_errors_fail_at_once_with_the_vendor_message():
    dest = Scripted([ConnectorError("field x is bogus", code=ErrorCode.DESTINATION_REJECTED, status=400)])
    done = send(dest, pending())
    assert dest.calls == 1
    assert {(o.status, o.message, o.retryable) for o in done.outcomes} == {(400, "field x is bogus", False)}


def test_partial_success_and_missing_outcomes():
    done = send(Scripted([[True, False, True]]), pending())
    assert [o.ok for o in done.outcomes] == [True, False, True]

    class Forgetful(Scripted):
        def write(self, *args, **kwargs):
            return WriteResult([RecordOutcome(0, True)])

    done = send(Forgetful([]), pending())
    assert [o.ok for o in done.outcomes] == [True, False, False]  # never assumed written


def test_auth_failure_stops_the_run_but_drains_batches_in_flight():
    dest = Scripted([None, ConnectorError("bad token", code=ErrorCode.AUTH_FAILED, status=401)] + [None] * 10)
    completed = []
    with pytest.raises(RunStopped) as stopped:
        for done in run_batches(
            (pending(number=i) for i in range(20)), lambda p: send(dest, p), concurrency=2
        ):
            completed.append(done.number)
    assert stopped.value.error.code == "auth_failed"
    assert completed and len(completed) < 20  # it stopped submitting
    assert dest.calls == len(completed) + 1  # every batch that was sent was handed back for commit


def test_cancel_stops_submitting():
    dest = Scripted([])
    stop = threading.Event()
    seen = []
    for done in run_batches(
        (pending(number=i) for i in range(50)),
        lambda p: send(dest, p),
        concurrency=2,
        should_stop=stop.is_set,
    ):
        seen.append(done.number)
        stop.set()
    assert len(seen) < 50 and dest.calls == len(seen)


class CountingLimiter:
    def __init__(self) -> None:
        self.tokens = 0

    def acquire(self, tokens: int = 1, timeout: float | None = None) -> float:
        self.tokens += tokens
        return 0.0


def test_every_request_of_a_write_takes_a_rate_limit_token():
    """A write that takes several requests (here the HTTP destination's chunks of 10) takes a
    token for each, not one for the write; and requests made outside a write take none."""
    limiter = CountingLimiter()
    with HttpSink() as sink:
        config = parse_config("destination", "http", {"url": sink.url, "batch_size": 10})
        destination = HttpDestination(config, allow_private=True)
        batch = PendingBatch(1, "upsert", [], [], OutgoingBatch.of([{"id": i} for i in range(45)]))
        done = send_with_retries(
            destination, "obj", batch, match_key="id", limiter=limiter, policy=THREE_RETRIES
        )
        assert done.requests == 5 and limiter.tokens == 5 and len(sink.received) == 45
        destination.write("obj", "upsert", OutgoingBatch.of([{"id": 99}]), match_key="id")
        assert limiter.tokens == 5
        destination.close()
