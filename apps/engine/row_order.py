"""The accepted hashes in the order the warehouse last returned them: a shortcut for the hash pass.

A hash pass asks, for each of a query's N row hashes, whether the state holds it as accepted: a
join of N hashes against N accepted ones, the costliest step of a run where little changed. But a
warehouse mostly returns a query's rows in the same order run after run, so most hashes can be
checked against the one at the same position last time instead: a vectorised comparison. Only
the rows that moved, changed or are new still go through a join, and a small one.

The order is saved after a run (``Workbench.accepted_order``) with the fingerprint of the state
it describes: its row count and the sum of its hashes. Every non-NULL value in it is a hash the
state holds as accepted at that fingerprint; rows that were not accepted are NULL there. A later
run uses it only while the state's fingerprint is still the same, so a state changed since (a
crash fold, a reset, another store) simply makes it unused: a stale order costs a join, never a
wrong answer. A position that matches proves only that the row's hash is accepted, which is all
``same`` means; the order itself is never trusted, so a warehouse that reorders rows makes the
shortcut slower, not wrong.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from apps.engine.query import ROW_HASH_ALIAS

POSITION_MATCH = "__pos"  # tagged on the hash stream: the hash equals the one saved at its position
_SCHEMA = pa.schema([("h", pa.uint64())])


@dataclass(frozen=True)
class StateFingerprint:
    rows: int
    hash_sum: int

    def as_metadata(self) -> dict[str, str]:
        return {"state_rows": str(self.rows), "state_hash_sum": str(self.hash_sum)}

    @classmethod
    def from_metadata(cls, metadata: dict[bytes, bytes] | None) -> StateFingerprint | None:
        try:
            return cls(int((metadata or {})[b"state_rows"]), int((metadata or {})[b"state_hash_sum"]))
        except (KeyError, ValueError):
            return None


class SavedOrder:
    """An order file (an Arrow IPC stream of one nullable uint64 column), read lazily."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fingerprint(self) -> StateFingerprint | None:
        """The state the saved order describes; None when there is no usable file."""
        try:
            with pa.OSFile(str(self.path), "rb") as file:
                return StateFingerprint.from_metadata(pa.ipc.open_stream(file).schema.metadata)
        except (OSError, pa.ArrowInvalid):
            return None

    def hashes(self) -> Iterator[pa.Array]:
        """The saved hashes in order, batch by batch (flat memory). A file cut short ends early:
        the positions past its end simply do not match."""
        try:
            with pa.OSFile(str(self.path), "rb") as file:
                for batch in pa.ipc.open_stream(file):
                    yield batch.column(0)
        except (OSError, pa.ArrowInvalid):
            return

    def save(self, hashes: Iterable[pa.Array], fingerprint: StateFingerprint) -> None:
        """Replace the file: written aside, then renamed over, so a reader sees all or nothing."""
        partial = self.path.with_suffix(".partial")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with (
            pa.OSFile(str(partial), "wb") as file,
            pa.ipc.new_stream(file, _SCHEMA.with_metadata(fingerprint.as_metadata())) as writer,
        ):
            for column in hashes:
                writer.write_batch(pa.record_batch([column], schema=_SCHEMA))
        partial.replace(self.path)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
        self.path.with_suffix(".partial").unlink(missing_ok=True)


def tag_positions(batches: Iterable[pa.RecordBatch], saved: Iterator[pa.Array]) -> Iterator[pa.RecordBatch]:
    """The hash stream with ``__pos``: whether each hash equals the saved one at its position."""
    cursor = _Cursor(saved)
    for batch in batches:
        hashes = batch.column(ROW_HASH_ALIAS)
        # A signed warehouse hash (PostgreSQL's int8) is compared by its 64 bits, as stored.
        unsigned = hashes if hashes.type == pa.uint64() else pc.cast(hashes, pa.uint64(), safe=False)
        same = pc.fill_null(pc.equal(unsigned, cursor.take(len(unsigned))), False)
        yield pa.record_batch([hashes, same], names=[ROW_HASH_ALIAS, POSITION_MATCH])


class _Cursor:
    """Consecutive slices of the saved hashes, whatever the batch sizes on either side."""

    def __init__(self, saved: Iterator[pa.Array]) -> None:
        self._saved = saved
        self._current: pa.Array = pa.array([], pa.uint64())
        self._offset = 0

    def take(self, n: int) -> pa.Array:
        if n == 0:
            return pa.array([], pa.uint64())
        parts: list[pa.Array] = []
        wanted = n
        while wanted:
            if self._offset == len(self._current):
                self._current = next(self._saved, None)
                self._offset = 0
                if self._current is None:  # past the end: nothing matches
                    self._current = pa.array([], pa.uint64())
                    parts.append(pa.nulls(wanted, pa.uint64()))
                    break
                continue
            part = self._current.slice(self._offset, wanted)
            self._offset += len(part)
            wanted -= len(part)
            parts.append(part)
        return parts[0] if len(parts) == 1 else pa.concat_arrays(parts)
