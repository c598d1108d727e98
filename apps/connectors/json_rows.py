"""A batch's rows as JSON object texts in one Arrow string array, ready to be joined into bodies.

The engine renders every row's JSON inside DuckDB. Turning those texts into a Python string each,
then joining them back into a request body, is pure overhead on the hot path of a sync: at a
million rows about 0.2 s of the sending process's GIL, which the request threads need. So the
workbench writes each row with a leading comma (``,{"id":…}``, see ``render_sql``): a run of
consecutive rows is then the inside of a JSON array, one slice of the array's data buffer, and
a body is built with a single copy. Python strings are made only when a connector asks for them.
"""

from __future__ import annotations

import pyarrow as pa

_SEPARATOR = ","
_OFFSET_FORMATS = {pa.string(): "i", pa.large_string(): "q"}


def render_sql(json_sql: str) -> str:
    """The SQL of a row as ``JsonRows`` holds it, from the SQL of its JSON object text."""
    return f"('{_SEPARATOR}' || {json_sql})"


class JsonRows:
    """Rows rendered by ``render_sql``: each a JSON object text behind one comma."""

    __slots__ = ("_array",)

    def __init__(self, array: pa.Array | pa.ChunkedArray) -> None:
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        if array.type not in _OFFSET_FORMATS:
            raise TypeError(f"JSON rows must be an Arrow string array, not {array.type}")
        if array.null_count:
            raise ValueError("a JSON row cannot be NULL")
        self._array = array

    def __len__(self) -> int:
        return len(self._array)

    def texts(self) -> list[str]:
        """Each row's JSON object text."""
        return [text[1:] for text in self._array.to_pylist()]

    def json_array(self, start: int, stop: int) -> bytes:
        """``[row,…]`` of rows ``start .. stop-1``, UTF-8 encoded."""
        rows = self._array.slice(start, max(0, stop - start))
        if not len(rows):
            return b"[]"
        _, offsets, data = rows.buffers()
        bounds = memoryview(offsets).cast(_OFFSET_FORMATS[rows.type])
        begin, end = bounds[rows.offset], bounds[rows.offset + len(rows)]
        return b"[" + memoryview(data)[begin + 1 : end] + b"]"  # past the first row's comma
