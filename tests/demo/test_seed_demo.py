import duckdb
import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from apps.accounts.models import Membership, Workspace
from apps.connections.models import Connection, SavedModel
from apps.connections.services import connection_check
from apps.syncs.models import Sync

pytestmark = pytest.mark.django_db


def counts() -> dict[str, int]:
    return {
        "workspaces": Workspace.objects.count(),
        "memberships": Membership.objects.count(),
        "connections": Connection.objects.count(),
        "models": SavedModel.objects.count(),
        "syncs": Sync.objects.count(),
    }


def test_seed_demo_twice_is_idempotent(isolated_var):
    call_command("seed_demo")
    first = counts()
    warehouse_mtime = isolated_var.joinpath("demo_warehouse.duckdb").stat().st_mtime
    call_command("seed_demo")
    assert counts() == first
    assert first == {"workspaces": 1, "memberships": 3, "connections": 2, "models": 1, "syncs": 1}
    assert isolated_var.joinpath("demo_warehouse.duckdb").stat().st_mtime == warehouse_mtime


def test_demo_users_have_their_roles_and_passwords(isolated_var):
    call_command("seed_demo")
    for username, password in [
        ("admin", "syncline-admin"),
        ("analyst", "syncline-analyst"),
        ("support", "syncline-support"),
    ]:
        user = authenticate(username=username, password=password)
        assert user is not None
        assert Membership.objects.get(user=user, workspace__slug="demo").role == username


def test_demo_connections_work_offline(isolated_var):
    call_command("seed_demo")
    warehouse = Connection.objects.get(role="source")
    assert warehouse.is_default and warehouse.connector_type == "duckdb"
    sandbox = Connection.objects.get(role="destination")
    assert connection_check(connection=warehouse).ok
    assert connection_check(connection=sandbox).ok


def test_demo_warehouse_is_realistic_and_dirty(isolated_var):
    call_command("seed_demo")
    with duckdb.connect(str(isolated_var / "demo_warehouse.duckdb"), read_only=True) as con:
        total, null_keys, distinct_keys = con.execute(
            "SELECT count(*), count(*) - count(customer_id), count(DISTINCT customer_id) "
            "FROM analytics.customers"
        ).fetchone()
        bad_emails = con.execute(
            "SELECT count(*) FROM analytics.customers "
            r"WHERE NOT regexp_matches(email, '^[^@\s]+@[^@\s]+\.[^@\s]+$')"
        ).fetchone()[0]
        accounts = con.execute("SELECT count(*) FROM analytics.accounts").fetchone()[0]
        events = con.execute("SELECT count(*) FROM analytics.product_events").fetchone()[0]
    assert total >= 50_000
    assert null_keys > 0
    assert total - null_keys > distinct_keys  # duplicate keys exist
    assert bad_emails > 0
    assert accounts == 5_000 and events >= 100_000


def test_a_demo_warehouse_seeded_at_its_old_place_follows_the_setting(isolated_var, settings):
    """Before data directories the demo warehouse sat at var/demo_warehouse.duckdb; seeding again
    points the demo's source at where the setting says (inside a data directory) now."""
    call_command("seed_demo")
    source = Connection.objects.get(role="source")
    moved = isolated_var / "data" / "demo_warehouse.duckdb"
    settings.SYNCLINE_DEMO_WAREHOUSE = moved
    call_command("seed_demo")
    source.refresh_from_db()
    assert source.config["path"] == str(moved) and moved.exists()
    assert connection_check(connection=source).ok
