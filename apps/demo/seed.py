"""Seeds the demo workspace. Idempotent: running it again changes nothing that is already there."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction

from apps.accounts.models import Role, Workspace
from apps.accounts.services import membership_set
from apps.connections.models import Connection, SavedModel
from apps.connections.services import connection_create, connection_update
from apps.demo.warehouse import build_demo_warehouse
from apps.syncs.models import Sync

WORKSPACE_SLUG = "demo"
# Demo logins, also printed by `make run` and listed in the README. Demo only: change or remove
# them before exposing a server to anyone.
DEMO_USERS = {
    "admin": ("syncline-admin", Role.ADMIN),
    "analyst": ("syncline-analyst", Role.ANALYST),
    "support": ("syncline-support", Role.SUPPORT),
}
WAREHOUSE_NAME = "Demo warehouse"
SANDBOX_NAME = "Sandbox CRM"
DEMO_SYNC_NAME = "Customers → Sandbox contacts"


@dataclass
class SeedReport:
    created: list[str] = field(default_factory=list)

    def note(self, what: str) -> None:
        self.created.append(what)


def seed_demo() -> SeedReport:
    report = SeedReport()
    warehouse_path = settings.SYNCLINE_DEMO_WAREHOUSE
    if build_demo_warehouse(warehouse_path):
        report.note(f"demo warehouse {warehouse_path}")
    with transaction.atomic():
        workspace, created = Workspace.objects.get_or_create(slug=WORKSPACE_SLUG, defaults={"name": "Demo"})
        if created:
            report.note("workspace demo")
        for username, (password, role) in DEMO_USERS.items():
            _ensure_user(workspace, username, password, role, report)
        warehouse = _ensure_connection(
            workspace,
            "source",
            "duckdb",
            WAREHOUSE_NAME,
            {"path": str(warehouse_path)},
            report,
            is_default=True,
        )
        sandbox = _ensure_connection(
            workspace,
            "destination",
            "sandbox",
            SANDBOX_NAME,
            {"path": str(settings.SYNCLINE_SANDBOX_DIR / f"{WORKSPACE_SLUG}.sqlite3")},
            report,
        )
        _ensure_saved_model(workspace, warehouse, report)
        _ensure_demo_sync(workspace, warehouse, sandbox, report)
    return report


def _ensure_user(workspace: Workspace, username: str, password: str, role: str, report: SeedReport) -> None:
    if workspace.memberships.filter(user__username=username).exists():
        return
    membership_set(workspace=workspace, username=username, role=role, password=password)
    report.note(f"user {username} ({role})")


def _ensure_connection(
    workspace: Workspace,
    role: str,
    connector_type: str,
    name: str,
    config: dict,
    report: SeedReport,
    *,
    is_default: bool = False,
) -> Connection:
    existing = Connection.objects.filter(workspace=workspace, role=role, name=name).first()
    if existing is not None:
        if "path" in config and existing.config.get("path") != config["path"]:
            # The demo's files moved (the warehouse went to var/data, a data directory): follow.
            report.note(f"{role} {name} now at {config['path']}")
            return connection_update(connection=existing, config={"path": config["path"]})
        return existing
    report.note(f"{role} {name}")
    return connection_create(
        workspace=workspace,
        role=role,
        connector_type=connector_type,
        name=name,
        config=config,
        is_default=is_default,
    )


def _ensure_saved_model(workspace: Workspace, warehouse: Connection, report: SeedReport) -> None:
    _, created = SavedModel.objects.get_or_create(
        workspace=workspace,
        name="active_customers",
        defaults={
            "source": warehouse,
            "description": "Customers of active accounts, with their company domain.",
            "sql": (
                "SELECT c.customer_id, c.email, c.first_name, c.last_name, c.phone, c.country,\n"
                "       c.lifecycle_stage, c.lead_score, c.lifetime_value, a.domain AS company_domain,\n"
                "       c.updated_at\n"
                "FROM analytics.customers c JOIN analytics.accounts a USING (account_id)\n"
                "WHERE a.is_active"
            ),
            "primary_key": "customer_id",
        },
    )
    if created:
        report.note("saved model active_customers")


def _ensure_demo_sync(
    workspace: Workspace, warehouse: Connection, sandbox: Connection, report: SeedReport
) -> None:
    if Sync.objects.filter(workspace=workspace, name=DEMO_SYNC_NAME).exists():
        return
    Sync.objects.create(
        workspace=workspace,
        name=DEMO_SYNC_NAME,
        source=warehouse,
        source_query=(
            "SELECT customer_id, email, first_name, last_name, lifecycle_stage, lead_score, updated_at\n"
            "FROM analytics.customers"
        ),
        destination=sandbox,
        object_name="contacts",
        field_mappings=[
            {"source": "customer_id", "destination": "external_id", "key": True},
            {"source": "lower(trim(email))", "destination": "email", "key": False},
            {"source": "first_name", "destination": "first_name", "key": False},
            {"source": "last_name", "destination": "last_name", "key": False},
            {"source": "lifecycle_stage", "destination": "lifecycle_stage", "key": False},
            {"source": "lead_score", "destination": "lead_score", "key": False},
        ],
        sync_mode="upsert",
    )
    report.note(f"sync {DEMO_SYNC_NAME}")
