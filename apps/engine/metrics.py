"""Run metrics and the rule that they balance."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field


@dataclass
class RunMetrics:
    rows_read: int = 0
    rows_added: int = 0
    rows_changed: int = 0
    rows_removed: int = 0
    rows_unchanged: int = 0
    rows_invalid: int = 0
    rows_written: int = 0
    rows_failed: int = 0
    batches: int = 0
    requests: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    def imbalance(self) -> str | None:
        """Why the counts don't add up, or None when every row is accounted for."""
        classified = self.rows_unchanged + self.rows_invalid + self.rows_added + self.rows_changed
        if self.rows_read != classified:
            return f"rows_read ({self.rows_read}) != unchanged + invalid + added + changed ({classified})"
        to_write = self.rows_added + self.rows_changed + self.rows_removed
        outcomes = self.rows_written + self.rows_failed
        if to_write != outcomes:
            return f"added + changed + removed ({to_write}) != written + failed ({outcomes})"
        return None


@dataclass
class PhaseTimer:
    timings: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - started)

    def add(self, name: str, seconds: float) -> None:
        self.timings[name] = round(self.timings.get(name, 0.0) + seconds, 4)
