"""No secret value appears in admin or dashboard output. (The REST API adds its own test.)"""

import json

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from apps.accounts.services import membership_set
from apps.connections.services import connection_create

pytestmark = pytest.mark.django_db
SECRET = "tok-must-never-render-9f8e7d"


@pytest.fixture
def conn(workspace, sandbox_path):
    return connection_create(
        workspace=workspace,
        role="destination",
        connector_type="sandbox",
        name="crm",
        config={"path": sandbox_path, "api_token": SECRET},
    )


def test_admin_pages_show_secret_names_not_values(client, workspace, conn):
    superuser = get_user_model().objects.create_superuser("root", "root@example.com", "pw-root-123")
    client.force_login(superuser)
    for url in (
        reverse("admin:connections_connection_changelist"),
        reverse("admin:connections_connection_change", args=[conn.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 200
        assert SECRET not in response.content.decode()
    detail = client.get(reverse("admin:connections_connection_change", args=[conn.pk])).content.decode()
    assert "api_token" in detail


def test_admin_save_keeps_secrets(client, workspace, conn):
    superuser = get_user_model().objects.create_superuser("root", "root@example.com", "pw-root-123")
    client.force_login(superuser)
    url = reverse("admin:connections_connection_change", args=[conn.pk])
    response = client.post(
        url,
        {
            "workspace": workspace.pk,
            "role": "destination",
            "connector_type": "sandbox",
            "name": "crm renamed",
            "config": json.dumps({"path": conn.config["path"]}),
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    conn.refresh_from_db()
    assert conn.name == "crm renamed"
    assert conn.secrets == {"api_token": SECRET}


def test_dashboard_connections_page_hides_values(client, workspace, conn):
    user = membership_set(workspace=workspace, username="sam", role="support", password="pw-sam-12345").user
    client.force_login(user)
    body = client.get(reverse("dashboard:connections")).content.decode()
    assert "crm" in body and "api_token" in body
    assert SECRET not in body
