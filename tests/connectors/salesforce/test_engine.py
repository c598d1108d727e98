"""End to end: a DuckDB warehouse synced into the fake Salesforce org by the engine."""

from __future__ import annotations

import pytest

from apps.connections.services import connection_create
from apps.dlq.models import DlqEntry
from apps.dlq.services import dlq_resolve
from apps.engine.runner import run_sync
from tests.engine_fixtures import run_now

pytestmark = pytest.mark.django_db
BLOCKED = "@blocked.example"


@pytest.fixture
def salesforce_sync(org, make_sync, workspace, settings):
    settings.SYNCLINE_RETRY_BASE_DELAY = 0.01
    # A validation rule of the org: the engine cannot know it, only Salesforce refuses such rows.
    org.add_rule(
        "Contact",
        lambda record: str(record.get("Email") or "").endswith(BLOCKED),
        "Contacts from blocked.example are not allowed",
        fields=("Email",),
    )
    destination = connection_create(
        workspace=workspace,
        role="destination",
        connector_type="salesforce",
        name="salesforce",
        config={"login_url": org.url, "auth": org.client_credentials(), "rate_limit_per_second": 1000},
    )

    def make(**overrides):
        return make_sync(
            destination=destination,
            object_name="Contact",
            sync_mode=overrides.pop("sync_mode", "upsert"),
            field_mappings=[
                {"source": "id", "destination": "External_Id__c", "key": True},
                {"source": "email", "destination": "Email"},
                {"source": "name", "destination": "LastName"},
                {"source": "score", "destination": "Score__c"},
            ],
            **overrides,
        )

    return make


def contact(org, key: str) -> dict | None:
    return org.find("Contact", External_Id__c=key)


def test_rows_arrive_in_requests_of_200(org, salesforce_sync):
    sync = salesforce_sync()
    run = run_now(sync)
    assert run.status == "succeeded", run.error_message
    assert run.rows_written == 250 and run.requests == 2
    assert [len(r.json["records"]) for r in org.collection_writes()] == [200, 50]
    assert len(org.records["Contact"]) == 250
    saved = contact(org, "C0007")
    assert saved is not None
    assert (saved["Email"], saved["LastName"], saved["Score__c"]) == ("user7@example.com", "Name 7", 7)
    assert run_now(sync).rows_unchanged == 250


def test_a_row_salesforce_rejects_goes_to_the_dlq_and_replays_fixed(org, salesforce_sync, warehouse):
    warehouse.execute(f"UPDATE customers SET email = 'ann{BLOCKED}' WHERE id = 'C0042'")
    sync = salesforce_sync()
    run = run_now(sync)
    assert run.status == "partially_succeeded" and run.rows_written == 249 and run.rows_failed == 1
    entry = DlqEntry.objects.get(record_key="C0042")
    assert entry.error_code == "destination_constraint_violation" and not entry.retryable
    assert entry.error_message == (
        "FIELD_CUSTOM_VALIDATION_EXCEPTION: Contacts from blocked.example are not allowed (fields: Email)"
    )
    assert entry.payload["Email"] == f"ann{BLOCKED}" and contact(org, "C0042") is None

    warehouse.execute("UPDATE customers SET email = 'ann@example.com' WHERE id = 'C0042'")
    result = dlq_resolve(
        workspace_id=sync.workspace_id, ids=[entry.id], reason="fixed_upstream", replay=True, by="ada"
    )
    replay = run_sync(result.replay_runs[0].id)
    assert replay.trigger == "replay" and replay.rows_read == 1 and replay.rows_written == 1
    fixed = contact(org, "C0042")
    assert fixed is not None and fixed["Email"] == "ann@example.com"
    assert len(org.records["Contact"]) == 250


def test_mirror_deletes_the_records_that_left_the_query(org, salesforce_sync, warehouse):
    sync = salesforce_sync(sync_mode="mirror")
    assert run_now(sync).rows_written == 250
    warehouse.execute("DELETE FROM customers WHERE id IN ('C0001', 'C0002', 'C0003')")
    run = run_now(sync)
    assert run.status == "succeeded" and run.rows_removed == 3 and run.rows_written == 3
    assert len(org.records["Contact"]) == 247 and contact(org, "C0002") is None
    [delete] = [r for r in org.collection_writes() if r.method == "DELETE"]
    assert len(delete.param("ids").split(",")) == 3


def test_a_session_expiring_mid_sync_is_renewed(org, salesforce_sync):
    original = org.handle

    def handle(request):
        with org.lock:  # atomic with the handling: no other request slips in before the expiry
            response = original(request)
            if request.method == "PATCH" and len(org.collection_writes()) == 1:
                org.expire_sessions()  # the org ends the session after the first batch
            return response

    org.handle = handle
    run = run_now(salesforce_sync())
    assert run.status == "succeeded" and run.rows_written == 250
    assert len(org.token_requests) == 2 and len(org.records["Contact"]) == 250
    # two batches, the second sent with the expired session (401), then resent once
    assert len(org.collection_writes()) == 3


def test_a_rotated_refresh_token_is_stored_so_the_next_run_and_check_still_log_in(
    make_sync, workspace, settings
):
    """With refresh token rotation on, Salesforce invalidates a refresh token as soon as it is
    used: the new one must be stored at once, or the next run (or a "test connection") sends a
    dead token and the org revokes the whole session family."""
    from apps.connections.models import Connection
    from apps.connections.services import connection_check
    from tests.fakes.salesforce import FakeSalesforce

    with FakeSalesforce(rotate_refresh_tokens=True) as org:
        destination = connection_create(
            workspace=workspace,
            role="destination",
            connector_type="salesforce",
            name="salesforce-rotating",
            config={"login_url": org.url, "auth": org.refresh_token_auth(), "rate_limit_per_second": 1000},
        )
        sync = make_sync(
            destination=destination,
            object_name="Contact",
            field_mappings=[
                {"source": "id", "destination": "External_Id__c", "key": True},
                {"source": "name", "destination": "LastName"},
            ],
        )

        def stored_token() -> str:
            return Connection.objects.get(pk=destination.pk).secrets["auth.refresh_token"]

        first = run_now(sync)
        assert first.status == "succeeded", first.error_message
        assert stored_token() in org.refresh_tokens and len(org.refresh_tokens) == 1
        assert connection_check(connection=Connection.objects.get(pk=destination.pk)).ok
        assert stored_token() in org.refresh_tokens
        second = run_now(sync, full_resync=True)
        assert second.status == "succeeded", second.error_message
        assert second.rows_written == 250 and stored_token() in org.refresh_tokens
        assert len(org.token_requests) == 3  # one per run and one per check, each with the newest
