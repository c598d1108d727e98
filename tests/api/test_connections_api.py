"""Sources, destinations and the destination catalog over the REST API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.services import api_key_create
from apps.connections.models import Connection
from apps.connections.services import connection_create
from apps.connectors.base import ConnectorError
from apps.connectors.destinations.sandbox import SandboxDestination
from apps.syncs.models import Sync
from tests.api.clients import client_for

pytestmark = pytest.mark.django_db
BASE = "/api/reverse-etl"
SANDBOX_TOKEN = "sbx-tok-9f8e7d6c5b"
WRONG_TOKEN = "sbx-wrong-1a2b3c4d"
HTTP_TOKEN = "s3cr3t"
SECRETS = (SANDBOX_TOKEN, WRONG_TOKEN, HTTP_TOKEN)
ALL_MODES = ["upsert", "insert", "update", "delete", "mirror"]


class RecordingClient(APIClient):
    """Keeps every response, so a test can prove no secret value was ever sent back."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.bodies: list[bytes] = []

    def request(self, *args: Any, **kwargs: Any) -> Any:
        response = super().request(*args, **kwargs)
        self.bodies.append(response.content + str(dict(response.items())).encode())
        return response


@pytest.fixture
def clients():
    made: list[RecordingClient] = []

    def make(raw_key: str | None) -> RecordingClient:
        client = client_for(raw_key, RecordingClient())
        made.append(client)
        return client

    yield make
    for client in made:
        for body in client.bodies:
            for secret in SECRETS:
                assert secret.encode() not in body, f"secret leaked in {body[:300]!r}"


@pytest.fixture
def api(workspace, clients) -> RecordingClient:
    return clients(api_key_create(workspace=workspace, name="ci", scopes=["*"]).raw_key)


@pytest.fixture
def duckdb_path(tmp_path: Path) -> str:
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE users AS SELECT 1 AS id, 'a@example.com' AS email")
    return str(path)


def sandbox_body(sandbox_path: str, name: str = "crm", token: str = SANDBOX_TOKEN) -> dict[str, Any]:
    return {"name": name, "type": "sandbox", "config": {"path": sandbox_path, "api_token": token}}


def http_body(name: str = "hook") -> dict[str, Any]:
    return {
        "name": name,
        "type": "http",
        "config": {"url": "https://example.com/hook", "auth": {"type": "bearer", "token": HTTP_TOKEN}},
    }


def create(api: APIClient, kind: str, body: dict[str, Any], **extra: Any) -> dict[str, Any]:
    response = api.post(f"{BASE}/{kind}", body, format="json", **extra)
    assert response.status_code == 201, response.json()
    return response.json()["data"]


def make_sync(workspace, destination: Connection, *, source: Connection | None = None, deleted: bool = False):
    return Sync.objects.create(
        workspace=workspace,
        name="s",
        source_query="SELECT 1 AS id",
        source=source,
        destination=destination,
        object_name="contacts",
        field_mappings=[{"source": "id", "destination": "external_id", "key": True}],
        deleted_at=timezone.now() if deleted else None,
    )


# --- destinations: create ---------------------------------------------------------------------


def test_create_sandbox_destination(api, sandbox_path):
    data = create(api, "destinations", sandbox_body(sandbox_path))
    assert data["id"].startswith("conn_")
    assert data["type"] == "destination"
    attributes = data["attributes"]
    assert attributes["name"] == "crm"
    assert attributes["connector_type"] == "sandbox"
    assert attributes["status"] == "unknown"
    assert attributes["supported_modes"] == ALL_MODES
    assert attributes["config"] == {"path": sandbox_path}
    assert attributes["secrets_set"] == ["api_token"]
    assert attributes["created_at"].endswith("Z") and attributes["updated_at"].endswith("Z")
    assert "default" not in attributes
    stored = Connection.objects.get(pk=data["id"])
    assert stored.secrets == {"api_token": SANDBOX_TOKEN}


def test_create_http_destination_keeps_nested_secret_apart(api):
    body = http_body()
    body["config"]["batchSize"] = 10  # camelCase config keys are accepted like the rest of a body
    attributes = create(api, "destinations", body)["attributes"]
    assert attributes["config"]["auth"] == {"type": "bearer"}
    assert attributes["config"]["batch_size"] == 10
    assert attributes["secrets_set"] == ["auth.token"]
    assert attributes["supported_modes"] == ALL_MODES


def test_create_rejects_bad_config_with_field_details(api, sandbox_path):
    response = api.post(
        f"{BASE}/destinations",
        {"name": "crm", "type": "sandbox", "config": {"colour": "blue"}},
        format="json",
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert set(error["details"]) == {"config.path", "config.colour"}
    response = api.post(
        f"{BASE}/destinations",
        {"name": "hook", "type": "http", "config": {"url": "ftp://example.com", "auth": {"type": "bearer"}}},
        format="json",
    )
    assert response.status_code == 400
    details = response.json()["error"]["details"]
    assert "config.url" in details
    assert any(k.startswith("config.auth") for k in details)


def test_create_rejects_unknown_type_naming_the_available_ones(api):
    response = api.post(
        f"{BASE}/destinations", {"name": "x", "type": "teradata", "config": {}}, format="json"
    )
    assert response.status_code == 400
    message = response.json()["error"]["details"]["type"][0]
    assert "teradata" in message and "http" in message and "sandbox" in message
    # a source type is not a destination type
    response = api.post(f"{BASE}/destinations", {"name": "x", "type": "duckdb", "config": {}}, format="json")
    assert response.status_code == 400
    assert "type" in response.json()["error"]["details"]


def test_create_reports_every_bad_field(api):
    response = api.post(f"{BASE}/destinations", {"name": " ", "config": [], "colour": 1}, format="json")
    assert response.status_code == 400
    assert set(response.json()["error"]["details"]) == {"name", "type", "config", "colour"}
    response = api.post(f"{BASE}/destinations", ["not", "an", "object"], format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


def test_create_duplicate_name_is_a_conflict(api, sandbox_path):
    create(api, "destinations", sandbox_body(sandbox_path))
    response = api.post(f"{BASE}/destinations", sandbox_body(sandbox_path), format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"


def test_same_name_in_another_workspace_is_fine(api, other_workspace, sandbox_path):
    connection_create(
        workspace=other_workspace,
        role="destination",
        connector_type="sandbox",
        name="crm",
        config={"path": sandbox_path},
    )
    create(api, "destinations", sandbox_body(sandbox_path))


# --- destinations: list and read --------------------------------------------------------------


def test_list_destinations_filters_by_type_and_pages(api, sandbox_path, other_workspace):
    first = create(api, "destinations", sandbox_body(sandbox_path, "crm-1"))
    second = create(api, "destinations", sandbox_body(sandbox_path, "crm-2"))
    hook = create(api, "destinations", http_body())
    connection_create(
        workspace=other_workspace,
        role="destination",
        connector_type="sandbox",
        name="theirs",
        config={"path": sandbox_path},
    )
    response = api.get(f"{BASE}/destinations")
    assert response.status_code == 200
    assert [d["id"] for d in response.json()["data"]] == [hook["id"], second["id"], first["id"]]
    response = api.get(f"{BASE}/destinations", {"type": "sandbox", "limit": 1})
    body = response.json()
    assert [d["id"] for d in body["data"]] == [second["id"]]
    assert body["data"][0]["attributes"]["supported_modes"] == ALL_MODES
    cursor = body["meta"]["page"]["cursor"]
    assert cursor
    body = api.get(f"{BASE}/destinations", {"type": "sandbox", "limit": 1, "cursor": cursor}).json()
    assert [d["id"] for d in body["data"]] == [first["id"]]
    assert body["meta"]["page"]["cursor"] is None
    response = api.get(f"{BASE}/destinations", {"type": "teradata"})
    assert response.status_code == 400
    assert "sandbox" in response.json()["error"]["details"]["type"][0]


def test_v1_base_path_answers_too(api, sandbox_path):
    create(api, "destinations", sandbox_body(sandbox_path))
    response = api.get(f"/v1{BASE}/destinations")
    assert response.status_code == 200 and len(response.json()["data"]) == 1


def test_get_destination_and_404s(api, sandbox_path, other_workspace, duckdb_path):
    created = create(api, "destinations", sandbox_body(sandbox_path))
    response = api.get(f"{BASE}/destinations/{created['id']}")
    assert response.status_code == 200
    assert response.json()["data"] == created
    theirs = connection_create(
        workspace=other_workspace,
        role="destination",
        connector_type="sandbox",
        name="theirs",
        config={"path": sandbox_path},
    )
    source = create(api, "sources", {"name": "wh", "type": "duckdb", "config": {"path": duckdb_path}})
    for path in (
        f"destinations/{theirs.pk}",
        "destinations/conn_nope",
        f"destinations/{source['id']}",  # a source is not a destination
        f"sources/{created['id']}",
    ):
        response = api.get(f"{BASE}/{path}")
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"
    for method in ("put", "delete"):
        response = getattr(api, method)(f"{BASE}/destinations/{theirs.pk}", {"name": "x"}, format="json")
        assert response.status_code == 404
    assert api.post(f"{BASE}/destinations/{theirs.pk}/check").status_code == 404
    theirs.refresh_from_db()
    assert theirs.name == "theirs"


# --- destinations: update, delete -------------------------------------------------------------


def test_put_renames_and_keeps_secrets_not_resent(api, sandbox_path, tmp_path):
    created = create(api, "destinations", sandbox_body(sandbox_path))
    url = f"{BASE}/destinations/{created['id']}"
    response = api.put(url, {"name": "crm-renamed"}, format="json")
    assert response.status_code == 200
    assert response.json()["data"]["attributes"]["name"] == "crm-renamed"
    new_path = str(tmp_path / "other.sqlite3")
    response = api.put(url, {"config": {"path": new_path}}, format="json")
    assert response.status_code == 200
    attributes = response.json()["data"]["attributes"]
    assert attributes["config"] == {"path": new_path}
    assert attributes["secrets_set"] == ["api_token"]
    stored = Connection.objects.get(pk=created["id"])
    assert stored.secrets == {"api_token": SANDBOX_TOKEN}
    assert stored.name == "crm-renamed"
    # null clears an optional secret
    response = api.put(url, {"config": {"api_token": None}}, format="json")
    assert response.json()["data"]["attributes"]["secrets_set"] == []


def test_put_http_keeps_nested_secret(api):
    created = create(api, "destinations", http_body())
    url = f"{BASE}/destinations/{created['id']}"
    response = api.put(url, {"config": {"auth": {"type": "bearer"}, "batch_size": 5}}, format="json")
    assert response.status_code == 200, response.json()
    attributes = response.json()["data"]["attributes"]
    assert attributes["config"]["batch_size"] == 5
    assert attributes["secrets_set"] == ["auth.token"]
    assert Connection.objects.get(pk=created["id"]).secrets == {"auth.token": HTTP_TOKEN}
    # another auth type needs its own secret
    response = api.put(url, {"config": {"auth": {"type": "basic", "username": "u"}}}, format="json")
    assert response.status_code == 400
    assert any(k.startswith("config.auth") for k in response.json()["error"]["details"])


def test_put_validation_and_conflicts(api, sandbox_path):
    created = create(api, "destinations", sandbox_body(sandbox_path))
    create(api, "destinations", sandbox_body(sandbox_path, "taken"))
    url = f"{BASE}/destinations/{created['id']}"
    response = api.put(url, {"config": {"colour": "blue"}}, format="json")
    assert response.status_code == 400
    assert "config.colour" in response.json()["error"]["details"]
    response = api.put(url, {"config": {"path": None}}, format="json")
    assert response.status_code == 400
    assert "config.path" in response.json()["error"]["details"]
    response = api.put(url, {"name": "taken"}, format="json")
    assert response.status_code == 409
    response = api.put(url, {"type": "http"}, format="json")
    assert response.status_code == 400
    assert "type" in response.json()["error"]["details"]
    response = api.put(url, {"name": None, "default": True}, format="json")
    assert response.status_code == 400
    assert set(response.json()["error"]["details"]) == {"name", "default"}
    assert Connection.objects.get(pk=created["id"]).name == "crm"


def test_config_change_resets_the_status(api, sandbox_path, tmp_path):
    created = create(api, "destinations", sandbox_body(sandbox_path))
    url = f"{BASE}/destinations/{created['id']}"
    assert api.post(f"{url}/check").json()["data"]["ok"] is True
    assert api.get(url).json()["data"]["attributes"]["status"] == "connected"
    api.put(url, {"name": "same-config"}, format="json")
    assert api.get(url).json()["data"]["attributes"]["status"] == "connected"
    api.put(url, {"config": {"path": str(tmp_path / "new.sqlite3")}}, format="json")
    attributes = api.get(url).json()["data"]["attributes"]
    assert attributes["status"] == "unknown" and attributes["checked_at"] is None


def test_delete_destination(api, sandbox_path):
    created = create(api, "destinations", sandbox_body(sandbox_path))
    url = f"{BASE}/destinations/{created['id']}"
    response = api.delete(url)
    assert response.status_code == 204
    assert response.content == b""
    assert api.get(url).status_code == 404
    assert api.delete(url).status_code == 404


def test_delete_destination_in_use_is_a_conflict(api, workspace, sandbox_path):
    created = create(api, "destinations", sandbox_body(sandbox_path))
    sync = make_sync(workspace, Connection.objects.get(pk=created["id"]))
    url = f"{BASE}/destinations/{created['id']}"
    response = api.delete(url)
    assert response.status_code == 409
    assert response.json()["error"]["details"]["sync_ids"] == [sync.pk]
    # a deleted sync keeps its history readable, and so the destination it wrote to
    sync.deleted_at = timezone.now()
    sync.save()
    response = api.delete(url)
    assert response.status_code == 409
    assert "deleted syncs" in response.json()["error"]["message"]
    assert Connection.objects.filter(pk=created["id"]).exists()


# --- check -----------------------------------------------------------------------------------


def test_check_ok_then_failing_with_another_token(api, sandbox_path):
    created = create(api, "destinations", sandbox_body(sandbox_path))
    url = f"{BASE}/destinations/{created['id']}"
    response = api.post(f"{url}/check")
    assert response.status_code == 200
    assert response.json()["data"]["ok"] is True
    assert "Sandbox account ready" in response.json()["data"]["message"]
    # the sandbox account keeps the first token it saw; another one is refused
    assert api.put(url, {"config": {"api_token": WRONG_TOKEN}}, format="json").status_code == 200
    response = api.post(f"{url}/check")
    assert response.status_code == 200
    assert response.json()["data"] == {
        "ok": False,
        "message": "The API token provided is invalid for this sandbox account",
    }
    attributes = api.get(url).json()["data"]["attributes"]
    assert attributes["status"] == "error"
    assert "invalid" in attributes["status_message"]


def test_check_message_never_echoes_a_secret(api, sandbox_path, monkeypatch):
    from apps.connectors.base import CheckResult

    created = create(api, "destinations", sandbox_body(sandbox_path))
    monkeypatch.setattr(
        SandboxDestination, "check", lambda self: CheckResult(False, f"server said: bad {SANDBOX_TOKEN}")
    )
    response = api.post(f"{BASE}/destinations/{created['id']}/check")
    assert response.json()["data"]["message"] == "server said: bad ••••••"
    assert SANDBOX_TOKEN not in api.get(f"{BASE}/destinations/{created['id']}").content.decode()


# --- sources ---------------------------------------------------------------------------------


def test_sources_crud_and_check(api, workspace, duckdb_path, tmp_path):
    first = create(api, "sources", {"name": "wh", "type": "duckdb", "config": {"path": duckdb_path}})
    assert first["type"] == "source"
    attributes = first["attributes"]
    assert attributes["default"] is True  # the first warehouse of a workspace is its default
    assert attributes["config"]["path"] == duckdb_path
    assert attributes["secrets_set"] == []
    assert "supported_modes" not in attributes
    second = create(api, "sources", {"name": "lake", "type": "duckdb", "config": {"path": duckdb_path}})
    assert second["attributes"]["default"] is False
    listed = api.get(f"{BASE}/sources", {"type": "duckdb"}).json()["data"]
    assert [s["id"] for s in listed] == [second["id"], first["id"]]
    assert api.get(f"{BASE}/destinations").json()["data"] == []

    response = api.post(f"{BASE}/sources/{first['id']}/check")
    assert response.status_code == 200
    assert response.json()["data"]["ok"] is True

    missing = str(tmp_path / "missing.duckdb")
    broken = create(api, "sources", {"name": "gone", "type": "duckdb", "config": {"path": missing}})
    response = api.post(f"{BASE}/sources/{broken['id']}/check")
    data = response.json()["data"]
    assert data["ok"] is False and "not found" in data["message"]

    # default moves with "default": true; the default cannot just be switched off
    response = api.put(f"{BASE}/sources/{second['id']}", {"default": True}, format="json")
    assert response.json()["data"]["attributes"]["default"] is True
    assert api.get(f"{BASE}/sources/{first['id']}").json()["data"]["attributes"]["default"] is False
    response = api.put(f"{BASE}/sources/{second['id']}", {"default": False}, format="json")
    assert response.status_code == 400
    assert "default" in response.json()["error"]["details"]


def test_create_source_as_default_and_validation(api, duckdb_path):
    create(api, "sources", {"name": "wh", "type": "duckdb", "config": {"path": duckdb_path}})
    created = create(
        api, "sources", {"name": "new", "type": "duckdb", "config": {"path": duckdb_path}, "default": True}
    )
    assert created["attributes"]["default"] is True
    assert Connection.objects.filter(role="source", is_default=True).count() == 1
    response = api.post(f"{BASE}/sources", {"name": "x", "type": "duckdb", "config": {}}, format="json")
    assert response.status_code == 400
    assert "config.path" in response.json()["error"]["details"]
    response = api.post(f"{BASE}/sources", {"name": "x", "type": "sandbox", "config": {}}, format="json")
    assert response.status_code == 400
    assert "duckdb" in response.json()["error"]["details"]["type"][0]
    response = api.post(
        f"{BASE}/sources", {"name": "wh", "type": "duckdb", "config": {"path": duckdb_path}}, format="json"
    )
    assert response.status_code == 409
    response = api.post(
        f"{BASE}/sources",
        {"name": "y", "type": "duckdb", "config": {"path": duckdb_path}, "default": "yes"},
        format="json",
    )
    assert response.status_code == 400
    assert "default" in response.json()["error"]["details"]


def test_delete_source_in_use(api, workspace, duckdb_path, sandbox_path):
    default = create(api, "sources", {"name": "wh", "type": "duckdb", "config": {"path": duckdb_path}})
    other = create(api, "sources", {"name": "lake", "type": "duckdb", "config": {"path": duckdb_path}})
    destination = connection_create(
        workspace=workspace,
        role="destination",
        connector_type="sandbox",
        name="crm",
        config={"path": sandbox_path},
    )
    # a sync without a source runs on the default warehouse
    sync = make_sync(workspace, destination)
    response = api.delete(f"{BASE}/sources/{default['id']}")
    assert response.status_code == 409
    assert response.json()["error"]["details"]["sync_ids"] == [sync.pk]
    assert api.delete(f"{BASE}/sources/{other['id']}").status_code == 204


# --- objects and fields ----------------------------------------------------------------------


@pytest.fixture
def sandbox_id(api, sandbox_path) -> str:
    return create(api, "destinations", sandbox_body(sandbox_path))["id"]


def test_objects_search_is_case_insensitive(api, sandbox_id):
    response = api.get(f"{BASE}/objects", {"destination_id": sandbox_id})
    assert response.status_code == 200
    body = response.json()
    assert "meta" not in body
    names = [o["name"] for o in body["data"]]
    assert "contacts" in names and "companies" in names
    contacts = next(o for o in body["data"] if o["name"] == "contacts")
    assert contacts == {
        "name": "contacts",
        "label": "Contacts",
        "supported_modes": ALL_MODES,
        "custom": False,
        "freeform_fields": False,
    }
    found = api.get(f"{BASE}/objects", {"destination_id": sandbox_id, "search": "CONT"}).json()["data"]
    assert [o["name"] for o in found] == ["contacts"]
    by_label = api.get(f"{BASE}/objects", {"destination_id": sandbox_id, "search": "compan"}).json()["data"]
    assert [o["name"] for o in by_label] == ["companies"]
    none = api.get(f"{BASE}/objects", {"destination_id": sandbox_id, "search": "zzz"}).json()["data"]
    assert none == []


def test_objects_errors(api, sandbox_id, other_workspace, sandbox_path, duckdb_path):
    response = api.get(f"{BASE}/objects")
    assert response.status_code == 400
    assert "destination_id" in response.json()["error"]["details"]
    theirs = connection_create(
        workspace=other_workspace,
        role="destination",
        connector_type="sandbox",
        name="theirs",
        config={"path": sandbox_path},
    )
    source = create(api, "sources", {"name": "wh", "type": "duckdb", "config": {"path": duckdb_path}})
    for destination_id in (theirs.pk, "conn_nope", source["id"]):
        response = api.get(f"{BASE}/objects", {"destination_id": destination_id})
        assert response.status_code == 404
        response = api.get(f"{BASE}/fields", {"destination_id": destination_id, "object": "contacts"})
        assert response.status_code == 404
    response = api.get(f"{BASE}/objects", {"destination_id": sandbox_id, "refresh": "maybe"})
    assert response.status_code == 400


def test_fields_flags_of_sandbox_contacts(api, sandbox_id):
    response = api.get(f"{BASE}/fields", {"destination_id": sandbox_id, "object": "contacts"})
    assert response.status_code == 200
    fields = {f["name"]: f for f in response.json()["data"]}
    assert fields["email"] == {
        "name": "email",
        "label": "Email",
        "type": "email",
        "required": True,
        "createable": True,
        "updateable": True,
        "identifier": True,
        "enum_values": None,
        "max_length": 254,
    }
    assert fields["id"]["createable"] is False and fields["id"]["updateable"] is False
    assert fields["id"]["identifier"] is False
    assert fields["lifecycle_stage"]["type"] == "enum"
    assert "lead" in fields["lifecycle_stage"]["enum_values"]


def test_fields_errors(api, sandbox_id):
    response = api.get(f"{BASE}/fields")
    assert response.status_code == 400
    assert set(response.json()["error"]["details"]) == {"destination_id", "object"}
    response = api.get(f"{BASE}/fields", {"destination_id": sandbox_id})
    assert set(response.json()["error"]["details"]) == {"object"}
    response = api.get(f"{BASE}/fields", {"destination_id": sandbox_id, "object": "Leads"})
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "not_found"
    assert "contacts" in error["message"] and "Leads" in error["message"]
    assert "contacts" in error["details"]["available_objects"]


def test_http_catalog_is_freeform(api):
    hook = create(api, "destinations", http_body())["id"]
    objects = api.get(f"{BASE}/objects", {"destination_id": hook}).json()["data"]
    assert objects == [
        {
            "name": "records",
            "label": "Records",
            "supported_modes": ALL_MODES,
            "custom": False,
            "freeform_fields": True,
        }
    ]
    # any object name is accepted, with any field name: no fixed field list
    response = api.get(f"{BASE}/fields", {"destination_id": hook, "object": "signups"})
    assert response.status_code == 200 and response.json()["data"] == []


def test_catalog_is_cached_and_refresh_refetches(api, sandbox_id, monkeypatch, tmp_path):
    calls = {"objects": 0, "fields": 0}
    original_objects, original_fields = SandboxDestination.list_objects, SandboxDestination.list_fields

    def counting_objects(self):
        calls["objects"] += 1
        return original_objects(self)

    def counting_fields(self, object_name):
        calls["fields"] += 1
        return original_fields(self, object_name)

    monkeypatch.setattr(SandboxDestination, "list_objects", counting_objects)
    monkeypatch.setattr(SandboxDestination, "list_fields", counting_fields)
    # creating the destination already filled the cache (its supported_modes)
    for _ in range(2):
        assert api.get(f"{BASE}/objects", {"destination_id": sandbox_id}).status_code == 200
        assert api.get(f"{BASE}/destinations/{sandbox_id}").status_code == 200
    assert calls["objects"] == 0
    api.get(f"{BASE}/objects", {"destination_id": sandbox_id, "refresh": "true"})
    assert calls["objects"] == 1
    api.get(f"{BASE}/objects", {"destination_id": sandbox_id})
    assert calls["objects"] == 1
    params = {"destination_id": sandbox_id, "object": "contacts"}
    api.get(f"{BASE}/fields", params)
    api.get(f"{BASE}/fields", params)
    assert calls["fields"] == 1
    api.get(f"{BASE}/fields", {**params, "refresh": "true"})
    assert calls["fields"] == 2
    # a config change means new settings: the catalog is fetched again
    url = f"{BASE}/destinations/{sandbox_id}"
    calls["objects"] = 0
    response = api.put(url, {"config": {"path": str(tmp_path / "moved.sqlite3")}}, format="json")
    assert response.json()["data"]["attributes"]["supported_modes"] == ALL_MODES
    assert calls["objects"] == 1  # the response's supported_modes fetched the new catalog
    api.get(f"{BASE}/objects", {"destination_id": sandbox_id})
    assert calls["objects"] == 1


def test_connector_error_is_a_502_and_listing_still_works(api, sandbox_path, monkeypatch):
    def down(self, *args):
        raise ConnectorError("upstream is down", code="destination_unavailable", status=503, retryable=True)

    monkeypatch.setattr(SandboxDestination, "list_objects", down)
    created = create(api, "destinations", sandbox_body(sandbox_path))
    assert created["attributes"]["supported_modes"] == []
    response = api.get(f"{BASE}/objects", {"destination_id": created["id"]})
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "destination_unavailable"
    assert "upstream is down" in error["message"]
    assert error["details"] == {"connector_error_code": "destination_unavailable", "destination_status": 503}
    response = api.get(f"{BASE}/fields", {"destination_id": created["id"], "object": "contacts"})
    assert response.status_code == 502
    assert api.get(f"{BASE}/destinations").status_code == 200


# --- auth and scopes ---------------------------------------------------------------------------


def test_401_without_a_valid_key(clients, sandbox_id):
    for raw in (None, "sl_nope_nope"):
        client = clients(raw)
        for path in ("destinations", "sources", f"destinations/{sandbox_id}", "objects", "fields"):
            response = client.get(f"{BASE}/{path}")
            assert response.status_code == 401, path
            assert response.json()["error"]["code"] == "unauthorized"
        assert client.post(f"{BASE}/destinations", {}, format="json").status_code == 401


def test_scopes(clients, workspace, sandbox_id, sandbox_path):
    reader = clients(api_key_create(workspace=workspace, name="r", scopes=["destinations:read"]).raw_key)
    for path in ("destinations", "sources", f"destinations/{sandbox_id}"):
        assert reader.get(f"{BASE}/{path}").status_code == 200
    assert reader.get(f"{BASE}/objects", {"destination_id": sandbox_id}).status_code == 200
    writes = [
        reader.post(f"{BASE}/destinations", sandbox_body(sandbox_path, "new"), format="json"),
        reader.put(f"{BASE}/destinations/{sandbox_id}", {"name": "x"}, format="json"),
        reader.delete(f"{BASE}/destinations/{sandbox_id}"),
        reader.post(f"{BASE}/destinations/{sandbox_id}/check"),
        reader.post(f"{BASE}/sources", {"name": "x", "type": "duckdb", "config": {}}, format="json"),
    ]
    for response in writes:
        assert response.status_code == 403
        error = response.json()["error"]
        assert error["code"] == "forbidden" and "connections:write" in error["message"]
    syncs_only = clients(api_key_create(workspace=workspace, name="s", scopes=["syncs:read"]).raw_key)
    response = syncs_only.get(f"{BASE}/destinations")
    assert response.status_code == 403 and "destinations:read" in response.json()["error"]["message"]
    writer = clients(api_key_create(workspace=workspace, name="w", scopes=["connections:write"]).raw_key)
    assert writer.post(f"{BASE}/destinations", http_body(), format="json").status_code == 201
    assert writer.get(f"{BASE}/destinations").status_code == 403
    assert Connection.objects.get(pk=sandbox_id).name == "crm"


# --- idempotency -------------------------------------------------------------------------------


def test_idempotent_create(api, sandbox_path):
    body = sandbox_body(sandbox_path)
    first = api.post(f"{BASE}/destinations", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 201
    again = api.post(f"{BASE}/destinations", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Connection.objects.filter(role="destination").count() == 1
    other = api.post(
        f"{BASE}/destinations", sandbox_body(sandbox_path, "crm-2"), format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert other.status_code == 409
    assert "Idempotency-Key" in other.json()["error"]["message"]
    assert Connection.objects.filter(role="destination").count() == 1
    # without a key, the same body is a second request: a name conflict
    assert api.post(f"{BASE}/destinations", body, format="json").status_code == 409
