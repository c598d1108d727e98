"""The custom HTTP destination in the conformance suite, against the fake sink."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.connectors.conformance.harness import ConformanceCase
from tests.fakes.http_sink import Fault, HttpSink

TOKEN = "conformance-http-token-5d1c"


class _Hook:
    """Rejects records whose email is 'not-an-email'; answers 429 to throttled requests."""

    def __init__(self) -> None:
        self.throttled = 0

    def __call__(self, number: int, records: list[dict[str, Any]]) -> Fault | None:
        if self.throttled:
            self.throttled -= 1
            return Fault.rate_limited(1)
        bad = tuple(i for i, r in enumerate(records) if r.get("email") == "not-an-email")
        return Fault.reject(bad, "email is not valid", "invalid_field_value") if bad else None


@contextmanager
def _fake() -> Iterator[HttpSink]:
    hook = _Hook()
    with HttpSink(faults=hook, require_headers={"Authorization": f"Bearer {TOKEN}"}) as sink:
        sink.hook = hook  # type: ignore[attr-defined]
        yield sink


def _throttle(sink: HttpSink) -> None:
    sink.hook.throttled += 1  # type: ignore[attr-defined]


CASE = ConformanceCase(
    connector_type="http",
    fake=_fake,
    config=lambda sink: {"url": sink.url, "auth": {"type": "bearer", "token": TOKEN}},
    bad_credentials=lambda sink: {"url": sink.url, "auth": {"type": "bearer", "token": "wrong-token-0000"}},
    throttle=_throttle,
    object_name="records",
    mode="upsert",
    match_key="id",
    records=[{"id": f"r{i}", "email": f"r{i}@example.com"} for i in range(3)],
    rejected_record={"id": "bad", "email": "not-an-email"},
    freeform=True,
)
