"""Engine runs from the DuckDB warehouse into a fake Meta ad account: add, remove, mirror, the DLQ
and replay, retries of a throttled upload, and a refused token."""

from __future__ import annotations

import hashlib

import pytest

from apps.connections.services import connection_create
from apps.dlq.models import DlqEntry
from apps.dlq.services import dlq_resolve
from apps.engine.runner import run_sync
from tests.connectors.meta_ads.conftest import AUDIENCE, config_for
from tests.engine_fixtures import balanced, run_now

pytestmark = pytest.mark.django_db

BY_EMAIL = [
    {"source": "email", "destination": "email", "key": True},
    {"source": "name", "destination": "fn"},
]
BY_ID = [
    {"source": "id", "destination": "extern_id", "key": True},
    {"source": "email", "destination": "email"},
]


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def customer_emails(numbers) -> set[str]:
    return {sha(f"user{i}@example.com") for i in numbers}


@pytest.fixture
def meta(workspace, fake):
    def connect(**config):
        return connection_create(
            workspace=workspace,
            role="destination",
            connector_type="meta_ads",
            name=f"meta {len(config)} {sorted(config)}",
            config=config_for(fake, **config),
        )

    return connect


@pytest.fixture
def audience_sync(make_sync, meta):
    def make(destination=None, **overrides):
        values = {"object_name": AUDIENCE, "sync_mode": "add", "field_mappings": BY_EMAIL, **overrides}
        return make_sync(destination=destination or meta(), **values)

    return make


def test_add_sends_every_customer_once(audience_sync, fake):
    sync = audience_sync()
    run = run_now(sync)
    assert run.status == "succeeded", run.error_message
    assert run.rows_written == 250 and run.requests == 1
    balanced(run)
    assert fake.member_values(AUDIENCE, "EMAIL") == customer_emails(range(1, 251))
    assert fake.uploads[0].schema == ["EMAIL", "FN"] and fake.uploads[0].data[0][1] == sha("name")
    again = run_now(sync)
    assert again.status == "succeeded" and again.rows_unchanged == 250 and again.requests == 0


def test_a_large_batch_goes_as_one_session_of_several_requests(audience_sync, meta, fake):
    run = run_now(audience_sync(meta(rows_per_request=100)))
    assert run.status == "succeeded" and run.batches == 1 and run.requests == 3
    assert [u.session["batch_seq"] for u in fake.uploads] == [1, 2, 3]
    assert len({u.session["session_id"] for u in fake.uploads}) == 1
    assert len(fake.members(AUDIENCE)) == 250


def test_a_bad_row_is_dead_lettered_then_replayed_once_fixed(audience_sync, fake, warehouse):
    warehouse.execute("UPDATE customers SET email = 'broken@@' WHERE id = 'C0003'")
    sync = audience_sync(field_mappings=BY_ID)
    run = run_now(sync)
    assert run.status == "partially_succeeded" and run.rows_written == 249 and run.rows_failed == 1
    balanced(run)
    entry = DlqEntry.objects.get(record_key="C0003")
    assert entry.error_code == "invalid_field_value"
    assert entry.error_message == "email: 'broken@@' is not an email address"
    assert entry.payload == {"extern_id": "C0003", "email": "broken@@"}
    assert "C0003" not in fake.member_values(AUDIENCE, "EXTERN_ID")
    assert all("broken@@" not in row for u in fake.uploads for row in u.data)

    warehouse.execute("UPDATE customers SET email = 'fixed3@example.com' WHERE id = 'C0003'")
    result = dlq_resolve(
        workspace_id=sync.workspace_id, ids=[entry.id], reason="fixed_upstream", replay=True, by="ada"
    )
    replay = run_sync(result.replay_runs[0].id)
    assert replay.trigger == "replay" and replay.status == "succeeded"
    assert replay.rows_read == 1 and replay.rows_written == 1
    members = {m["EXTERN_ID"]: m for m in fake.members(AUDIENCE)}
    assert members["C0003"]["EMAIL"] == sha("fixed3@example.com")
    assert fake.uploads[-1].data == [[sha("fixed3@example.com"), "C0003"]]


def test_mirror_removes_people_who_left_the_query(audience_sync, fake, warehouse):
    sync = audience_sync(sync_mode="mirror")
    first = run_now(sync)
    assert first.status == "succeeded" and len(fake.members(AUDIENCE)) == 250
    warehouse.execute("DELETE FROM customers WHERE id IN ('C0001', 'C0002', 'C0003')")
    warehouse.execute("UPDATE customers SET name = 'Renamed' WHERE id = 'C0004'")
    second = run_now(sync)
    assert second.status == "succeeded", second.error_message
    assert second.rows_removed == 3 and second.rows_changed == 1 and second.rows_written == 4
    balanced(second)
    removal = fake.uploads[-1] if fake.uploads[-1].method == "DELETE" else fake.uploads[-2]
    assert removal.method == "DELETE" and removal.schema == ["EMAIL"]
    assert sorted(removal.data) == sorted([e] for e in customer_emails(range(1, 4)))
    assert fake.member_values(AUDIENCE, "EMAIL") == customer_emails(range(4, 251))
    assert sha("renamed") in fake.member_values(AUDIENCE, "FN")
    assert run_now(sync).rows_removed == 0


def test_remove_takes_the_querys_people_out(audience_sync, meta, fake):
    destination = meta()
    run_now(audience_sync(destination))
    remove = audience_sync(
        destination,
        name="unsubscribed",
        source_query="SELECT * FROM customers WHERE score >= 90",
        sync_mode="remove",
    )
    run = run_now(remove)
    assert run.status == "succeeded", run.error_message
    assert run.rows_written == 20 and fake.uploads[-1].method == "DELETE"
    left = {i for i in range(1, 251) if i % 100 < 90}
    assert fake.member_values(AUDIENCE, "EMAIL") == customer_emails(left)


def test_a_throttled_upload_is_retried(audience_sync, fake):
    fake.throttle(1)
    run = run_now(audience_sync())
    assert run.status == "succeeded" and run.requests == 2 and run.rows_written == 250
    assert len(fake.members(AUDIENCE)) == 250


def test_a_refused_token_fails_the_run(audience_sync, meta):
    run = run_now(audience_sync(meta(access_token="EAAB-revoked")))
    assert run.status == "failed" and run.error_code == "auth_failed"
    assert "EAAB-revoked" not in run.error_message and "code 190" in run.error_message
