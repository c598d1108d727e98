"""Reads a run's sync, connections and destination catalog into a RunSpec."""

from __future__ import annotations

from apps.connections.models import Connection, SavedModel
from apps.connectors.base import KEY_MODES, Destination, ErrorCode, FieldSpec, ObjectSpec
from apps.engine.spec import MappedField, Mapping, RunSpec
from apps.syncs.models import Sync

SEMANTIC_PREFIX = "semantic:"


class PlanError(Exception):
    """The sync cannot run as configured; ``code`` is a contract error code."""

    def __init__(self, message: str, code: str = ErrorCode.VALIDATION_FAILED) -> None:
        super().__init__(message)
        self.code = code


def resolve_source(sync: Sync) -> tuple[Connection, str]:
    """The warehouse connection and the SQL to run (``semantic:<model>`` resolved)."""
    sql = sync.source_query.strip()
    source = sync.source
    if sql.startswith(SEMANTIC_PREFIX):
        name = sql.removeprefix(SEMANTIC_PREFIX).strip()
        model = (
            SavedModel.objects.select_related("source")
            .filter(workspace_id=sync.workspace_id, name=name)
            .first()
        )
        if model is None:
            raise PlanError(f"No saved model named '{name}' in this workspace (from '{sql}').")
        sql = model.sql
        source = source or model.source
    if source is None:
        source = Connection.objects.filter(
            workspace_id=sync.workspace_id, role="source", is_default=True
        ).first()
    if source is None:
        raise PlanError("The sync has no source and the workspace has no default warehouse.")
    return source, sql


def destination_fields(destination: Destination, object_name: str) -> tuple[ObjectSpec, dict[str, FieldSpec]]:
    obj = destination.get_object(object_name)
    if obj is None:
        raise PlanError(f"Object '{object_name}' does not exist in the destination.", ErrorCode.SCHEMA_DRIFT)
    return obj, {f.name: f for f in destination.list_fields(object_name)}


def build_spec(sync: Sync, destination: Destination, *, full_resync: bool = False) -> RunSpec:
    source, sql = resolve_source(sync)
    obj, catalog = destination_fields(destination, sync.object_name)
    mode = sync.sync_mode
    if mode not in obj.supported_modes:
        raise PlanError(
            f"Mode '{mode}' is not supported for {obj.name}; supported: {', '.join(obj.supported_modes)}."
        )
    fields: list[MappedField] = []
    for index, raw in enumerate(sync.field_mappings):
        mapping = Mapping(
            str(raw.get("source", "")), str(raw.get("destination", "")), bool(raw.get("key", False))
        )
        spec = catalog.get(mapping.destination)
        if spec is None:
            if not obj.freeform_fields:
                raise PlanError(
                    f"Field '{mapping.destination}' does not exist on {obj.name}.", ErrorCode.SCHEMA_DRIFT
                )
            spec = FieldSpec(mapping.destination, mapping.destination, "json")
            fields.append(MappedField(f"c{index}", mapping, spec, passthrough=True))
            continue
        if not (spec.createable or spec.updateable) and not mapping.key:
            raise PlanError(f"Field '{spec.name}' of {obj.name} is read-only.", ErrorCode.SCHEMA_DRIFT)
        fields.append(MappedField(f"c{index}", mapping, spec))
    keys = [f for f in fields if f.mapping.key]
    if len(keys) > 1:
        raise PlanError("Only one mapping can be the match key.")
    if mode in KEY_MODES and not keys:
        raise PlanError(f"Mode '{mode}' needs a match key: mark one mapping with key: true.")
    if keys and not keys[0].passthrough and not keys[0].spec.identifier:
        raise PlanError(
            f"Field '{keys[0].spec.name}' cannot identify {obj.name} records (not an identifier)."
        )
    return RunSpec(
        sync_id=sync.id,
        workspace_id=sync.workspace_id,
        source_type=source.connector_type,
        source_connection=source,
        source_sql=sql,
        destination_id=sync.destination_id,
        object=obj,
        fields=fields,
        mode=mode,
        strategy=sync.incremental_strategy,
        watermark_column=sync.incremental_column,
        full_resync=full_resync,
    )
