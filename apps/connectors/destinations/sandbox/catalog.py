"""The sandbox CRM's objects and fields: shaped like a real CRM's (HubSpot/Salesforce style)."""

from __future__ import annotations

from apps.connectors.base import FieldSpec, ObjectSpec

MODES = ("upsert", "insert", "update", "delete", "mirror")

LIFECYCLE_STAGES = (
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
)
INDUSTRIES = (
    "software",
    "financial_services",
    "healthcare",
    "retail",
    "manufacturing",
    "education",
    "media",
    "other",
)
DEAL_STAGES = (
    "appointmentscheduled",
    "qualifiedtobuy",
    "presentationscheduled",
    "decisionmakerboughtin",
    "contractsent",
    "closedwon",
    "closedlost",
)


def _read_only(name: str, label: str, type_: str) -> FieldSpec:
    return FieldSpec(name, label, type_, createable=False, updateable=False)  # type: ignore[arg-type]


_COMMON = (
    _read_only("id", "Record ID", "string"),
    _read_only("created_at", "Created at", "datetime"),
    _read_only("updated_at", "Last modified", "datetime"),
)

OBJECTS: dict[str, tuple[ObjectSpec, tuple[FieldSpec, ...]]] = {
    "contacts": (
        ObjectSpec("contacts", "Contacts", MODES),
        (
            *_COMMON,
            FieldSpec("email", "Email", "email", required=True, identifier=True, max_length=254),
            FieldSpec("external_id", "External ID", "string", identifier=True, max_length=64),
            FieldSpec("first_name", "First name", "string", max_length=80),
            FieldSpec("last_name", "Last name", "string", max_length=80),
            FieldSpec("phone", "Phone", "phone", max_length=32),
            FieldSpec("country", "Country", "string", max_length=2),
            FieldSpec("lifecycle_stage", "Lifecycle stage", "enum", enum_values=LIFECYCLE_STAGES),
            FieldSpec("lead_score", "Lead score", "integer"),
            FieldSpec("lifetime_value", "Lifetime value", "number"),
            FieldSpec("do_not_email", "Do not email", "boolean"),
            FieldSpec("birthday", "Birthday", "date"),
            FieldSpec("last_seen_at", "Last seen at", "datetime"),
            FieldSpec("company_domain", "Company domain", "string", max_length=253),
            FieldSpec("attributes", "Custom attributes", "json"),
        ),
    ),
    "companies": (
        ObjectSpec("companies", "Companies", MODES),
        (
            *_COMMON,
            FieldSpec("domain", "Company domain", "string", required=True, identifier=True, max_length=253),
            FieldSpec("external_id", "External ID", "string", identifier=True, max_length=64),
            FieldSpec("name", "Company name", "string", required=True, max_length=255),
            FieldSpec("industry", "Industry", "enum", enum_values=INDUSTRIES),
            FieldSpec("plan", "Plan", "string", max_length=40),
            FieldSpec("employees", "Number of employees", "integer"),
            FieldSpec("annual_revenue", "Annual revenue", "number"),
            FieldSpec("is_active", "Active", "boolean"),
            FieldSpec("customer_since", "Customer since", "date"),
        ),
    ),
    "deals": (
        ObjectSpec("deals", "Deals", MODES),
        (
            *_COMMON,
            FieldSpec("external_id", "External ID", "string", required=True, identifier=True, max_length=64),
            FieldSpec("name", "Deal name", "string", required=True, max_length=255),
            FieldSpec("stage", "Deal stage", "enum", required=True, enum_values=DEAL_STAGES),
            FieldSpec("amount", "Amount", "number"),
            FieldSpec("close_date", "Close date", "date"),
            FieldSpec("company_domain", "Company domain", "string", max_length=253),
        ),
    ),
    "events": (
        # An append-only stream, like an events API: insert only, no match key.
        ObjectSpec("events", "Product events", ("insert",)),
        (
            _read_only("id", "Event ID", "string"),
            FieldSpec("event_name", "Event name", "string", required=True, max_length=128),
            FieldSpec("email", "User email", "email", required=True, max_length=254),
            FieldSpec("occurred_at", "Occurred at", "datetime", required=True),
            FieldSpec("properties", "Properties", "json"),
        ),
    ),
}
