"""Sync endpoints end to end: a real DuckDB warehouse and the sandbox CRM's catalog behind the API."""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb
import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.services import api_key_create, api_key_revoke
from apps.audit.models import AuditEvent
from apps.connections.models import SavedModel
from apps.connections.services import connection_create
from apps.dlq.models import DlqEntry
from apps.runs.models import SyncRun
from apps.syncs.models import Sync
from tests.api.clients import client_for
from tests.engine_fixtures import WarehouseConnections

pytestmark = pytest.mark.django_db
API = "/api/reverse-etl"
DROP = object()  # an override that removes the field from the body


@pytest.fixture
def api(workspace) -> APIClient:
    return client_for(api_key_create(workspace=workspace, name="ops", scopes=["*"]).raw_key)


MAPPINGS = [
    {"source": "id", "destination": "external_id", "key": True},
    {"source": "email", "destination": "email", "key": False},
    {"source": "upper(name)", "destination": "first_name"},
    {"source": "'warehouse'", "destination": "last_name"},
]


def body(connections: WarehouseConnections, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "customers to crm",
        "sourceQuery": "SELECT * FROM customers",
        "destinationId": connections.destination.id,
        "objectName": "contacts",
        "fieldMappings": MAPPINGS,
        "syncMode": "upsert",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not DROP}


def create(api: APIClient, data: dict[str, Any], **extra: Any):
    return api.post(f"{API}/syncs", data, format="json", **extra)


def created(api: APIClient, connections: WarehouseConnections, **overrides: Any) -> dict[str, Any]:
    response = create(api, body(connections, **overrides))
    assert response.status_code == 201, response.json()
    return response.json()["data"]


def assert_field_error(response, field: str, *fragments: str) -> None:
    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["details"], error["details"]
    message = " ".join(error["details"][field])
    for fragment in fragments:
        assert fragment in message, message


# --- success paths -------------------------------------------------------------------------------


def test_create_with_camel_case_returns_the_contract_shape(api, connections):
    response = create(api, body(connections))
    assert response.status_code == 201
    data = response.json()["data"]
    assert data["id"].startswith("retl_sync_") and data["type"] == "reverse_etl_sync"
    attributes = data["attributes"]
    assert attributes == {
        "name": "customers to crm",
        "source_query": "SELECT * FROM customers",
        "source_id": None,  # the workspace default, followed at run time
        "destination_id": connections.destination.id,
        "object_name": "contacts",
        "field_mappings": [{**m, "key": m.get("key", False)} for m in MAPPINGS],
        "sync_mode": "upsert",
        "schedule": {"type": "manual"},
        "enabled": True,
        "status": "healthy",
        "incremental": {"strategy": "diff"},
        "last_run": None,
        "next_run_at": None,
        "created_at": attributes["created_at"],
        "updated_at": attributes["updated_at"],
    }
    assert attributes["created_at"].endswith("Z") and attributes["updated_at"].endswith("Z")
    assert Sync.objects.get(pk=data["id"]).workspace == connections.source.workspace
    event = AuditEvent.objects.get(action="sync.created")
    assert event.object_id == data["id"] and event.actor.startswith("api key ops")


def test_create_with_snake_case_cron_and_watermark(api, connections):
    data = created(
        api,
        connections,
        **{"sourceQuery": DROP, "destinationId": DROP, "objectName": DROP, "fieldMappings": DROP},
        **{"syncMode": DROP},
        source_query="SELECT id, email, updated_at FROM customers",
        source_id=connections.source.id,
        destination_id=connections.destination.id,
        object_name="contacts",
        field_mappings=[{"source": "id", "destination": "external_id", "key": True}],
        sync_mode="update",
        schedule={"type": "cron", "expression": "15 */4 * * *", "timezone": "Europe/Paris"},
        incremental={"strategy": "watermark", "column": "updated_at"},
        enabled=True,
    )
    attributes = data["attributes"]
    assert attributes["source_id"] == connections.source.id and attributes["sync_mode"] == "update"
    assert attributes["schedule"] == {
        "type": "cron",
        "expression": "15 */4 * * *",
        "timezone": "Europe/Paris",
    }
    assert attributes["incremental"] == {"strategy": "watermark", "column": "updated_at"}
    next_run = dt.datetime.fromisoformat(attributes["next_run_at"].replace("Z", "+00:00"))
    assert timezone.now() < next_run <= timezone.now() + dt.timedelta(hours=4)
    assert next_run.astimezone(dt.UTC).minute == 15


def test_create_from_a_saved_model(api, connections, workspace):
    SavedModel.objects.create(
        workspace=workspace,
        name="active_customers",
        sql="SELECT * FROM customers WHERE score > 10",
        primary_key="id",
    )
    data = created(api, connections, sourceQuery="semantic:active_customers")
    assert data["attributes"]["source_query"] == "semantic:active_customers"


def test_create_to_a_free_form_destination(api, connections, workspace):
    hook = connection_create(
        workspace=workspace,
        role="destination",
        connector_type="http",
        name="hook",
        config={"url": "https://hooks.example.com/in"},
    )
    data = created(
        api,
        connections,
        destinationId=hook.id,
        objectName="anything",
        fieldMappings=[
            {"source": "id", "destination": "customerRef", "key": True},
            {"source": "score * 2", "destination": "doubled"},
        ],
    )
    assert data["attributes"]["object_name"] == "anything"


def test_get_and_other_workspace_is_404(api, connections, other_workspace):
    sync_id = created(api, connections)["id"]
    response = api.get(f"{API}/syncs/{sync_id}")
    assert response.status_code == 200 and response.json()["data"]["id"] == sync_id
    stranger = client_for(api_key_create(workspace=other_workspace, name="x", scopes=["*"]).raw_key)
    for call in (
        lambda: stranger.get(f"{API}/syncs/{sync_id}"),
        lambda: stranger.put(f"{API}/syncs/{sync_id}", {"name": "mine"}, format="json"),
        lambda: stranger.delete(f"{API}/syncs/{sync_id}"),
        lambda: stranger.post(f"{API}/sync/toggle", {"syncId": sync_id, "enabled": False}, format="json"),
        lambda: stranger.post(f"{API}/sync/run", {"syncId": sync_id}, format="json"),
    ):
        response = call()
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert Sync.objects.get(pk=sync_id).name == "customers to crm"
    assert not SyncRun.objects.exists()
    assert api.get(f"{API}/syncs/retl_sync_nope").status_code == 404


def test_list_filters_and_pages(api, connections, workspace, tmp_path):
    other_destination = connection_create(
        workspace=workspace,
        role="destination",
        connector_type="sandbox",
        name="crm2",
        config={"path": str(tmp_path / "crm2.sqlite3")},
    )
    ids = [created(api, connections, name=f"s{i}")["id"] for i in range(4)]
    paused = created(api, connections, name="paused", enabled=False)["id"]
    elsewhere = created(api, connections, name="elsewhere", destinationId=other_destination.id)["id"]
    gone = created(api, connections, name="gone")["id"]
    assert api.delete(f"{API}/syncs/{gone}").status_code == 204

    seen, cursor = [], None
    while True:
        page = api.get(f"{API}/syncs", {"limit": 2, **({"cursor": cursor} if cursor else {})}).json()
        assert page["meta"]["page"]["limit"] == 2
        seen += [item["id"] for item in page["data"]]
        cursor = page["meta"]["page"]["cursor"]
        if cursor is None:
            break
    assert seen == list(reversed([*ids, paused, elsewhere]))  # newest first, deleted left out

    by_destination = api.get(f"{API}/syncs", {"destination_id": other_destination.id}).json()["data"]
    assert [s["id"] for s in by_destination] == [elsewhere]
    disabled = api.get(f"{API}/syncs", {"enabled": "false"}).json()["data"]
    assert [s["id"] for s in disabled] == [paused] and disabled[0]["attributes"]["status"] == "paused"
    enabled = api.get(f"{API}/syncs", {"enabled": "true"}).json()["data"]
    assert paused not in [s["id"] for s in enabled] and len(enabled) == 5

    bad = api.get(f"{API}/syncs", {"enabled": "maybe"})
    assert bad.status_code == 400 and "enabled" in bad.json()["error"]["details"]
    assert api.get(f"{API}/syncs", {"limit": 0}).status_code == 400


def test_update_applies_partial_changes(api, connections):
    sync_id = created(api, connections)["id"]
    response = api.put(
        f"{API}/syncs/{sync_id}",
        {"name": "renamed", "schedule": {"type": "cron", "expression": "0 * * * *", "timezone": "UTC"}},
        format="json",
    )
    assert response.status_code == 200, response.json()
    attributes = response.json()["data"]["attributes"]
    assert attributes["name"] == "renamed" and attributes["field_mappings"][0]["destination"] == "external_id"
    assert attributes["next_run_at"].endswith(":00:00Z")

    paused = api.put(f"{API}/syncs/{sync_id}", {"enabled": False}, format="json").json()["data"]["attributes"]
    assert paused["status"] == "paused" and paused["next_run_at"] is None
    assert Sync.objects.get(pk=sync_id).status == "paused"

    manual = api.put(
        f"{API}/syncs/{sync_id}", {"schedule": {"type": "manual"}, "enabled": True}, format="json"
    ).json()["data"]["attributes"]
    assert manual["schedule"] == {"type": "manual"} and manual["next_run_at"] is None
    assert manual["status"] == "healthy"


def test_update_is_validated_as_the_merged_whole(api, connections):
    sync_id = created(api, connections)["id"]
    # The object changes but the mappings stay: contacts' fields do not exist on deals.
    response = api.put(f"{API}/syncs/{sync_id}", {"objectName": "deals"}, format="json")
    assert_field_error(response, "fieldMappings[1].destination", "'email'", "does not exist on deals")
    response = api.put(f"{API}/syncs/{sync_id}", {"name": None}, format="json")
    assert_field_error(response, "name", "required")
    assert Sync.objects.get(pk=sync_id).object_name == "contacts"


def test_delete_keeps_history_readable(api, connections):
    sync_id = created(api, connections)["id"]
    run = SyncRun.objects.get(
        pk=api.post(f"{API}/sync/run", {"syncId": sync_id}, format="json").json()["data"][0]["id"]
    )
    sync = Sync.objects.get(pk=sync_id)
    entry = DlqEntry.objects.create(
        workspace=sync.workspace,
        sync=sync,
        run=run,
        destination=sync.destination,
        object_name="contacts",
        record_key="C0001",
        error_code="invalid_field_value",
        error_message="bad email",
        failed_at=timezone.now(),
    )
    assert api.delete(f"{API}/syncs/{sync_id}").status_code == 204
    assert api.get(f"{API}/syncs/{sync_id}").status_code == 404
    assert api.delete(f"{API}/syncs/{sync_id}").status_code == 404
    assert api.post(f"{API}/sync/run", {"syncId": sync_id}, format="json").status_code == 404
    sync.refresh_from_db()
    assert sync.deleted_at is not None
    assert SyncRun.objects.filter(pk=run.pk, status="queued").exists()  # a queued run stays
    assert DlqEntry.objects.filter(pk=entry.pk).exists()
    assert api.get(f"{API}/runs/{run.id}").status_code == 200
    assert api.get(f"{API}/dlq/{entry.id}").status_code == 200


def test_run_one_then_deduplicated(api, connections, django_capture_on_commit_callbacks):
    sync_id = created(api, connections)["id"]
    with django_capture_on_commit_callbacks() as callbacks:
        first = api.post(f"{API}/sync/run", {"syncId": sync_id}, format="json")
    assert first.status_code == 202
    assert len(callbacks) == 1  # the worker is told once the run is stored; no worker needed here
    [run] = first.json()["data"]
    assert run["type"] == "reverse_etl_run"
    assert run["attributes"]["sync_id"] == sync_id and run["attributes"]["status"] == "queued"
    assert run["attributes"]["trigger"] == "api" and run["attributes"]["deduplicated"] is False
    assert run["attributes"]["full_resync"] is False
    assert SyncRun.objects.get(pk=run["id"]).requested_by.startswith("api key ops")

    again = api.post(f"{API}/sync/run", {"sync_id": sync_id}, format="json")
    assert again.status_code == 202
    assert (
        again.json()["data"][0]["id"] == run["id"] and again.json()["data"][0]["attributes"]["deduplicated"]
    )
    assert SyncRun.objects.filter(sync_id=sync_id).count() == 1


def test_run_many_with_full_resync_and_paused(api, connections):
    first = created(api, connections, name="a")["id"]
    second = created(api, connections, name="b", enabled=False)["id"]  # paused syncs run when asked
    response = api.post(
        f"{API}/sync/run", {"syncIds": [first, second, first], "fullResync": True}, format="json"
    )
    assert response.status_code == 202
    runs = response.json()["data"]
    assert [r["attributes"]["sync_id"] for r in runs] == [first, second]
    assert all(r["attributes"]["full_resync"] and not r["attributes"]["deduplicated"] for r in runs)
    assert SyncRun.objects.filter(full_resync=True, trigger="api").count() == 2


def test_run_unknown_ids_is_404_and_queues_nothing(api, connections):
    sync_id = created(api, connections)["id"]
    response = api.post(f"{API}/sync/run", {"syncIds": [sync_id, "retl_sync_nope"]}, format="json")
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "not_found" and error["details"] == {"ids": ["retl_sync_nope"]}
    assert "retl_sync_nope" in error["message"]
    assert not SyncRun.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "syncId"),
        ({"syncId": "a", "syncIds": ["b"]}, "syncId"),
        ({"syncIds": []}, "syncIds"),
        ({"syncIds": "retl_sync_x"}, "syncIds"),
        ({"syncId": 5}, "syncId"),
        ({"syncId": "x", "fullResync": "yes"}, "fullResync"),
        ({"syncId": "x", "force": True}, "force"),
    ],
)
def test_run_bad_bodies_are_400(api, payload, field):
    response = api.post(f"{API}/sync/run", payload, format="json")
    assert response.status_code == 400 and field in response.json()["error"]["details"]


def test_run_is_idempotent(api, connections):
    sync_id = created(api, connections)["id"]
    first = api.post(f"{API}/sync/run", {"syncId": sync_id}, format="json", HTTP_IDEMPOTENCY_KEY="run-1")
    SyncRun.objects.update(status="succeeded")  # the run finished; a replay must not start another
    again = api.post(f"{API}/sync/run", {"syncId": sync_id}, format="json", HTTP_IDEMPOTENCY_KEY="run-1")
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert SyncRun.objects.count() == 1


def test_toggle(api, connections):
    sync_id = created(
        api,
        connections,
        schedule={"type": "cron", "expression": "*/5 * * * *", "timezone": "America/New_York"},
    )["id"]
    off = api.post(f"{API}/sync/toggle", {"syncId": sync_id, "enabled": False}, format="json")
    assert off.status_code == 200
    attributes = off.json()["data"]["attributes"]
    assert (
        attributes["enabled"] is False
        and attributes["status"] == "paused"
        and attributes["next_run_at"] is None
    )
    on = api.post(f"{API}/sync/toggle", {"sync_id": sync_id, "enabled": True}, format="json")
    attributes = on.json()["data"]["attributes"]
    assert attributes["enabled"] is True and attributes["status"] == "healthy"
    assert attributes["next_run_at"] is not None
    assert [e.action for e in AuditEvent.objects.filter(object_id=sync_id).order_by("id")] == [
        "sync.created",
        "sync.paused",
        "sync.enabled",
    ]
    bad = api.post(f"{API}/sync/toggle", {"syncId": sync_id, "enabled": "no"}, format="json")
    assert bad.status_code == 400 and "enabled" in bad.json()["error"]["details"]
    missing = api.post(f"{API}/sync/toggle", {"enabled": True}, format="json")
    assert missing.status_code == 400 and "syncId" in missing.json()["error"]["details"]
    unknown = api.post(f"{API}/sync/toggle", {"syncId": "retl_sync_nope", "enabled": True}, format="json")
    assert unknown.status_code == 404


# --- auth, scopes, idempotency --------------------------------------------------------------------


@pytest.mark.parametrize("header", [None, "Bearer", "Basic abc", "Bearer sk_not_a_key"])
def test_401_without_a_valid_key(connections, header):
    client = APIClient()
    if header:
        client.credentials(HTTP_AUTHORIZATION=header)
    response = client.post(f"{API}/syncs", body(connections), format="json")
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"
    assert client.get(f"{API}/syncs").status_code == 401
    assert not Sync.objects.exists()


def test_revoked_key_is_401(workspace, connections):
    issued = api_key_create(workspace=workspace, name="old", scopes=["*"])
    api_key_revoke(api_key=issued.api_key)
    assert client_for(issued.raw_key).get(f"{API}/syncs").status_code == 401


def test_scopes(workspace, connections, api):
    sync_id = created(api, connections)["id"]
    reader = client_for(api_key_create(workspace=workspace, name="r", scopes=["syncs:read"]).raw_key)
    writer = client_for(api_key_create(workspace=workspace, name="w", scopes=["syncs:write"]).raw_key)
    runner = client_for(api_key_create(workspace=workspace, name="x", scopes=["syncs:run"]).raw_key)
    assert reader.get(f"{API}/syncs").status_code == 200
    assert reader.get(f"{API}/syncs/{sync_id}").status_code == 200
    for response in (
        reader.post(f"{API}/syncs", body(connections), format="json"),
        reader.put(f"{API}/syncs/{sync_id}", {"name": "x"}, format="json"),
        reader.delete(f"{API}/syncs/{sync_id}"),
        reader.post(f"{API}/sync/toggle", {"syncId": sync_id, "enabled": False}, format="json"),
        writer.post(f"{API}/sync/run", {"syncId": sync_id}, format="json"),
        runner.get(f"{API}/syncs"),
        runner.post(f"{API}/sync/toggle", {"syncId": sync_id, "enabled": False}, format="json"),
    ):
        assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"
    assert writer.get(f"{API}/syncs").status_code == 403
    assert writer.put(f"{API}/syncs/{sync_id}", {"name": "x"}, format="json").status_code == 200
    assert (
        writer.post(f"{API}/sync/toggle", {"syncId": sync_id, "enabled": False}, format="json").status_code
        == 200
    )
    assert runner.post(f"{API}/sync/run", {"syncId": sync_id}, format="json").status_code == 202


def test_create_is_idempotent(api, connections):
    first = create(api, body(connections), HTTP_IDEMPOTENCY_KEY="create-1")
    again = create(api, body(connections), HTTP_IDEMPOTENCY_KEY="create-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert Sync.objects.count() == 1
    other = create(api, body(connections, name="another"), HTTP_IDEMPOTENCY_KEY="create-1")
    assert other.status_code == 409 and other.json()["error"]["code"] == "conflict"
    assert Sync.objects.count() == 1


# --- validation errors ----------------------------------------------------------------------------


def test_bad_sql_carries_the_warehouse_message(api, connections):
    response = create(api, body(connections, sourceQuery="SELECT * FROM custmers"))
    assert_field_error(response, "sourceQuery", "Table with name custmers does not exist")


@pytest.mark.parametrize(
    ("sql", "fragment"),
    [
        ("DELETE FROM customers", "DELETE"),
        ("DROP TABLE customers", "DROP"),
        ("UPDATE customers SET score = 0", "UPDATE"),
        ("SELECT * FROM customers; DELETE FROM customers", "2 statements"),
        ("COPY customers TO '/tmp/out.csv'", "COPY"),
        ("CREATE TABLE x AS SELECT * FROM customers", "CREATE"),
    ],
)
def test_write_statements_are_refused_and_never_run(api, connections, warehouse, sql, fragment):
    response = create(api, body(connections, sourceQuery=sql))
    assert_field_error(response, "sourceQuery", fragment)
    with duckdb.connect(str(warehouse.path), read_only=True) as con:
        assert con.execute("SELECT count(*), min(score) FROM customers").fetchone() == (250, 0)
        assert con.execute("SELECT count(*) FROM duckdb_tables()").fetchone()[0] == 1


def test_unknown_column_in_a_mapping_is_blamed_on_that_mapping(api, connections):
    mappings = [*MAPPINGS[:1], {"source": "lower(emial)", "destination": "email"}, *MAPPINGS[2:]]
    response = create(api, body(connections, fieldMappings=mappings))
    assert_field_error(response, "fieldMappings[1].source", "emial")
    assert set(response.json()["error"]["details"]) == {"fieldMappings[1].source"}


@pytest.mark.parametrize(
    ("overrides", "field", "fragments"),
    [
        ({"name": DROP}, "name", ["required"]),
        ({"name": "x" * 201}, "name", ["at most 200"]),
        ({"name": ""}, "name", ["non-empty"]),
        ({"sourceQuery": DROP}, "sourceQuery", ["required"]),
        ({"sourceQuery": "semantic:nope"}, "sourceQuery", ["No saved model named 'nope'"]),
        ({"sourceQuery": "SELEC * FROM customers"}, "sourceQuery", ["SELEC"]),
        ({"sourceId": "conn_nope"}, "sourceId", ["No source connection 'conn_nope'"]),
        ({"destinationId": DROP}, "destinationId", ["required"]),
        ({"destinationId": "conn_nope"}, "destinationId", ["No destination connection 'conn_nope'"]),
        ({"objectName": "leads"}, "objectName", ["'leads' does not exist", "contacts", "deals"]),
        ({"objectName": DROP}, "objectName", ["required"]),
        ({"fieldMappings": []}, "fieldMappings", ["non-empty list"]),
        ({"fieldMappings": "id"}, "fieldMappings", ["non-empty list"]),
        (
            {"fieldMappings": [{"source": "id", "destination": "external_id", "key": "yes"}]},
            "fieldMappings[0].key",
            [],
        ),
        ({"fieldMappings": [{"source": "id", "dest": "external_id"}]}, "fieldMappings[0]", ["dest"]),
        (
            {"fieldMappings": [*MAPPINGS, {"source": "name", "destination": "nickname"}]},
            "fieldMappings[4].destination",
            ["'nickname' does not exist on contacts"],
        ),
        (
            {"fieldMappings": [*MAPPINGS, {"source": "updated_at", "destination": "updated_at"}]},
            "fieldMappings[4].destination",
            ["'updated_at'", "read-only"],
        ),
        (
            {"fieldMappings": [*MAPPINGS, {"source": "email", "destination": "email"}]},
            "fieldMappings[4].destination",
            ["'email' is already mapped by fieldMappings[1]"],
        ),
        (
            {"fieldMappings": [MAPPINGS[0], {"source": "email", "destination": "email", "key": True}]},
            "fieldMappings",
            ["Only one mapping can be the match key", "external_id, email"],
        ),
        ({"fieldMappings": MAPPINGS[1:]}, "fieldMappings", ["'upsert' needs a match key"]),
        (
            {"fieldMappings": [{"source": "name", "destination": "first_name", "key": True}]},
            "fieldMappings[0].key",
            ["'first_name' cannot identify contacts", "email, external_id"],
        ),
        (
            {"fieldMappings": [*MAPPINGS[:3], {"source": "upper(", "destination": "last_name"}]},
            "fieldMappings[3].source",
            ["last_name", "upper("],
        ),
        (
            {"fieldMappings": [*MAPPINGS[:3], {"source": "score AS s", "destination": "last_name"}]},
            "fieldMappings[3].source",
            ["alias"],
        ),
        (
            {"syncMode": "merge"},
            "syncMode",
            ["'merge' is not supported", "upsert, insert, update, delete, mirror"],
        ),
        ({"syncMode": DROP}, "syncMode", ["required"]),
        (
            {"objectName": "events", "fieldMappings": [{"source": "email", "destination": "email"}]},
            "syncMode",
            ["'upsert' is not supported for events", "supported modes: insert"],
        ),
        ({"schedule": {"type": "hourly"}}, "schedule.type", ["'manual' or 'cron'"]),
        ({"schedule": "0 * * * *"}, "schedule", []),
        ({"schedule": {"type": "cron", "expression": "61 * * * *"}}, "schedule.expression", ["5-field cron"]),
        (
            {"schedule": {"type": "cron", "expression": "0 * * * * *"}},
            "schedule.expression",
            ["5-field cron"],
        ),
        ({"schedule": {"type": "cron", "expression": "0 0 31 2 *"}}, "schedule.expression", ["never fires"]),
        (
            {"schedule": {"type": "cron", "expression": "0 * * * *", "timezone": "Mars/Olympus"}},
            "schedule.timezone",
            ["'Mars/Olympus' is not an IANA time zone"],
        ),
        ({"schedule": {"type": "cron", "expression": "0 * * * *", "every": 5}}, "schedule", ["every"]),
        ({"incremental": {"strategy": "cdc"}}, "incremental.strategy", ["diff, watermark, none"]),
        ({"incremental": {"strategy": "watermark"}}, "incremental.column", ["column"]),
        (
            {"incremental": {"strategy": "watermark", "column": "modified_at"}},
            "incremental.column",
            ["no column 'modified_at'", "updated_at"],
        ),
        (
            {"syncMode": "mirror", "incremental": {"strategy": "watermark", "column": "updated_at"}},
            "incremental",
            ["mirror"],
        ),
        ({"enabled": "yes"}, "enabled", ["true or false"]),
        ({"colour": "blue"}, "colour", ["Unknown field 'colour'", "sourceQuery"]),
        ({"source_query": "SELECT 1 AS id"}, "sourceQuery", ["Given twice"]),
    ],
)
def test_validation_errors(api, connections, overrides, field, fragments):
    response = create(api, body(connections, **overrides))
    assert_field_error(response, field, *fragments)
    assert not Sync.objects.exists()


def test_source_must_be_a_source_of_this_workspace(api, connections, other_workspace, tmp_path):
    foreign = connection_create(
        workspace=other_workspace,
        role="source",
        connector_type="duckdb",
        name="wh",
        config={"path": ":memory:"},
    )
    assert_field_error(create(api, body(connections, sourceId=foreign.id)), "sourceId", foreign.id)
    assert_field_error(
        create(api, body(connections, sourceId=connections.destination.id)),
        "sourceId",
        "No source connection",
    )
    foreign_destination = connection_create(
        workspace=other_workspace,
        role="destination",
        connector_type="sandbox",
        name="crm",
        config={"path": str(tmp_path / "other.sqlite3")},
    )
    response = create(api, body(connections, destinationId=foreign_destination.id))
    assert_field_error(response, "destinationId", "No destination connection")


def test_no_default_warehouse(connections, other_workspace, tmp_path):
    client = client_for(api_key_create(workspace=other_workspace, name="k", scopes=["*"]).raw_key)
    destination = connection_create(
        workspace=other_workspace,
        role="destination",
        connector_type="sandbox",
        name="crm",
        config={"path": str(tmp_path / "other.sqlite3")},
    )
    response = client.post(f"{API}/syncs", body(connections, destinationId=destination.id), format="json")
    assert_field_error(response, "sourceId", "no default warehouse")


def test_a_body_that_is_not_an_object_is_400(api, connections):
    response = api.post(f"{API}/syncs", [body(connections)], format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_request"
