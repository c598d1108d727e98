"""Runs and dead letter queue endpoints, end to end with the engine."""

import datetime as dt

import pytest
from django.utils import timezone

from apps.accounts.services import api_key_create
from apps.dlq.models import DlqEntry
from apps.engine.runner import run_sync
from apps.runs.models import SyncRun
from tests.api.clients import client_for
from tests.engine.conftest import run_now

pytestmark = pytest.mark.django_db
API = "/api/reverse-etl"


@pytest.fixture
def api(workspace):
    return client_for(api_key_create(workspace=workspace, name="ops", scopes=["*"]).raw_key)


@pytest.fixture
def failed_sync(make_sync, warehouse):
    """A sync whose first run left three rows in the DLQ (two bad emails, one null key)."""
    warehouse.execute("UPDATE customers SET email = 'bad@@' WHERE id IN ('C0003', 'C0004')")
    warehouse.execute("UPDATE customers SET id = NULL WHERE id = 'C0005'")
    sync = make_sync()
    run = run_now(sync)
    assert run.rows_invalid == 3
    return sync


def test_runs_list_filters_and_detail(api, failed_sync):
    second = run_now(failed_sync)
    body = api.get(f"{API}/runs?sync_id={failed_sync.id}").json()
    assert [r["id"] for r in body["data"]] == [second.id, failed_sync.runs.order_by("id").first().id]
    run = body["data"][0]["attributes"]
    assert run["status"] == "partially_succeeded" and run["trigger"] == "manual"
    assert run["metrics"]["rows_read"] == 250 and run["metrics"]["rows_invalid"] == 3
    assert run["finished_at"].endswith("Z") and run["duration_seconds"] >= 0 and run["progress"] == 1
    assert api.get(f"{API}/runs?status=succeeded").json()["data"] == []
    bad = api.get(f"{API}/runs?status=exploded")
    assert bad.status_code == 400 and "status" in bad.json()["error"]["details"]
    detail = api.get(f"{API}/runs/{second.id}").json()["data"]
    assert detail["id"] == second.id and detail["attributes"]["sync_id"] == failed_sync.id


def test_cancel_a_queued_run_and_409_when_finished(api, make_sync):
    from apps.runs.services import run_enqueue

    queued, _ = run_enqueue(sync=make_sync(), trigger="api", dispatch=False)
    response = api.post(f"{API}/runs/{queued.id}/cancel")
    assert response.status_code == 200 and response.json()["data"]["attributes"]["status"] == "canceled"
    again = api.post(f"{API}/runs/{queued.id}/cancel")
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"


def test_dlq_list_filters(api, failed_sync):
    body = api.get(f"{API}/dlq").json()
    assert len(body["data"]) == 3 and body["meta"]["page"]["cursor"] is None
    entry = next(e for e in body["data"] if e["record_key"] == "C0003")
    assert entry["error_code"] == "invalid_field_value" and "bad@@" in entry["error_message"]
    assert (
        entry["row_preview"]["email"] == "bad@@"
        and entry["resolved"] is False
        and entry["resolution"] is None
    )
    assert set(entry) >= {
        "id",
        "sync_id",
        "run_id",
        "destination_id",
        "object_name",
        "destination_status",
        "retryable",
        "retry_count",
        "failed_at",
        "payload",
        "resolved_at",
        "replay_run_id",
    }
    assert len(api.get(f"{API}/dlq?error_code=validation_failed").json()["data"]) == 1
    assert api.get(f"{API}/dlq?resolved=true").json()["data"] == []
    assert api.get(f"{API}/dlq?sync_id=retl_sync_other").json()["data"] == []
    assert api.get(f"{API}/dlq?resolved=maybe").status_code == 400
    one = api.get(f"{API}/dlq/{entry['id']}").json()["data"]
    assert one == entry
    assert api.get(f"{API}/dlq/dlq_missing").status_code == 404


def test_dlq_stats(api, failed_sync):
    stats = api.get(f"{API}/dlq/stats").json()["data"]
    assert (stats["open_entries"], stats["resolved_entries"], stats["total_entries"]) == (3, 0, 3)
    assert stats["by_error_code"] == [
        {"error_code": "invalid_field_value", "count": 2},
        {"error_code": "validation_failed", "count": 1},
    ]
    assert stats["by_sync"] == [{"sync_id": failed_sync.id, "name": "customers", "count": 3}]
    assert stats["oldest_open_failed_at"].endswith("Z") and stats["window"]["since"] is None
    future = (timezone.now() + dt.timedelta(hours=1)).isoformat()
    later = api.get(f"{API}/dlq/stats", {"since": future}).json()["data"]
    assert later["total_entries"] == 0 and later["window"]["since"] is not None
    assert api.get(f"{API}/dlq/stats?since=yesterday").status_code == 400
    assert api.get(f"{API}/dlq/stats?sync_id={failed_sync.id}").json()["data"]["total_entries"] == 3


def test_resolve_with_replay_sends_the_fixed_row(api, failed_sync, warehouse, crm):
    entries = {e.record_key: e for e in DlqEntry.objects.all()}
    warehouse.execute("UPDATE customers SET email = 'fixed@example.com' WHERE id = 'C0003'")
    response = api.post(
        f"{API}/dlq/resolve",
        {
            "ids": [entries["C0003"].id, entries["C0004"].id, "dlq_nope"],
            "reason": "fixed_upstream",
            "note": "emails repaired",
            "replay": True,
        },
        format="json",
    )
    assert response.status_code == 200
    data = response.json()["data"]
    assert sorted(data["resolved"]) == sorted([entries["C0003"].id, entries["C0004"].id])
    assert data["not_found"] == ["dlq_nope"] and data["already_resolved"] == []
    assert len(data["replay_runs"]) == 1 and data["replay_runs"][0]["attributes"]["trigger"] == "replay"
    resolved = DlqEntry.objects.get(pk=entries["C0003"].id)
    assert (
        resolved.resolution["reason"] == "fixed_upstream" and resolved.resolution["note"] == "emails repaired"
    )
    assert resolved.resolution["by"].startswith("api key ops (")
    replay = run_sync(data["replay_runs"][0]["id"])
    assert replay.rows_read == 2 and replay.rows_written == 1 and replay.rows_invalid == 1
    emails = {r["external_id"]: r["email"] for r in crm.store.records("contacts", limit=1000)}
    assert emails["C0003"] == "fixed@example.com"
    # C0004 is still bad: a new open entry linked to the resolved one
    reopened = DlqEntry.objects.get(record_key="C0004", resolved=False)
    assert reopened.previous_entry_id == entries["C0004"].id
    again = api.post(f"{API}/dlq/resolve", {"ids": [entries["C0003"].id], "reason": "skipped"}, format="json")
    assert again.json()["data"]["already_resolved"] == [entries["C0003"].id]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reason": "skipped"}, "ids"),
        ({"ids": [], "reason": "skipped"}, "ids"),
        ({"ids": [1, 2], "reason": "skipped"}, "ids"),
        ({"ids": ["dlq_x"]}, "reason"),
        ({"ids": ["dlq_x"], "reason": "skipped", "replay": "yes"}, "replay"),
    ],
)
def test_resolve_validation(api, body, field):
    response = api.post(f"{API}/dlq/resolve", body, format="json")
    assert response.status_code == 400
    assert (
        response.json()["error"]["code"] == "validation_error"
        and field in response.json()["error"]["details"]
    )


def test_dlq_write_needs_its_scope(workspace, failed_sync):
    reader = client_for(api_key_create(workspace=workspace, name="r", scopes=["dlq:read"]).raw_key)
    assert reader.get(f"{API}/dlq").status_code == 200
    assert (
        reader.post(f"{API}/dlq/resolve", {"ids": ["x"], "reason": "skipped"}, format="json").status_code
        == 403
    )
    assert SyncRun.objects.filter(trigger="replay").count() == 0


def test_resolving_and_replaying_is_audited(api, failed_sync):
    from apps.audit.models import AuditEvent

    entry = DlqEntry.objects.filter(record_key="C0003").get()
    api.post(
        f"{API}/dlq/resolve", {"ids": [entry.id], "reason": "fixed_upstream", "replay": True}, format="json"
    )
    events = {e.action: e for e in AuditEvent.objects.filter(workspace=failed_sync.workspace)}
    assert events["dlq.resolved"].actor.startswith("api key ops")
    assert (
        events["dlq.resolved"].details["ids"] == [entry.id]
        and events["dlq.resolved"].details["reason"] == "fixed_upstream"
    )
    assert events["dlq.replayed"].object_id == failed_sync.id


@pytest.mark.parametrize(
    ("since", "status", "normalised"),
    [
        ("4347-04-16T00:40:16-23:37", 200, "4347-04-17T00:17:16Z"),
        ("0001-01-01T00:00:00+05:00", 400, None),  # before year 1 in UTC
    ],
)
def test_stats_since_with_extreme_offsets(api, since, status, normalised):
    # PostgreSQL refuses offsets past ±15:59 (these were 500s there): converted to UTC first.
    from urllib.parse import quote

    response = api.get(f"{API}/dlq/stats?since={quote(since)}")
    assert response.status_code == status
    if normalised:
        assert response.json()["data"]["window"]["since"] == normalised


def _walk(api, query: str) -> list[str]:
    """Every id of a DLQ list, one entry per page, following the cursors."""
    seen, cursor = [], None
    while True:
        page = api.get(f"{API}/dlq?limit=1&{query}" + (f"&cursor={cursor}" if cursor else "")).json()
        seen += [item["id"] for item in page["data"]]
        cursor = page["meta"]["page"]["cursor"]
        if cursor is None:
            return seen


def test_dlq_open_and_resolved_lists_page_through_every_entry_once(api, failed_sync):
    ids = sorted(DlqEntry.objects.values_list("id", flat=True), reverse=True)
    assert _walk(api, f"sync_id={failed_sync.id}") == ids
    api.post(f"{API}/dlq/resolve", {"ids": [ids[1]], "reason": "skipped"}, format="json")
    # Open entries are listed through their open marks, resolved ones through the entries.
    assert _walk(api, "resolved=false") == [ids[0], ids[2]]
    assert _walk(api, "resolved=true") == [ids[1]]
    assert _walk(api, "resolved=false&error_code=invalid_field_value") == [
        i for i in (ids[0], ids[2]) if DlqEntry.objects.get(pk=i).error_code == "invalid_field_value"
    ]
