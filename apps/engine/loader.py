"""Sends batches to the destination: concurrent, rate-limited, retried, classified.

Requests run on a small thread pool (HTTP waits release the GIL), each HTTP request a connector
sends acquiring a token from the destination connection's bucket first (``http.request_limiter``).
A transient failure (429, 5xx, timeout, reset) is retried with exponential backoff and full
jitter, honouring Retry-After, up to ``max_retries``; after that the batch's records fail as
retryable. A permanent failure fails the batch's records at once with the destination's status
and message. Auth and permission failures stop the run: no point sending the rest, and nothing
is marked failed that the next run could not send.
"""

from __future__ import annotations

import operator
import random
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

import pyarrow as pa

from apps.connectors.base import (
    ConnectorError,
    Destination,
    ErrorCode,
    OutgoingBatch,
    RecordOutcome,
    WriteResult,
)
from apps.connectors.http import request_limiter
from apps.connectors.ratelimit import RateLimiter

RUN_STOPPING_CODES = frozenset({ErrorCode.AUTH_FAILED, ErrorCode.PERMISSION_DENIED})


class RunStopped(Exception):
    """The destination refused us as a whole (credentials, permissions): stop the run."""

    def __init__(self, error: ConnectorError) -> None:
        super().__init__(error.message)
        self.error = error


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 5
    base_delay: float = 0.5
    max_delay: float = 60.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        return random.uniform(0, min(self.max_delay, self.base_delay * (2**attempt)))


@dataclass
class PendingBatch:
    """A batch on its way: what was sent and, once done, what came back."""

    number: int
    mode: str
    keys: pa.Array  # string
    hashes: pa.Array  # uint64 (NULL for deletes)
    batch: OutgoingBatch
    outcomes: list[RecordOutcome] = field(default_factory=list)
    requests: int = 0
    retries: int = 0


def send_with_retries(
    destination: Destination,
    object_name: str,
    pending: PendingBatch,
    *,
    match_key: str | None,
    limiter: RateLimiter,
    policy: RetryPolicy,
    sleep: Callable[[float], None] = time.sleep,
) -> PendingBatch:
    attempt = 0
    while True:
        pending.requests += 1
        try:
            result = _write(destination, object_name, pending, match_key, limiter)
        except ConnectorError as exc:
            if exc.code in RUN_STOPPING_CODES:
                raise RunStopped(exc) from exc
            if exc.retryable and attempt < policy.max_retries:
                sleep(policy.delay(attempt, exc.retry_after))
                attempt += 1
                pending.retries = attempt
                continue
            pending.outcomes = [
                RecordOutcome(
                    i,
                    False,
                    error_code=exc.code,
                    message=exc.message,
                    status=exc.status,
                    retryable=exc.retryable,
                )
                for i in range(len(pending.batch))
            ]
            return pending
        pending.requests += result.requests - 1
        pending.outcomes = _complete(result.outcomes, len(pending.batch))
        return pending


def _write(
    destination: Destination,
    object_name: str,
    pending: PendingBatch,
    match_key: str | None,
    limiter: RateLimiter,
) -> WriteResult:
    """One write, each request it sends taking a token (``http.send``), not one per write: a
    write may take several requests (chunks, a resend of the records a 400 did not name)."""
    limited = request_limiter.set(limiter)
    try:
        return destination.write(object_name, pending.mode, pending.batch, match_key=match_key)
    finally:
        request_limiter.reset(limited)


_index_of = operator.attrgetter("index")


def _complete(outcomes: list[RecordOutcome], size: int) -> list[RecordOutcome]:
    """One outcome per record, in order. A connector that reports fewer is treated as having lost
    the missing ones: they fail (retryable) rather than being assumed written."""
    if len(outcomes) == size and all(map(operator.eq, map(_index_of, outcomes), range(size))):
        return outcomes  # the usual answer, already complete and in order: checked in C
    by_index = {o.index: o for o in outcomes if 0 <= o.index < size}
    return [
        by_index.get(i)
        or RecordOutcome(
            i,
            False,
            error_code=ErrorCode.DESTINATION_REJECTED,
            message="the destination returned no outcome for this record",
            retryable=True,
        )
        for i in range(size)
    ]


def run_batches(
    batches: Iterable[PendingBatch],
    send: Callable[[PendingBatch], PendingBatch],
    *,
    concurrency: int,
    should_stop: Callable[[], bool] = lambda: False,
) -> Iterator[PendingBatch]:
    """Send batches on ``concurrency`` threads; yield each as it completes, in completion order.

    At most ``2 x concurrency`` batches are in flight or queued, so rows are read from the
    workbench no faster than the destination takes them (flat memory).
    """
    in_flight: set[Future[PendingBatch]] = set()
    source = iter(batches)
    exhausted = False
    stopped: RunStopped | None = None
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="syncline-load") as pool:
        while True:
            while (
                not exhausted and stopped is None and len(in_flight) < 2 * concurrency and not should_stop()
            ):
                nxt = next(source, None)
                if nxt is None:
                    exhausted = True
                    break
                in_flight.add(pool.submit(send, nxt))
            if not in_flight:
                break
            done, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in done:
                try:
                    yield future.result()
                except RunStopped as exc:
                    # Keep draining: batches already sent must still be committed.
                    stopped = stopped or exc
    if stopped is not None:
        raise stopped
