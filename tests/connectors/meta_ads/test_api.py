"""Creating syncs to a Meta audience through the API: the catalog's modes and identifiers hold."""

from __future__ import annotations

import pytest

from apps.accounts.services import api_key_create
from apps.connections.services import connection_create
from tests.api.clients import client_for
from tests.connectors.meta_ads.conftest import AUDIENCE, config_for

pytestmark = pytest.mark.django_db
API = "/api/reverse-etl"


@pytest.fixture
def create(workspace, connections, fake):
    destination = connection_create(
        workspace=workspace,
        role="destination",
        connector_type="meta_ads",
        name="meta",
        config=config_for(fake),
    )
    api = client_for(api_key_create(workspace=workspace, name="ops", scopes=["*"]).raw_key)

    def post(mode: str, key: str = "email", name: str = "audience"):
        body = {
            "name": name,
            "sourceQuery": "SELECT * FROM customers",
            "sourceId": connections.source.id,
            "destinationId": destination.id,
            "objectName": AUDIENCE,
            "syncMode": mode,
            "fieldMappings": [
                {"source": "email", "destination": "email", "key": key == "email"},
                {"source": "name", "destination": "fn", "key": key == "fn"},
            ],
        }
        return api.post(f"{API}/syncs", body, format="json")

    return post


@pytest.mark.parametrize("mode", ["add", "remove", "mirror"])
def test_audience_modes_are_accepted(create, mode):
    response = create(mode)
    assert response.status_code == 201, response.json()


def test_crm_modes_are_refused_with_the_supported_ones(create):
    response = create("upsert")
    assert response.status_code == 400
    assert "add, remove, mirror" in str(response.json())


def test_the_key_must_be_an_identifier(create):
    response = create("mirror", key="fn")
    assert response.status_code == 400
    text = str(response.json())
    assert "not an identifier" in text and "email" in text
