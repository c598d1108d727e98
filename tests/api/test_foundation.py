"""The conventions every endpoint shares: auth, scopes, envelope, errors, pagination, rate
limits, Idempotency-Key, both base paths."""

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.services import api_key_create, api_key_revoke
from apps.api.pagination import encode_cursor
from apps.connections.services import connection_create
from apps.dlq.models import DlqEntry
from apps.runs.models import SyncRun
from apps.syncs.models import Sync
from tests.api.clients import client_for

pytestmark = pytest.mark.django_db
BASES = ["/api/reverse-etl", "/v1/api/reverse-etl"]


@pytest.fixture
def key(workspace):
    return api_key_create(workspace=workspace, name="ci", scopes=["*"]).raw_key


@pytest.fixture
def sync(workspace, sandbox_path):
    dest = connection_create(
        workspace=workspace,
        role="destination",
        connector_type="sandbox",
        name="crm",
        config={"path": sandbox_path},
    )
    return Sync.objects.create(
        workspace=workspace,
        name="s",
        source_query="SELECT 1 AS id",
        destination=dest,
        object_name="contacts",
        field_mappings=[{"source": "id", "destination": "external_id", "key": True}],
    )


def make_runs(sync, n: int) -> list[SyncRun]:
    return [
        SyncRun.objects.create(workspace=sync.workspace, sync=sync, trigger="api", status="succeeded")
        for _ in range(n)
    ]


@pytest.mark.parametrize("base", BASES)
def test_both_base_paths_answer(base, key, sync):
    make_runs(sync, 1)
    response = client_for(key).get(f"{base}/runs")
    assert response.status_code == 200
    assert response.json()["data"][0]["type"] == "reverse_etl_run"


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "An API key is required"),
        ("Token abc", "must be 'Bearer <api key>'"),
        ("Bearer ", "must be 'Bearer <api key>'"),
        ("Bearer sl_nope_nope", "not valid"),
    ],
)
def test_401_with_the_envelope(header, reason):
    client = APIClient()
    if header is not None:
        client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/api/reverse-etl/runs")
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "unauthorized" and reason in error["message"]


def test_revoked_key_is_401(workspace):
    issued = api_key_create(workspace=workspace, name="old", scopes=["*"])
    api_key_revoke(api_key=issued.api_key)
    assert client_for(issued.raw_key).get("/api/reverse-etl/runs").status_code == 401


def test_missing_scope_is_403(workspace):
    raw = api_key_create(workspace=workspace, name="dlq-only", scopes=["dlq:read"]).raw_key
    response = client_for(raw).get("/api/reverse-etl/runs")
    assert response.status_code == 403
    assert response.json()["error"] == {
        "code": "forbidden",
        "message": "This API key lacks the 'syncs:read' scope.",
        "details": {},
    }
    assert client_for(raw).get("/api/reverse-etl/dlq").status_code == 200


def test_other_workspace_objects_are_404(key, sync, other_workspace):
    run = make_runs(sync, 1)[0]
    other = api_key_create(workspace=other_workspace, name="other", scopes=["*"]).raw_key
    assert client_for(key).get(f"/api/reverse-etl/runs/{run.id}").status_code == 200
    response = client_for(other).get(f"/api/reverse-etl/runs/{run.id}")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert client_for(other).get("/api/reverse-etl/runs").json()["data"] == []


def test_unknown_api_path_is_json_404(key):
    response = client_for(key).get("/api/reverse-etl/nothing-here")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == "not_found"


def test_keyset_pagination_walks_every_item_once(key, sync):
    runs = make_runs(sync, 7)
    client = client_for(key)
    seen, cursor = [], None
    while True:
        url = "/api/reverse-etl/runs?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url).json()
        assert page["meta"]["page"]["limit"] == 3
        seen += [item["id"] for item in page["data"]]
        cursor = page["meta"]["page"]["cursor"]
        if cursor is None:
            break
    assert seen == sorted((r.id for r in runs), reverse=True)  # newest first, none twice, none missing


def test_pagination_is_stable_under_concurrent_inserts(key, sync):
    make_runs(sync, 6)
    client = client_for(key)
    first = client.get("/api/reverse-etl/runs?limit=3").json()
    make_runs(sync, 5)  # arrive between page requests
    second = client.get(f"/api/reverse-etl/runs?limit=3&cursor={first['meta']['page']['cursor']}").json()
    ids = [i["id"] for i in first["data"] + second["data"]]
    assert len(ids) == len(set(ids)) == 6


@pytest.mark.parametrize(
    ("query", "field"),
    [("limit=0", "limit"), ("limit=201", "limit"), ("limit=x", "limit"), ("cursor=%21%21", "cursor")],
)
def test_bad_pagination_parameters_are_400(key, query, field):
    response = client_for(key).get(f"/api/reverse-etl/runs?{query}")
    assert response.status_code == 400
    assert field in response.json()["error"]["details"]


def test_rate_limit_headers_and_429(key, settings):
    settings.SYNCLINE_API_RATE_LIMIT_PER_MINUTE = 3
    from django.core.cache import cache

    cache.clear()
    client = client_for(key)
    first = client.get("/api/reverse-etl/runs")
    assert first["X-RateLimit-Limit"] == "3" and first["X-RateLimit-Remaining"] == "2"
    assert int(first["X-RateLimit-Reset"]) > timezone.now().timestamp()
    client.get("/api/reverse-etl/runs")
    client.get("/api/reverse-etl/runs")
    limited = client.get("/api/reverse-etl/runs")
    assert limited.status_code == 429 and limited.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(limited["Retry-After"]) <= 60 and limited["X-RateLimit-Remaining"] == "0"


def test_idempotency_key_replays_and_refuses_reuse(key, sync):
    entry = DlqEntry.objects.create(
        workspace=sync.workspace,
        sync=sync,
        run=make_runs(sync, 1)[0],
        destination=sync.destination,
        object_name="contacts",
        record_key="K1",
        error_code="invalid_field_value",
        error_message="bad",
        failed_at=timezone.now(),
    )
    client = client_for(key)
    body = {"ids": [entry.id], "reason": "skipped"}
    first = client.post("/api/reverse-etl/dlq/resolve", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = client.post("/api/reverse-etl/dlq/resolve", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert first.json()["data"]["resolved"] == [entry.id]  # the replay did not resolve "again"
    other = client.post(
        "/api/reverse-etl/dlq/resolve",
        {"ids": [entry.id], "reason": "fixed_upstream"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-1",
    )
    assert other.status_code == 409 and other.json()["error"]["code"] == "conflict"


def test_malformed_json_is_400_not_500(key):
    response = client_for(key).post(
        "/api/reverse-etl/dlq/resolve", "{not json", content_type="application/json"
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_request"


def test_a_cursor_that_is_not_an_id_is_400(key, sync):
    response = client_for(key).get(f"/api/reverse-etl/runs?cursor={encode_cursor('zzzz')}")
    assert response.status_code == 400 and "cursor" in response.json()["error"]["details"]


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("get", "/api/reverse-etl/dlq/stats?sync_id=%00", None),
        ("get", "/api/reverse-etl/runs?status=fail%00ed", None),
        ("post", "/api/reverse-etl/dlq/resolve", {"ids": ["dlq_\u0000"], "reason": "skipped"}),
    ],
)
def test_nul_characters_are_refused_as_bad_input(key, method, url, body):
    # PostgreSQL cannot store or compare text with NUL: without this check these were 500s there.
    client = client_for(key)
    response = client.post(url, body, format="json") if method == "post" else client.get(url)
    assert response.status_code == 400 and "NUL" in response.json()["error"]["message"]


def test_nul_in_a_path_id_is_404(key):
    assert client_for(key).get("/api/reverse-etl/runs/retl_run_%00").status_code == 404
