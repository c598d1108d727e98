"""End to end: the engine syncs the warehouse's customers into the HubSpot fake as contacts."""

from __future__ import annotations

from collections import Counter

import orjson
import pytest

from apps.connections.services import connection_create
from apps.dlq.models import DlqEntry
from apps.dlq.services import dlq_resolve
from apps.engine.runner import run_sync
from tests.engine_fixtures import run_now
from tests.fakes.hubspot import TOKEN, FakeHubSpot

pytestmark = pytest.mark.django_db

MAPPINGS = [
    {"source": "email", "destination": "email", "key": True},
    {"source": "name", "destination": "firstname"},
    {"source": "score", "destination": "syncline_score"},
    {"source": "id", "destination": "external_id"},
]


@pytest.fixture
def hubspot_fake(settings):
    settings.SYNCLINE_ALLOW_PRIVATE_DESTINATIONS = True
    settings.SYNCLINE_RETRY_BASE_DELAY = 0.01
    with FakeHubSpot() as fake:
        fake.add_property("contacts", "syncline_score", "number", "number", label="Syncline score")
        yield fake


@pytest.fixture
def hubspot_sync(make_sync, workspace, hubspot_fake):
    def make(**overrides):
        connection = connection_create(
            workspace=workspace,
            role="destination",
            connector_type="hubspot",
            name="hubspot",
            config={"access_token": TOKEN, "base_url": hubspot_fake.url, "rate_limit_per_second": 50},
        )
        return make_sync(destination=connection, object_name="contacts", field_mappings=MAPPINGS, **overrides)

    return make


def test_contacts_arrive_and_a_rejected_row_is_replayed_once_fixed(hubspot_sync, hubspot_fake, warehouse):
    # Another contact already holds external ID C0007: HubSpot refuses a second one (unique value).
    hubspot_fake.records["contacts"]["1"] = {
        "id": "1",
        "properties": {"hs_object_id": "1", "email": "someone@else.com", "external_id": "C0007"},
    }
    sync = hubspot_sync()
    run = run_now(sync)
    assert run.status == "partially_succeeded", run.error_message
    assert run.rows_written == 249 and run.rows_failed == 1 and run.requests == 3
    ada = hubspot_fake.find("contacts", "email", "user1@example.com")["properties"]
    assert (ada["firstname"], ada["syncline_score"], ada["external_id"]) == ("Name 1", "1", "C0001")
    assert sorted(len(orjson.loads(r.body)["inputs"]) for r in hubspot_fake.writes()) == [50, 100, 100]
    entry = DlqEntry.objects.get(record_key="user7@example.com")
    assert entry.error_code == "destination_constraint_violation" and entry.destination_status == 409
    assert entry.error_message == "Contact already exists. Existing ID: 1" and not entry.retryable
    assert hubspot_fake.find("contacts", "email", "user7@example.com") is None

    warehouse.execute("UPDATE customers SET id = 'C0007-B' WHERE id = 'C0007'")
    result = dlq_resolve(
        workspace_id=sync.workspace_id, ids=[entry.id], reason="fixed_upstream", replay=True, by="ada"
    )
    replay = run_sync(result.replay_runs[0].id)
    assert replay.trigger == "replay" and replay.rows_read == 1 and replay.rows_written == 1
    fixed = hubspot_fake.find("contacts", "email", "user7@example.com")["properties"]
    assert fixed["external_id"] == "C0007-B" and fixed["firstname"] == "Name 7"
    assert len(hubspot_fake.records["contacts"]) == 251


def test_mirror_archives_contacts_that_left_the_query(hubspot_sync, hubspot_fake, warehouse):
    sync = hubspot_sync(sync_mode="mirror")
    assert run_now(sync).rows_written == 250
    warehouse.execute("DELETE FROM customers WHERE id IN ('C0001', 'C0002', 'C0003')")
    run = run_now(sync)
    assert run.status == "succeeded" and run.rows_removed == 3 and run.rows_written == 3
    assert run.requests == 2  # a batch read to find the records' IDs, then one archive
    assert len(hubspot_fake.records["contacts"]) == 247
    assert hubspot_fake.find("contacts", "email", "user2@example.com") is None


def test_a_429_is_waited_out_and_nothing_is_written_twice(hubspot_sync, hubspot_fake):
    hubspot_fake.rate_limit_interval_ms = 50  # HubSpot says 10 s; the test waits 50 ms
    hubspot_fake.throttle(1)
    run = run_now(hubspot_sync())
    assert run.status == "succeeded" and run.rows_written == 250 and run.requests == 4
    emails = Counter(r["email"] for r in hubspot_fake.stored("contacts"))
    assert len(emails) == 250 and max(emails.values()) == 1


def test_a_revoked_token_stops_the_run(hubspot_sync, hubspot_fake):
    sync = hubspot_sync()
    hubspot_fake.token = "pat-na1-rotated"
    run = run_now(sync)
    assert run.status == "failed" and run.error_code == "auth_failed"
    assert "Authentication credentials not found" in run.error_message
    assert hubspot_fake.stored("contacts") == []


def test_connections_holding_the_same_token_share_one_rate_limit_bucket(
    make_sync, workspace, hubspot_fake, monkeypatch
):
    """HubSpot counts requests per private app: two connections with its token must not each
    get the app's whole rate."""
    from apps.connections.services import connector_for
    from apps.engine import runner

    keys: list[str] = []
    original = runner.limiter_for

    def recording(key, *args, **kwargs):
        keys.append(key)
        return original(key, *args, **kwargs)

    monkeypatch.setattr(runner, "limiter_for", recording)
    connections = []
    for name, token in (("first", TOKEN), ("second", TOKEN), ("other app", "pat-na1-other")):
        config = {"access_token": token, "base_url": hubspot_fake.url, "rate_limit_per_second": 50}
        connections.append(
            connection_create(
                workspace=workspace, role="destination", connector_type="hubspot", name=name, config=config
            )
        )
    for connection in connections[:2]:
        sync = make_sync(
            name=connection.name, destination=connection, object_name="contacts", field_mappings=MAPPINGS
        )
        assert run_now(sync).status == "succeeded"
    assert len(keys) == 2 and keys[0] == keys[1] and keys[0].startswith("destination:hubspot:")
    assert TOKEN not in keys[0]  # a digest names the bucket, never the token
    other = connector_for(connections[2])
    assert f"destination:{other.rate_limit_scope()}" != keys[0]
