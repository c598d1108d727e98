"""End-to-end runs from the DuckDB warehouse into the fake Iterable project, through the engine."""

import pytest

from apps.connections.services import connection_create
from apps.dlq.models import DlqEntry
from apps.dlq.services import dlq_resolve
from apps.engine.runner import run_sync
from tests.engine_fixtures import balanced, run_now
from tests.fakes.iterable import API_KEY

pytestmark = pytest.mark.django_db

TOP_SCORES = "SELECT * FROM customers WHERE score >= 90"  # 20 rows: ids 90-99 and 190-199


@pytest.fixture
def iterable_connection(fake, workspace, settings, engine_var):
    settings.SYNCLINE_ALLOW_PRIVATE_DESTINATIONS = True
    settings.SYNCLINE_RETRY_BASE_DELAY = 0.01
    return connection_create(
        workspace=workspace,
        role="destination",
        connector_type="iterable",
        name="iterable",
        config={"api_key": API_KEY, "base_url": fake.url},
    )


def test_users_by_email_arrive_and_only_changes_are_sent_again(
    fake, make_sync, warehouse, iterable_connection
):
    sync = make_sync(
        destination=iterable_connection,
        object_name="users",
        sync_mode="upsert",
        field_mappings=[
            {"source": "email", "destination": "email", "key": True},
            {"source": "name", "destination": "firstName"},
            {"source": "score", "destination": "score"},
            {"source": "updated_at", "destination": "birthday"},
            {"source": "'gold'", "destination": "loyalty.tier"},  # not in the project yet
        ],
    )
    fake.throttle(1)  # Iterable's 429 on the first bulkUpdate: retried after rateLimitReset
    first = run_now(sync)
    assert first.status == "succeeded", first.error_message
    assert first.rows_written == 250 and first.requests == 2  # 250 users fit one request
    balanced(first)
    assert len(fake.users) == 250
    assert fake.user("user7@example.com")["dataFields"] == {
        "firstName": "Name 7",
        "score": 7,
        "birthday": "2026-01-01T07:00:00.000Z",
        "loyalty": {"tier": "gold"},
    }
    assert fake.fields["loyalty.tier"] == "string"  # Iterable created the field from the value
    warehouse.execute("UPDATE customers SET name = 'Renamed' WHERE id IN ('C0001', 'C0002')")
    second = run_now(sync)
    assert (second.rows_changed, second.rows_unchanged, second.rows_written) == (2, 248, 2)
    assert [len(w.json["users"]) for w in fake.writes("/api/users/bulkUpdate")][-1] == 2
    assert fake.user("user1@example.com")["dataFields"]["firstName"] == "Renamed"


def test_a_user_iterable_refuses_goes_to_the_dlq_and_replays_fixed(
    fake, make_sync, warehouse, iterable_connection, workspace
):
    # Passes the engine's email check, but Iterable refuses a doubled dot in the local part.
    warehouse.execute("UPDATE customers SET email = 'user..5@example.com' WHERE id = 'C0005'")
    sync = make_sync(
        destination=iterable_connection,
        object_name="users",
        sync_mode="upsert",
        field_mappings=[
            {"source": "id", "destination": "userId", "key": True},
            {"source": "email", "destination": "email"},
            {"source": "name", "destination": "firstName"},
            {"source": "score", "destination": "score"},
        ],
    )
    run = run_now(sync)
    assert run.status == "partially_succeeded"
    assert (run.rows_written, run.rows_failed, run.requests) == (249, 1, 1)
    balanced(run)
    entry = DlqEntry.objects.get(record_key="C0005")
    assert entry.error_code == "invalid_field_value" and entry.destination_status == 200
    assert "invalidEmails: 'user..5@example.com'" in entry.error_message
    assert entry.payload["email"] == "user..5@example.com"
    assert fake.user(user_id="C0005") is None and fake.user(user_id="C0004")["email"] == "user4@example.com"

    warehouse.execute("UPDATE customers SET email = 'user5@example.com' WHERE id = 'C0005'")
    result = dlq_resolve(
        workspace_id=workspace.id, ids=[entry.id], reason="fixed_upstream", replay=True, by="ada"
    )
    replay = run_sync(result.replay_runs[0].id)
    assert replay.trigger == "replay" and (replay.rows_read, replay.rows_written) == (1, 1)
    assert fake.writes("/api/users/bulkUpdate")[-1].json["users"][0]["email"] == "user5@example.com"
    assert fake.user(user_id="C0005")["email"] == "user5@example.com"
    entry.refresh_from_db()
    assert entry.resolved


def test_list_add_then_remove_syncs(fake, make_sync, iterable_connection):
    add = make_sync(
        destination=iterable_connection,
        name="top scorers in",
        source_query=TOP_SCORES,
        object_name="list:101",
        sync_mode="add",
        field_mappings=[{"source": "email", "destination": "email", "key": True}],
    )
    run = run_now(add)
    assert run.status == "succeeded", run.error_message
    assert run.rows_written == 20 and len(fake.members(101)) == 20
    assert "user195@example.com" in fake.members(101)
    remove = make_sync(
        destination=iterable_connection,
        name="best scorers out",
        source_query="SELECT * FROM customers WHERE score >= 95",
        object_name="list:101",
        sync_mode="remove",
        field_mappings=[{"source": "email", "destination": "email", "key": True}],
    )
    removed = run_now(remove)
    assert removed.status == "succeeded", removed.error_message
    assert removed.rows_written == 10 and fake.writes()[-1].path == "/api/lists/unsubscribe"
    assert len(fake.members(101)) == 10 and "user195@example.com" not in fake.members(101)


def test_list_mirror_unsubscribes_rows_that_leave_the_query(fake, make_sync, warehouse, iterable_connection):
    sync = make_sync(
        destination=iterable_connection,
        source_query=TOP_SCORES,
        object_name="list:102",
        sync_mode="mirror",
        field_mappings=[{"source": "email", "destination": "email", "key": True}],
    )
    first = run_now(sync)
    assert first.status == "succeeded" and len(fake.members(102)) == 20
    warehouse.execute("UPDATE customers SET score = 0 WHERE id IN ('C0090', 'C0091')")
    second = run_now(sync)
    assert second.status == "succeeded", second.error_message
    assert (second.rows_removed, second.rows_written) == (2, 2)
    balanced(second)
    unsubscribe = fake.writes()[-1]
    assert unsubscribe.path == "/api/lists/unsubscribe" and unsubscribe.json["listId"] == 102
    assert sorted(unsubscribe.json["subscribers"], key=str) == [
        {"email": "user90@example.com"},
        {"email": "user91@example.com"},
    ]
    assert len(fake.members(102)) == 18 and "user90@example.com" not in fake.members(102)
    assert run_now(sync).rows_removed == 0


def test_events_are_inserted_once(fake, make_sync, iterable_connection):
    sync = make_sync(
        destination=iterable_connection,
        name="score events",
        source_query="SELECT * FROM customers WHERE id <= 'C0010'",
        object_name="events",
        sync_mode="insert",
        field_mappings=[
            {"source": "'scored'", "destination": "eventName"},
            {"source": "email", "destination": "email"},
            {"source": "updated_at", "destination": "createdAt"},
            {"source": "score", "destination": "points"},
        ],
    )
    run = run_now(sync)
    assert run.status == "succeeded", run.error_message
    assert run.rows_written == 10 and len(fake.events) == 10
    event = next(e for e in fake.events.values() if e["email"] == "user3@example.com")
    assert (
        event["createdAt"] == 1767225600 + 3 * 3600
    )  # 2026-01-01T03:00Z and event["dataFields"] == {"points": 3}
    assert run_now(sync, full_resync=True).rows_written == 10
    assert len(fake.events) == 10  # sent again with the same ids: updated, not duplicated
