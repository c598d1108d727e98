"""Plain dataclasses describing one run; built from the ORM once, then passed around."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import duckdb
import orjson

from apps.connectors.base import FieldSpec, ObjectSpec


@dataclass(frozen=True)
class Mapping:
    source: str  # column, SQL expression or literal, in the warehouse's dialect
    destination: str  # destination field API name
    key: bool = False


@dataclass(frozen=True)
class MappedField:
    """A mapping joined with its destination field spec; ``column`` is its alias in the extract."""

    column: str
    mapping: Mapping
    spec: FieldSpec
    passthrough: bool = False  # free-form destinations: send the warehouse value as it is


@dataclass
class RunSpec:
    sync_id: str
    workspace_id: str
    source_type: str
    source_connection: Any  # apps.connections.models.Connection
    source_sql: str  # the user's query, semantic references resolved
    destination_id: str
    object: ObjectSpec
    fields: list[MappedField]
    mode: str
    strategy: str  # diff | watermark | none
    watermark_column: str = ""
    full_resync: bool = False

    @property
    def key_field(self) -> MappedField | None:
        return next((f for f in self.fields if f.mapping.key), None)

    @property
    def fingerprint(self) -> str:
        return config_fingerprint(
            source_sql=self.source_sql,
            mappings=[f.mapping for f in self.fields],
            object_name=self.object.name,
            mode=self.mode,
            strategy=self.strategy,
            watermark_column=self.watermark_column,
            destination_id=self.destination_id,
            source_type=self.source_type,
        )


def config_fingerprint(
    *,
    source_sql: str,
    mappings: list[Mapping],
    object_name: str,
    mode: str,
    strategy: str,
    watermark_column: str,
    destination_id: str,
    source_type: str = "",
) -> str:
    """Identity of everything that gives the change-detection state its meaning.

    When it changes (query, mappings, object, mode, strategy or destination), the state no longer
    describes what the destination holds, so the next run starts from an empty state.
    """
    payload = orjson.dumps(
        {
            # Row hashes come from DuckDB's hash(), which is stable within a version only: a new
            # DuckDB version starts a fresh state (one full run) rather than trusting old hashes.
            # Format 3: a source that can hash rows itself (Source.row_hash_sql) provides the
            # hashes, so the source type is part of their meaning too.
            "hash_engine": f"duckdb-{duckdb.__version__}/state-format-3",
            "source_type": source_type,
            "sql": source_sql.strip(),
            "mappings": [[m.source, m.destination, m.key] for m in mappings],
            "object": object_name,
            "mode": mode,
            "strategy": strategy,
            "watermark": watermark_column,
            "destination": destination_id,
        }
    )
    return hashlib.sha256(payload).hexdigest()
