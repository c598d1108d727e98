"""Row hashes in the order the warehouse returned them: the hash pass's log and its shortcut.

A hash pass asks, for each of a query's N row hashes, whether the state holds it as accepted: a
join of N hashes against N accepted ones, the costliest step of a run where little changed. But a
warehouse mostly returns a query's rows in the same order run after run, so most hashes can be
checked against the one at the same position last time instead: a vectorised comparison. Only
the rows that moved, changed or are new still go through a join, and a small one.

Each hash pass writes the hashes it reads to a ``HashLog`` as they stream in (8 bytes a row,
sequential, no second pass). After the run, the positions of rows whose hash was not accepted are
cleared (zero) and the log, stamped with the fingerprint of the state it describes (its row count
and the sum of its hashes), replaces the sync's ``SavedOrder``. Every non-zero value in it is a
hash the state holds as accepted at that fingerprint. A later run uses it only while the state's
fingerprint is still the same, so a state changed since (a crash fold, a reset, another store)
simply makes it unused: a stale order costs a join, never a wrong answer. A position that matches
proves only that the row's hash is accepted, which is all "settled" means; the order itself is
never trusted, so a warehouse that reorders rows makes the shortcut slower, not wrong.

The file is raw little-endian uint64s after a 64-byte header, so it is read as an Arrow array
straight from a memory map and patched in place; zero stands for "not accepted" (a real hash of
zero then never matches by position and goes through the join: slower, still right).
"""

from __future__ import annotations

import mmap
import os
import shutil
import struct
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

_MAGIC = b"SYNCORD1"
_HEADER = struct.Struct("<8sqq16sq")  # magic, rows written, state rows, state hash sum, sealed
_HEADER_SIZE = 64
_NOT_ACCEPTED = bytes(8)
_ZERO = pa.scalar(0, pa.uint64())


@dataclass(frozen=True)
class StateFingerprint:
    rows: int
    hash_sum: int


class HashLog:
    """One run's row hashes (unsigned), in the order they arrived, in a file of its own."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        # An existing file is overwritten in place, not truncated: freeing its pages first would
        # cost as much as writing them (~6 ms for 1M rows); ``seal`` cuts off any excess.
        mode = "r+b" if path.exists() else "w+b"
        self._file = open(path, mode)  # noqa: SIM115 - open until ``close``, across many appends
        self._file.write(bytes(_HEADER_SIZE))

    def append(self, hashes: pa.Array) -> None:
        """Append a uint64 array without nulls, as its raw bytes."""
        data = hashes.buffers()[1]
        start = hashes.offset * 8
        self._file.write(memoryview(data)[start : start + 8 * len(hashes)])
        self.rows += len(hashes)

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()

    def array(self) -> pa.Array:
        """Every hash written so far, read from a memory map (no copy)."""
        self._file.flush()
        return _mapped(self.path, self.rows)

    def clear(self, positions: Iterable[int]) -> None:
        """Mark these rows as not accepted."""
        self._file.flush()
        with mmap.mmap(self._file.fileno(), 0) as mapped:
            for position in positions:
                offset = _HEADER_SIZE + 8 * position
                mapped[offset : offset + 8] = _NOT_ACCEPTED

    def seal(self, fingerprint: StateFingerprint) -> None:
        """Stamp the state the log now describes and close it."""
        self._file.truncate(_HEADER_SIZE + 8 * self.rows)
        self._file.seek(0)
        self._file.write(
            _HEADER.pack(_MAGIC, self.rows, fingerprint.rows, _sum_bytes(fingerprint.hash_sum), 1)
        )
        self.close()


class SavedOrder:
    """A sync's last sealed ``HashLog`` (``var/state/<sync>.order``)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fingerprint(self) -> StateFingerprint | None:
        """The state the saved order describes; None when there is no usable file."""
        header = self._header()
        return header[1] if header else None

    def hashes_for(self, state: StateFingerprint) -> pa.Array | None:
        """The saved hashes, if they describe ``state``; else None."""
        header = self._header()
        if header is None or header[1] != state:
            return None
        return _mapped(self.path, header[0])

    def _header(self) -> tuple[int, StateFingerprint] | None:
        try:
            with open(self.path, "rb") as file:
                raw = file.read(_HEADER.size)
                size = os.fstat(file.fileno()).st_size
        except OSError:
            return None
        if len(raw) < _HEADER.size:
            return None
        magic, rows, state_rows, hash_sum, sealed = _HEADER.unpack(raw)
        if magic != _MAGIC or sealed != 1 or size != _HEADER_SIZE + 8 * rows:  # cut short: unused
            return None
        return rows, StateFingerprint(state_rows, int.from_bytes(hash_sum, "little", signed=True))

    def new_log(self) -> HashLog:
        """A log for this run's hash pass, in the file the order before last was kept in."""
        return HashLog(self._spare)

    def adopt(self, log: HashLog, fingerprint: StateFingerprint) -> None:
        """Seal ``log`` with ``fingerprint`` and make it the saved order, all or nothing.

        Renames only: the old order becomes the spare the next run's log overwrites, so no
        file's pages are freed here. A crash between the renames leaves no saved order (the next
        run joins), never a wrong one.
        """
        log.seal(fingerprint)
        if log.path != self._spare:  # a log kept elsewhere: copied beside the order first
            shutil.copyfile(log.path, self._spare)
        with suppress(FileNotFoundError):
            os.replace(self.path, self._retired)
        os.replace(self._spare, self.path)
        with suppress(FileNotFoundError):
            os.replace(self._retired, self._spare)

    @property
    def _spare(self) -> Path:
        return self.path.with_name(self.path.name + ".next")

    @property
    def _retired(self) -> Path:
        return self.path.with_name(self.path.name + ".old")

    def remove(self) -> None:
        for path in (self.path, self._spare, self._retired):
            path.unlink(missing_ok=True)


class PositionMatch:
    """Whether each hash of the stream equals the accepted one saved at its position."""

    def __init__(self, saved: pa.Array) -> None:
        self._saved = saved
        self._offset = 0

    def settled(self, hashes: pa.Array) -> pa.Array:
        """A boolean mask over the next ``len(hashes)`` rows of the stream (uint64 hashes)."""
        n = len(hashes)
        saved = self._saved.slice(self._offset, n)
        self._offset += n
        if len(saved) < n:  # past the saved order's end: nothing matches
            saved = pa.concat_arrays([saved, pa.nulls(n - len(saved), pa.uint64())])
        same = pc.and_kleene(pc.equal(hashes, saved), pc.not_equal(saved, _ZERO))
        return pc.fill_null(same, False)


def _mapped(path: Path, rows: int) -> pa.Array:
    if rows == 0:
        return pa.array([], pa.uint64())
    with pa.memory_map(str(path), "r") as source:
        buffer = source.read_buffer()
    data = buffer.slice(_HEADER_SIZE, 8 * rows)
    return pa.Array.from_buffers(pa.uint64(), rows, [None, data])


def _sum_bytes(value: int) -> bytes:
    return value.to_bytes(16, "little", signed=True)
