"""End-to-end runs from the DuckDB warehouse into a Customer Match list of the fake Google Ads API."""

import pytest

from apps.connections.services import connection_create
from apps.connectors.pii import sha256_hex
from apps.dlq.models import DlqEntry
from apps.dlq.services import dlq_resolve
from apps.engine.runner import run_sync
from tests.connectors.google_ads.conftest import config_for
from tests.engine_fixtures import balanced, run_now

pytestmark = pytest.mark.django_db

MAPPINGS = [
    {"source": "email", "destination": "email", "key": True},
    {"source": "phone", "destination": "phone"},
    {"source": "name", "destination": "first_name"},
    {"source": "'Doe'", "destination": "last_name"},
    {"source": "'US'", "destination": "country_code"},
    {"source": "'94045'", "destination": "postal_code"},
]


@pytest.fixture
def audience(fake, workspace, warehouse, settings):
    """A Customer Match list, the connection to it, and a phone column in the warehouse."""
    settings.SYNCLINE_RETRY_BASE_DELAY = 0.01
    warehouse.execute("ALTER TABLE customers ADD COLUMN phone VARCHAR")
    # National US numbers: the connection's default_phone_country makes them E.164.
    warehouse.execute("UPDATE customers SET phone = '(415) 555-' || substr(id, 2)")
    list_id = fake.add_user_list("Warehouse customers")
    connection = connection_create(
        workspace=workspace,
        role="destination",
        connector_type="google_ads",
        name="google ads",
        config=config_for(fake, default_phone_country="US", rate_limit_per_second=50),
    )
    return connection, list_id


def emails(*ids):
    return {sha256_hex(f"user{i}@example.com") for i in ids}


def test_add_sync_fills_the_list_and_a_fixed_row_is_replayed(fake, make_sync, warehouse, audience):
    connection, list_id = audience
    warehouse.execute("UPDATE customers SET phone = 'call me' WHERE id = 'C0003'")
    sync = make_sync(destination=connection, object_name=list_id, sync_mode="add", field_mappings=MAPPINGS)
    run = run_now(sync)
    assert run.status == "partially_succeeded", run.error_message
    assert (run.rows_written, run.rows_failed) == (249, 1)
    balanced(run)
    assert fake.members(list_id) == emails(*(i for i in range(1, 251) if i != 3))
    assert sha256_hex("+14155550001") in fake.members(list_id, "hashedPhoneNumber")
    address = next(iter(fake.members(list_id, "addressInfo")))
    assert address.endswith(f"{sha256_hex('doe')}|US|94045")
    entry = DlqEntry.objects.get(sync=sync)
    assert entry.record_key == "user3@example.com" and entry.error_code == "invalid_field_value"
    assert "phone: 'call me' is not a phone number" in entry.error_message
    assert len(fake.jobs) == 1  # 250 rows: one batch, one job

    warehouse.execute("UPDATE customers SET phone = '+1 (415) 555-0003' WHERE id = 'C0003'")
    result = dlq_resolve(
        workspace_id=sync.workspace_id, ids=[entry.id], reason="fixed_upstream", replay=True, by="ada"
    )
    replay = run_sync(result.replay_runs[0].id)
    assert replay.trigger == "replay" and replay.rows_read == 1 and replay.rows_written == 1
    assert emails(3) <= fake.members(list_id)
    assert sha256_hex("+14155550003") in fake.members(list_id, "hashedPhoneNumber")
    entry.refresh_from_db()
    assert entry.resolved
    assert run_now(sync).rows_unchanged == 250


def test_mirror_removes_the_rows_that_left_the_query(fake, make_sync, warehouse, audience):
    connection, list_id = audience
    sync = make_sync(destination=connection, object_name=list_id, sync_mode="mirror", field_mappings=MAPPINGS)
    first = run_now(sync)
    assert first.status == "succeeded" and first.rows_written == 250, first.error_message
    assert fake.members(list_id) == emails(*range(1, 251))
    warehouse.execute("DELETE FROM customers WHERE id IN ('C0001', 'C0002', 'C0003')")
    second = run_now(sync)
    assert second.status == "succeeded", second.error_message
    assert second.rows_removed == 3 and second.rows_written == 3
    balanced(second)
    assert fake.members(list_id) == emails(*range(4, 251))
    removal = list(fake.jobs.values())[-1]
    assert removal.kind == "remove" and len(removal.operations) == 3
    assert removal.operations[0] == [{"hashedEmail": sha256_hex("user1@example.com")}]  # by key alone
    assert run_now(sync).rows_removed == 0


def test_a_remove_sync_takes_its_rows_out(fake, make_sync, workspace, audience):
    connection, list_id = audience
    run_now(make_sync(destination=connection, object_name=list_id, sync_mode="add", field_mappings=MAPPINGS))
    leavers = make_sync(
        name="leavers",
        destination=connection,
        object_name=list_id,
        sync_mode="remove",
        source_query="SELECT * FROM customers WHERE score = 7",
        field_mappings=MAPPINGS[:2],
    )
    run = run_now(leavers)
    assert run.status == "succeeded" and run.rows_written == 3, run.error_message
    assert fake.members(list_id) == emails(*(i for i in range(1, 251) if i % 100 != 7))
