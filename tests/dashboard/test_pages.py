import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

pytestmark = pytest.mark.django_db
SECTIONS = ["dashboard:syncs", "dashboard:runs", "dashboard:dlq", "dashboard:connections"]


def test_login_page_renders(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert b'name="username"' in response.content and b'name="password"' in response.content


@pytest.mark.parametrize("name", SECTIONS)
def test_sections_require_login(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_login_then_every_section_with_navigation(client, admin_user):
    response = client.post(reverse("login"), {"username": "ada", "password": "pw-ada-123"})
    assert response.status_code == 302
    assert client.get(response["Location"], follow=True).status_code == 200
    for name in SECTIONS:
        body = client.get(reverse(name)).content.decode()
        for label in ("Syncs", "Runs", "DLQ", "Connections"):
            assert f">{label}</a>" in body
        assert "Acme" in body and "Admin" in body


def test_wrong_password_is_refused(client, admin_user):
    response = client.post(reverse("login"), {"username": "ada", "password": "nope"})
    assert response.status_code == 200 and b"didn't match" in response.content


def test_user_without_workspace_is_told_so(client):
    user = get_user_model().objects.create_user("loner", password="pw-loner-123")
    client.force_login(user)
    response = client.get(reverse("dashboard:syncs"))
    assert response.status_code == 403 and b"No workspace yet" in response.content


def test_logout_ends_the_session(client, admin_user):
    client.force_login(admin_user)
    client.post(reverse("logout"))
    assert client.get(reverse("dashboard:syncs")).status_code == 302


def test_htmx_is_served_locally(client):
    from django.contrib.staticfiles import finders

    assert finders.find("vendor/htmx.min.js")
    body = client.get(reverse("login")).content.decode()
    assert (
        "/static/vendor/htmx.min.js" in body and "://" not in body.split("htmx.min.js")[0].rsplit('"', 1)[-1]
    )


def test_audit_log_is_for_admins(client, workspace, admin_user):
    from apps.accounts.services import membership_set
    from apps.audit.services import audit_record

    audit_record(
        workspace_id=workspace.pk,
        actor="api key ci (abcd1234)",
        action="dlq.resolved",
        object_type="dlq_entry",
        details={"ids": ["dlq_1"], "reason": "skipped"},
    )
    client.force_login(admin_user)
    body = client.get(reverse("dashboard:audit")).content.decode()
    assert "dlq.resolved" in body and "api key ci (abcd1234)" in body and ">Audit log</a>" in body
    support = membership_set(
        workspace=workspace, username="sam", role="support", password="pw-sam-12345"
    ).user
    client.force_login(support)
    response = client.get(reverse("dashboard:audit"))
    assert response.status_code == 403 and b"dlq.resolved" not in response.content
    assert b">Audit log</a>" not in client.get(reverse("dashboard:syncs")).content
