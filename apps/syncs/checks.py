"""A sync definition checked against the warehouse and the destination catalog.

The same rules the engine applies when it plans a run (``apps.engine.plan.build_spec``), applied
up front so a bad sync is a 400 naming the field, not a failed run hours later. The warehouse is
asked only for the columns of the query (bound, never run), and only after the SQL guard accepted
it, so a write statement never reaches the warehouse.
"""

from __future__ import annotations

from typing import Any

from sqlglot.errors import SqlglotError

from apps.accounts.models import Workspace
from apps.connections.catalog import catalog_fields, catalog_objects
from apps.connections.models import Connection, ConnectionRole, SavedModel
from apps.connections.services import connector_for
from apps.connectors import registry
from apps.connectors.base import (
    CREATING_MODES,
    KEY_MODES,
    UPDATING_MODES,
    Destination,
    FieldSpec,
    ObjectSpec,
    Source,
)
from apps.connectors.sql_guard import UnsafeQueryError, ensure_read_only
from apps.engine.plan import SEMANTIC_PREFIX
from apps.engine.query import MappingError, compile_extract, parse_expression
from apps.engine.spec import MappedField, Mapping

LISTED = 50  # names listed in a message at most (a CRM can have hundreds of objects)
_ANY_FIELD = FieldSpec("value", "value", "json")  # compile_extract only reads the mapping


class Errors:
    """Field-level messages, in the order they were found."""

    def __init__(self) -> None:
        self.details: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.details.setdefault(field, []).append(message)

    def has(self, field: str) -> bool:
        return field in self.details

    def has_prefix(self, prefix: str) -> bool:
        return any(k.startswith(prefix) for k in self.details)

    def __bool__(self) -> bool:
        return bool(self.details)


def listing(names: list[str]) -> str:
    shown = ", ".join(names[:LISTED])
    return f"{shown} … and {len(names) - LISTED} more" if len(names) > LISTED else shown or "none"


def resolve_source(
    *, workspace: Workspace, source_id: str | None, source_query: str, errors: Errors
) -> tuple[Connection | None, Connection | None, str | None]:
    """(source to store, source the query runs on, SQL to check); as ``plan.resolve_source`` does."""
    stored = None
    if source_id is not None:
        stored = Connection.objects.filter(
            workspace=workspace, role=ConnectionRole.SOURCE, pk=source_id
        ).first()
        if stored is None:
            errors.add("sourceId", f"No source connection {source_id!r} in this workspace.")
            return None, None, None
    effective, sql = stored, source_query
    if source_query.startswith(SEMANTIC_PREFIX):
        name = source_query.removeprefix(SEMANTIC_PREFIX).strip()
        model = SavedModel.objects.select_related("source").filter(workspace=workspace, name=name).first()
        if model is None:
            names = list(
                SavedModel.objects.filter(workspace=workspace).order_by("name").values_list("name", flat=True)
            )
            errors.add(
                "sourceQuery",
                f"No saved model named {name!r} in this workspace; saved models: {listing(names)}.",
            )
            return stored, None, None
        sql, effective = model.sql, effective or model.source
    if effective is None:
        effective = Connection.objects.filter(
            workspace=workspace, role=ConnectionRole.SOURCE, is_default=True
        ).first()
        if effective is None:
            errors.add("sourceId", "The workspace has no default warehouse: give sourceId.")
    return stored, effective, sql


def dialect_of(source: Connection | None) -> str | None:
    if source is None:
        return None
    try:
        return registry.source_class(source.connector_type).dialect
    except registry.UnknownConnectorError:
        return None


def destination_catalog(
    *, workspace: Workspace, destination_id: str, object_name: str, errors: Errors
) -> tuple[Connection | None, ObjectSpec | None, dict[str, FieldSpec]]:
    """The destination, its object and that object's fields, from the cached catalog."""
    destination = Connection.objects.filter(
        workspace=workspace, role=ConnectionRole.DESTINATION, pk=destination_id
    ).first()
    if destination is None:
        errors.add("destinationId", f"No destination connection {destination_id!r} in this workspace.")
        return None, None, {}
    try:
        objects = catalog_objects(destination)
        obj = next((o for o in objects if o.name == object_name), None) or _unlisted_object(
            destination, object_name
        )
        if obj is None:
            errors.add(
                "objectName",
                f"Object {object_name!r} does not exist in destination {destination.name!r}; "
                f"available objects: {listing([o.name for o in objects])}.",
            )
            return destination, None, {}
        catalog = {f.name: f for f in catalog_fields(destination, object_name)}
    except Exception as exc:  # any connector failure (auth, network, bad config) is the caller's to fix
        errors.add("destinationId", f"Could not read the catalog of destination {destination.name!r}: {exc}")
        return destination, None, {}
    return destination, obj, catalog


def _unlisted_object(destination: Connection, object_name: str) -> ObjectSpec | None:
    """An object a free-form destination accepts without listing it (any name, for custom HTTP).

    Only connectors that override ``get_object`` are asked: the base one searches the same listing
    the cache just answered, and asking again would cost a live call per typo.
    """
    connector = connector_for(destination)
    try:
        if type(connector).get_object is Destination.get_object:
            return None
        return connector.get_object(object_name)  # type: ignore[union-attr]
    finally:
        connector.close()


def check_mode(*, obj: ObjectSpec, mode: str, errors: Errors) -> None:
    if mode not in obj.supported_modes:
        errors.add(
            "syncMode",
            f"Mode {mode!r} is not supported for {obj.name}; "
            f"supported modes: {', '.join(obj.supported_modes)}.",
        )


def check_mappings(
    *,
    obj: ObjectSpec,
    catalog: dict[str, FieldSpec],
    mappings: list[dict[str, Any]],
    mode: str,
    errors: Errors,
) -> None:
    seen: dict[str, int] = {}
    keys: list[int] = []
    for index, mapping in enumerate(mappings):
        label = f"fieldMappings[{index}]"
        name, is_key = mapping["destination"], mapping["key"]
        if name in seen:
            errors.add(
                f"{label}.destination",
                f"Field {name!r} is already mapped by fieldMappings[{seen[name]}]; map each field once.",
            )
        seen.setdefault(name, index)
        if is_key:
            keys.append(index)
        spec = catalog.get(name)
        if spec is None:
            if not obj.freeform_fields:
                errors.add(
                    f"{label}.destination",
                    f"Field {name!r} does not exist on {obj.name}; fields: {listing(sorted(catalog))}.",
                )
            continue
        if problem := _write_problem(spec, obj, mode, is_key):
            errors.add(f"{label}.destination", problem)
    if len(keys) > 1:
        names = ", ".join(mappings[i]["destination"] for i in keys)
        errors.add("fieldMappings", f"Only one mapping can be the match key (key: true); found {names}.")
    elif not keys and mode in KEY_MODES:
        errors.add("fieldMappings", f"Mode {mode!r} needs a match key: mark one mapping with key: true.")
    elif keys:
        key_name = mappings[keys[0]]["destination"]
        spec = catalog.get(key_name)
        if spec is not None and not spec.identifier:
            identifiers = sorted(f.name for f in catalog.values() if f.identifier)
            errors.add(
                f"fieldMappings[{keys[0]}].key",
                f"Field {key_name!r} cannot identify {obj.name} records (not an identifier); "
                f"identifier fields: {listing(identifiers)}.",
            )


def _write_problem(spec: FieldSpec, obj: ObjectSpec, mode: str, is_key: bool) -> str | None:
    """Why ``spec`` cannot be written in ``mode``, or None.

    The key is matched, never changed, so it need not be updateable; it is written when a record
    is created. Connector-specific modes (audience add/remove…) are the connector's to check.
    """
    if not spec.createable and not spec.updateable and not (is_key and mode not in CREATING_MODES):
        return f"Field {spec.name!r} of {obj.name} is read-only."
    if mode in CREATING_MODES and not spec.createable:
        return f"Field {spec.name!r} of {obj.name} cannot be set when a record is created, which {mode} does."
    if mode in UPDATING_MODES and not spec.updateable and not is_key:
        return f"Field {spec.name!r} of {obj.name} cannot be updated, which {mode} does."
    return None


def check_expressions(*, mappings: list[dict[str, Any]], dialect: str, errors: Errors) -> None:
    for index, mapping in enumerate(mappings):
        try:
            parse_expression(mapping["source"], dialect, mapping["destination"])
        except MappingError as exc:
            errors.add(f"fieldMappings[{index}].source", str(exc))


def check_on_warehouse(
    *,
    source: Connection,
    sql: str,
    mappings: list[dict[str, Any]] | None,
    watermark_column: str,
    errors: Errors,
) -> None:
    """The query first, alone, so its own error lands on sourceQuery; then with the mappings."""
    try:
        connector: Source = connector_for(source)  # type: ignore[assignment]
    except Exception as exc:  # a stored config that no longer parses or decrypts
        errors.add("sourceId", f"The source connection {source.name!r} cannot be used: {exc}")
        return
    try:
        try:
            ensure_read_only(sql, connector.dialect)
            columns = [c.name for c in connector.columns(sql)]
        except UnsafeQueryError as exc:
            errors.add("sourceQuery", str(exc))
            return
        except Exception as exc:  # the warehouse's own message is the most useful one
            errors.add("sourceQuery", f"The warehouse rejected the query: {exc}")
            return
        if watermark_column and watermark_column.lower() not in {c.lower() for c in columns}:
            errors.add(
                "incremental.column",
                f"The query returns no column {watermark_column!r}; its columns: {listing(columns)}.",
            )
        if mappings:
            _check_mapped_columns(connector, sql, mappings, errors)
    finally:
        connector.close()


def _check_mapped_columns(
    connector: Source, sql: str, mappings: list[dict[str, Any]], errors: Errors
) -> None:
    problem = _extract_problem(connector, sql, list(enumerate(mappings)))
    if problem is None:
        return
    # Something does not resolve: ask again one mapping at a time to say which. Rare, and each
    # ask only binds the query.
    blamed = False
    for index, mapping in enumerate(mappings):
        if (own := _extract_problem(connector, sql, [(index, mapping)])) is not None:
            errors.add(f"fieldMappings[{index}].source", own)
            blamed = True
    if not blamed:
        errors.add("fieldMappings", problem)


def _extract_problem(connector: Source, sql: str, mappings: list[tuple[int, dict[str, Any]]]) -> str | None:
    fields = [
        MappedField(f"c{i}", Mapping(m["source"], m["destination"], m["key"]), _ANY_FIELD)
        for i, m in mappings
    ]
    try:
        extract = compile_extract(source_sql=sql, dialect=connector.dialect, fields=fields)
        connector.columns(extract.sql)
    except (MappingError, UnsafeQueryError, SqlglotError) as exc:
        return str(exc)
    except Exception as exc:
        return f"The warehouse rejected the mapping: {exc}"
    return None
