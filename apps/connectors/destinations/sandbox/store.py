"""The sandbox account's storage: one SQLite file per account, safe for several worker processes.

Records are JSON property bags; identifier values live in their own table so a lookup by match
key is an index probe and an identifier stays unique across records, as in a real CRM.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

SCHEMA = """
CREATE TABLE IF NOT EXISTS account (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    object TEXT NOT NULL, id TEXT NOT NULL, properties TEXT NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (object, id));
CREATE TABLE IF NOT EXISTS identifiers (
    object TEXT NOT NULL, field TEXT NOT NULL, value TEXT NOT NULL, id TEXT NOT NULL,
    PRIMARY KEY (object, field, value));
CREATE INDEX IF NOT EXISTS identifiers_by_record ON identifiers (object, id);
"""


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class SandboxStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self.connection() as con:
            con.executescript(SCHEMA)

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=NORMAL")
            yield con
        finally:
            con.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self.connection() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    # --- account ---------------------------------------------------------------------------
    def account_value(self, key: str) -> str | None:
        with self.connection() as con:
            row = con.execute("SELECT value FROM account WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_account_value_once(self, key: str, value: str) -> str:
        """Store ``value`` unless the key is already set; return what is stored."""
        with self.transaction() as con:
            con.execute("INSERT OR IGNORE INTO account (key, value) VALUES (?, ?)", (key, value))
            return con.execute("SELECT value FROM account WHERE key = ?", (key,)).fetchone()[0]

    # --- records (all take an open transaction) --------------------------------------------
    @staticmethod
    def find_id(con: sqlite3.Connection, obj: str, field: str, value: str) -> str | None:
        row = con.execute(
            "SELECT id FROM identifiers WHERE object = ? AND field = ? AND value = ?", (obj, field, value)
        ).fetchone()
        return row[0] if row else None

    @staticmethod
    def load(con: sqlite3.Connection, obj: str, record_id: str) -> dict[str, Any]:
        row = con.execute(
            "SELECT properties FROM records WHERE object = ? AND id = ?", (obj, record_id)
        ).fetchone()
        return orjson.loads(row[0]) if row else {}

    @staticmethod
    def save(
        con: sqlite3.Connection,
        obj: str,
        record_id: str | None,
        properties: dict[str, Any],
        identifier_fields: tuple[str, ...],
    ) -> str:
        stamp = now_iso()
        if record_id is None:
            record_id = uuid.uuid4().hex[:18]
            con.execute(
                "INSERT INTO records (object, id, properties, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                (obj, record_id, orjson.dumps(properties).decode(), stamp, stamp),
            )
        else:
            con.execute(
                "UPDATE records SET properties = ?, updated_at = ? WHERE object = ? AND id = ?",
                (orjson.dumps(properties).decode(), stamp, obj, record_id),
            )
        con.execute("DELETE FROM identifiers WHERE object = ? AND id = ?", (obj, record_id))
        con.executemany(
            "INSERT INTO identifiers (object, field, value, id) VALUES (?, ?, ?, ?)",
            [
                (obj, f, str(properties[f]), record_id)
                for f in identifier_fields
                if properties.get(f) is not None
            ],
        )
        return record_id

    @staticmethod
    def delete(con: sqlite3.Connection, obj: str, record_id: str) -> None:
        con.execute("DELETE FROM identifiers WHERE object = ? AND id = ?", (obj, record_id))
        con.execute("DELETE FROM records WHERE object = ? AND id = ?", (obj, record_id))

    # --- reads for people ------------------------------------------------------------------
    def count(self, obj: str) -> int:
        with self.connection() as con:
            return con.execute("SELECT count(*) FROM records WHERE object = ?", (obj,)).fetchone()[0]

    def records(self, obj: str, *, limit: int = 50) -> list[dict[str, Any]]:
        with self.connection() as con:
            rows = con.execute(
                "SELECT id, properties, created_at, updated_at FROM records WHERE object = ? "
                "ORDER BY updated_at DESC LIMIT ?",
                (obj, limit),
            ).fetchall()
        return [
            {"id": rid, **orjson.loads(props), "created_at": created, "updated_at": updated}
            for rid, props, created, updated in rows
        ]
