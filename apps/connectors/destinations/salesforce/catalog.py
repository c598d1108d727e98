"""Salesforce describe results as Syncline's catalog (ObjectSpec / FieldSpec).

Objects come from the global describe (``GET /services/data/vXX.X/sobjects``,
https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_describeGlobal.htm),
fields from the sObject describe (``GET /services/data/vXX.X/sobjects/{name}/describe``,
https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_sobject_describe.htm),
whose field properties are defined in
https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/access_for_fields.htm.
"""

from __future__ import annotations

from typing import Any

from apps.connectors.base import FieldSpec, FieldType, ObjectSpec

# Salesforce field type -> Syncline field type. Types absent here (address and location compounds,
# base64 blobs, complexvalue) cannot be written as a plain JSON value and are left out.
_TYPES: dict[str, FieldType] = {
    "string": "string",
    "textarea": "string",
    "url": "string",
    "encryptedstring": "string",
    "combobox": "string",  # a picklist that also takes free text
    "multipicklist": "string",  # values joined with ';'
    "id": "string",
    "reference": "string",  # the Id of the related record
    "time": "string",  # HH:MM:SS.sssZ
    "anyType": "string",
    "email": "email",
    "phone": "phone",
    "picklist": "enum",
    "boolean": "boolean",
    "int": "integer",
    "long": "integer",
    "double": "number",
    "currency": "number",
    "percent": "number",
    "date": "date",
    "datetime": "datetime",
}
_TEXT_TYPES = frozenset({"string", "email", "phone"})


def object_modes(*, createable: bool, updateable: bool, deletable: bool) -> tuple[str, ...]:
    """What sObject Collections can do with an object, in the order of ``WRITE_MODES``.

    update and delete address records by Id (or by a key looked up with SOQL); upsert by an
    external ID field; mirror is upsert plus delete of the records that left the query.
    """
    modes: list[str] = []
    if createable and updateable:
        modes.append("upsert")
    if createable:
        modes.append("insert")
    if updateable:
        modes.append("update")
    if deletable:
        modes.append("delete")
    if createable and updateable and deletable:
        modes.append("mirror")
    return tuple(modes)


def object_spec(describe: dict[str, Any]) -> ObjectSpec | None:
    """The object of a global or sObject describe entry; None when nothing can be written to it."""
    createable, updateable = bool(describe.get("createable")), bool(describe.get("updateable"))
    if not (createable or updateable) or not describe.get("name"):
        return None
    name = str(describe["name"])
    return ObjectSpec(
        name=name,
        label=str(describe.get("label") or name),
        supported_modes=object_modes(
            createable=createable, updateable=updateable, deletable=bool(describe.get("deletable"))
        ),
        custom=bool(describe.get("custom")),
    )


def field_spec(field: dict[str, Any]) -> FieldSpec | None:
    """One field of an sObject describe, or None when it cannot be mapped to."""
    sf_type = str(field.get("type") or "")
    kind = _TYPES.get(sf_type)
    name = field.get("name")
    if kind is None or not name or field.get("deprecatedAndHidden"):
        return None
    createable, updateable = bool(field.get("createable")), bool(field.get("updateable"))
    enum_values: tuple[str, ...] | None = None
    if kind == "enum":
        active = tuple(
            str(v["value"]) for v in field.get("picklistValues") or () if v.get("active") and v.get("value")
        )
        # An unrestricted picklist takes values outside its list, so validating against the list
        # would turn away rows Salesforce accepts: only restricted ones are enums.
        if field.get("restrictedPicklist") and active:
            enum_values = active
        else:
            kind = "string"
    length = field.get("length")
    max_length = int(length) if kind in _TEXT_TYPES and isinstance(length, int) and length > 0 else None
    return FieldSpec(
        name=str(name),
        label=str(field.get("label") or name),
        type=kind,
        # Required = must be given on create: not nillable and no default supplied by Salesforce.
        required=createable and not field.get("nillable", True) and not field.get("defaultedOnCreate"),
        createable=createable,
        updateable=updateable,
        # Fields an upsert can match on: external IDs, and idLookup ones (Id, some Name/Email fields).
        identifier=bool(field.get("externalId") or field.get("idLookup")),
        enum_values=enum_values,
        max_length=max_length,
    )


def field_specs(describe: dict[str, Any]) -> list[FieldSpec]:
    specs: list[FieldSpec] = []
    seen: set[str] = set()
    for field in describe.get("fields") or ():
        spec = field_spec(field) if isinstance(field, dict) else None
        if spec is not None and spec.name not in seen:
            seen.add(spec.name)
            specs.append(spec)
    return specs
