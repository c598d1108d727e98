"""The served OpenAPI schema and docs page, and a schemathesis run of the whole API against them."""

from __future__ import annotations

import re

import pytest
import schemathesis
from django.contrib.staticfiles import finders
from django.core.management import call_command
from drf_spectacular.validation import validate_schema
from hypothesis import HealthCheck, given, settings
from rest_framework.test import APIClient
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from apps.accounts.services import api_key_create
from apps.dlq.models import DlqEntry
from tests.engine_fixtures import run_now

API = "/api/reverse-etl"
# Every route of apps/*/api_urls.py, as the schema names it.
ROUTES = {
    "/syncs": {"get", "post"},
    "/syncs/{sync_id}": {"get", "put", "delete"},
    "/sync/run": {"post"},
    "/sync/toggle": {"post"},
    "/runs": {"get"},
    "/runs/{run_id}": {"get"},
    "/runs/{run_id}/cancel": {"post"},
    "/dlq": {"get"},
    "/dlq/stats": {"get"},
    "/dlq/resolve": {"post"},
    "/dlq/{entry_id}": {"get"},
    "/destinations": {"get", "post"},
    "/destinations/{connection_id}": {"get", "put", "delete"},
    "/destinations/{connection_id}/check": {"post"},
    "/sources": {"get", "post"},
    "/sources/{connection_id}": {"get", "put", "delete"},
    "/sources/{connection_id}/check": {"post"},
    "/objects": {"get"},
    "/fields": {"get"},
}


@pytest.mark.django_db
@pytest.mark.parametrize("base", ["/api/reverse-etl", "/v1/api/reverse-etl"])
def test_schema_is_a_valid_openapi_3_document_of_every_route(base):
    response = APIClient().get(f"{base}/openapi.json")  # public: no Authorization header
    assert response.status_code == 200
    assert response["Content-Type"].split(";")[0] in ("application/json", "application/vnd.oai.openapi+json")
    schema = response.json()
    validate_schema(schema)  # drf-spectacular's OpenAPI 3 JSON schema validation
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "Syncline reverse ETL API"
    assert schema["components"]["securitySchemes"]["BearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schema["components"]["securitySchemes"]["BearerAuth"]["description"],
    }
    served = {path.removeprefix(API): set(ops) for path, ops in schema["paths"].items()}
    assert served == ROUTES
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            label = f"{method.upper()} {path}"
            assert operation["security"] == [{"BearerAuth": []}], label
            responses = operation["responses"]
            assert {"401", "403", "429"} <= set(responses), label
            for status, response_schema in responses.items():
                if status in ("204",):
                    assert "content" not in response_schema, label
                    continue
                ref = response_schema["content"]["application/json"]["schema"]["$ref"]
                if int(status) >= 400:
                    assert ref == "#/components/schemas/Error", label
                if status not in ("401", "403"):
                    assert "X-RateLimit-Remaining" in response_schema["headers"], label


def test_schema_generates_without_warnings(tmp_path):
    """Every operation is described: drf-spectacular has nothing to guess (it warns when it must)."""
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "openapi.yaml"))


@pytest.mark.django_db
def test_schema_models_the_envelopes_and_nullable_fields():
    components = APIClient().get(f"{API}/openapi.json").json()["components"]["schemas"]
    assert components["Error"]["required"] == ["error"]
    assert set(components["ErrorDetail"]["required"]) == {"code", "message", "details"}
    assert components["Page"]["properties"]["cursor"]["nullable"] is True
    assert set(components["SyncPage"]["required"]) == {"data", "meta"}
    assert set(components["Sync"]["required"]) == {"id", "type", "attributes"}
    assert components["SyncTypeEnum"]["enum"] == ["reverse_etl_sync"]
    attributes = components["SyncAttributes"]["properties"]
    for name in ("source_id", "last_run", "next_run_at"):
        assert attributes[name]["nullable"] is True, name
    dlq = components["DlqEntry"]["properties"]
    assert "attributes" not in dlq  # flat, as in the vendor's DLQ docs
    for name in ("record_key", "destination_status", "resolved_at", "resolution", "replay_run_id"):
        assert dlq[name]["nullable"] is True, name
    assert "default" in components["SourceAttributes"]["properties"]
    assert "supported_modes" in components["DestinationAttributes"]["properties"]


@pytest.mark.django_db
def test_docs_page_uses_only_local_assets():
    response = APIClient().get(f"{API}/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert not re.search(r"(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", html), (
        "the docs page must load no CDN asset"
    )
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets and all(a.startswith(("/static/", "openapi.json", "?")) for a in assets), assets
    for asset in (a for a in assets if a.startswith("/static/")):
        # Served by WhiteNoise (from the finders under DEBUG, from collectstatic's output otherwise).
        assert finders.find(asset.removeprefix("/static/")), asset
    # The init script points Swagger UI at the schema of the same mount, relative to the page.
    assert '"openapi.json"' in html or "'openapi.json'" in html


# --- schemathesis ----------------------------------------------------------------------------


@pytest.fixture
def api_key(workspace, settings):
    settings.SYNCLINE_API_RATE_LIMIT_PER_MINUTE = 1_000_000  # fuzzing is not what the limit is for
    return api_key_create(workspace=workspace, name="schemathesis", scopes=["*"]).raw_key


@pytest.fixture
def workspace_data(make_sync, warehouse):
    """A DuckDB warehouse, a sandbox destination, a sync, a finished run with three DLQ entries
    (two bad emails, one null key) and one resolved entry."""
    warehouse.execute("UPDATE customers SET email = 'bad@@' WHERE id IN ('C0003', 'C0004')")
    warehouse.execute("UPDATE customers SET id = NULL WHERE id = 'C0005'")
    sync = make_sync()
    run = run_now(sync)
    entries = list(DlqEntry.objects.filter(sync=sync).order_by("id"))
    assert run.rows_invalid == 3 and len(entries) == 3
    DlqEntry.objects.filter(pk=entries[0].pk).update(
        resolved=True, resolved_at=run.finished_at, resolution_reason="skipped", resolved_by="test"
    )
    return {
        "sync": sync,
        "run": run,
        "entry": entries[1],
        "destination": sync.destination,
        "source": sync.source,
    }


SCHEMATHESIS_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
# Bounded and repeatable: derandomized (Hypothesis derives the seed from the test function, so every
# run sends the same requests), no example database, no time limit per example; the number of
# examples per operation is set per generation mode below.
FUZZ_SETTINGS = settings(
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)


@pytest.mark.django_db(transaction=True)  # the calls commit, create and delete objects
def test_api_conforms_to_its_schema(workspace_data, api_key, subtests):
    """Every operation, with schema-valid (positive) and schema-invalid (negative) requests from
    schemathesis, against the app in-process: no 5xx, and every response's status, content type,
    headers and body as the schema says. Path ids are those of real objects, so 200s are checked
    too (random ids only ever meet 404s)."""
    from config.wsgi import application

    schema = schemathesis.openapi.from_wsgi(f"{API}/openapi.json", application)
    ids = {
        "sync_id": workspace_data["sync"].id,
        "run_id": workspace_data["run"].id,
        "entry_id": workspace_data["entry"].id,
        "connection_id": workspace_data["destination"].id,
    }
    catalog_query = {"destination_id": workspace_data["destination"].id, "object": "contacts"}
    headers = {"Authorization": f"Bearer {api_key}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {(op.path.removeprefix(API), op.method.lower()) for op in operations} == {
        (path, method) for path, methods in ROUTES.items() for method in methods
    }
    seen: dict[str, set[int]] = {}
    for operation in operations:
        path_parameters = {p.name: ids[p.name] for p in operation.path_parameters}
        if operation.path.startswith(f"{API}/sources/"):
            path_parameters["connection_id"] = workspace_data["source"].id
        # The catalog of the real destination, not only 404s for random ones.
        query = {p.name: catalog_query[p.name] for p in operation.query if p.name in catalog_query} or None
        statuses = seen.setdefault(operation.label, set())
        for mode, examples in ((GenerationMode.POSITIVE, 25), (GenerationMode.NEGATIVE, 15)):
            strategy = operation.as_strategy(mode, path_parameters=path_parameters, query=query)
            with subtests.test(operation=operation.label, mode=mode.value):
                fuzz(strategy, headers, statuses, examples)
    # Real objects were reached: every read answered 200 at least once, and the run got past
    # validation on the writes that can succeed with generated bodies.
    for label, statuses in seen.items():
        if label.startswith("GET "):
            assert 200 in statuses, (label, statuses)
    for label in ("PUT /syncs/{sync_id}", "DELETE /syncs/{sync_id}", "POST /dlq/resolve"):
        assert seen[label.replace(" /", f" {API}/")] & {200, 204}, (label, seen)


def fuzz(strategy, headers: dict[str, str], statuses: set[int], max_examples: int) -> None:
    @settings(FUZZ_SETTINGS, max_examples=max_examples)
    @given(case=strategy)
    def check(case):
        response = case.call_and_validate(headers=headers, checks=SCHEMATHESIS_CHECKS)
        statuses.add(response.status_code)

    check()
