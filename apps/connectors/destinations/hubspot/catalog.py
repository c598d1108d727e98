"""HubSpot's objects and properties, as Syncline's ObjectSpec / FieldSpec.

Sources:

- Objects and what creating a record requires: "Using Object APIs"
  (https://developers.hubspot.com/docs/guides/crm/using-object-apis).
- Property ``type`` / ``fieldType`` values, unique identifier properties (``hasUniqueValue``) and
  ``hs_object_id``: the properties guide (https://developers.hubspot.com/docs/api/crm/properties).
- Custom objects and their ``requiredProperties``: the schemas API
  (https://developers.hubspot.com/docs/api/crm/crm-custom-objects).
- Upsert identifies records by a unique-value property, or ``email`` for contacts
  (https://developers.hubspot.com/docs/guides/crm/using-object-apis, "Upsert records").
"""

from __future__ import annotations

from typing import Any

from apps.connectors.base import WRITE_MODES, FieldSpec, FieldType, ObjectSpec

RECORD_ID = "hs_object_id"
# HubSpot's string properties hold at most 65,536 characters (properties guide, "type" table).
STRING_LIMIT = 65_536

# name -> (label, required properties to create). Companies need "domain or name" and contacts
# need nothing: neither can be expressed as a required field, so neither lists any.
STANDARD_OBJECTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "contacts": ("Contacts", ()),
    "companies": ("Companies", ()),
    "deals": ("Deals", ("dealname", "dealstage", "pipeline")),
    "tickets": ("Tickets", ("subject", "hs_pipeline", "hs_pipeline_stage")),
}
# Properties that identify records without being flagged hasUniqueValue.
BUILTIN_IDENTIFIERS: dict[str, frozenset[str]] = {"contacts": frozenset({"email"})}

_SIMPLE_TYPES: dict[str, FieldType] = {
    "number": "number",
    "date": "date",
    "datetime": "datetime",
    "bool": "boolean",
    "phone_number": "phone",
    "json": "json",
}


def standard_objects() -> list[ObjectSpec]:
    return [
        ObjectSpec(name=name, label=label, supported_modes=WRITE_MODES)
        for name, (label, _required) in STANDARD_OBJECTS.items()
    ]


def custom_object(schema: dict[str, Any]) -> ObjectSpec | None:
    """A custom object from one entry of GET /crm/v3/schemas (None if it is unusable)."""
    name = schema.get("name")
    if not isinstance(name, str) or not name or schema.get("archived"):
        return None
    labels = schema.get("labels") or {}
    label = labels.get("plural") or labels.get("singular") or name
    return ObjectSpec(name=name, label=str(label), supported_modes=WRITE_MODES, custom=True)


def object_type_id(schema: dict[str, Any]) -> str:
    """The path segment that addresses a custom object: its objectTypeId (2-…), else its FQN."""
    type_id = schema.get("objectTypeId")
    if isinstance(type_id, str) and type_id:
        return type_id
    return str(schema.get("fullyQualifiedName") or schema.get("name"))


def _field_type(prop: dict[str, Any], object_name: str) -> tuple[FieldType, tuple[str, ...] | None]:
    kind = prop.get("type")
    field_type = prop.get("fieldType")
    if kind == "enumeration":
        values = tuple(str(o["value"]) for o in prop.get("options") or () if o.get("value") is not None)
        # Multiple checkboxes take several options joined by ';', and options fetched from
        # elsewhere (externalOptions, e.g. owners) are not listed: neither fits a closed enum.
        if field_type == "checkbox" or not values:
            return "string", None
        return "enum", values
    if kind in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[kind], None
    if kind == "string" and field_type == "phonenumber":
        return "phone", None
    if kind == "string" and object_name == "contacts" and prop.get("name") == "email":
        return "email", None
    return "string", None  # string, object_coordinates and anything HubSpot adds later


def field_spec(prop: dict[str, Any], object_name: str, required: frozenset[str]) -> FieldSpec | None:
    """One property from GET /crm/v3/properties/{objectType} (None if it cannot be synced)."""
    name = prop.get("name")
    if not isinstance(name, str) or not name or prop.get("archived"):
        return None
    kind, options = _field_type(prop, object_name)
    if name == RECORD_ID:
        kind = "string"  # a number in the API, but IDs "should be treated as a string" (guide)
    metadata = prop.get("modificationMetadata") or {}
    # Calculated properties are computed by HubSpot; readOnlyValue covers HubSpot-set ones.
    writable = not metadata.get("readOnlyValue", False) and not prop.get("calculated", False)
    identifier = (
        name == RECORD_ID
        or bool(prop.get("hasUniqueValue"))
        or name in BUILTIN_IDENTIFIERS.get(object_name, frozenset())
    )
    return FieldSpec(
        name=name,
        label=str(prop.get("label") or name),
        type=kind,
        required=writable and name in required,
        createable=writable,
        updateable=writable,
        identifier=identifier,
        enum_values=options,
        max_length=STRING_LIMIT if kind in ("string", "email", "phone") and name != RECORD_ID else None,
    )


def field_specs(
    properties: list[dict[str, Any]], object_name: str, required: tuple[str, ...] | list[str]
) -> list[FieldSpec]:
    required_set = frozenset(required)
    specs: dict[str, FieldSpec] = {}
    for prop in properties:
        spec = field_spec(prop, object_name, required_set)
        if spec is not None and spec.name not in specs:
            specs[spec.name] = spec
    if RECORD_ID not in specs:  # every object has it, listed or not: update/delete by record ID
        specs[RECORD_ID] = FieldSpec(
            RECORD_ID, "Record ID", "string", createable=False, updateable=False, identifier=True
        )
    return list(specs.values())
