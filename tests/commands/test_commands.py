import io

import pytest
from django.core.management import CommandError, call_command

from apps.accounts.models import ApiKey, Membership, Workspace
from apps.accounts.services import api_key_authenticate
from apps.connections.models import Connection

pytestmark = pytest.mark.django_db


def run(*args) -> list[str]:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue().strip().splitlines()


def test_create_workspace_with_admin():
    lines = run("create_workspace", "initech", "--name", "Initech", "--admin", "peter")
    ws = Workspace.objects.get(slug="initech")
    assert lines[-1] == ws.id and ws.name == "Initech"
    assert Membership.objects.get(workspace=ws, user__username="peter").role == "admin"
    with pytest.raises(CommandError, match="already exists"):
        run("create_workspace", "initech")


def test_create_api_key_prints_only_the_key_last(workspace):
    lines = run(
        "create_api_key", "--workspace", "acme", "--name", "terraform", "--scopes", "syncs:read,dlq:read"
    )
    raw_key = lines[-1]
    key = api_key_authenticate(raw_key)
    assert key is not None and key.name == "terraform" and key.scopes == ["syncs:read", "dlq:read"]
    assert ApiKey.objects.filter(hashed_key=raw_key).count() == 0  # never stored in clear


def test_create_api_key_errors_are_clear(workspace):
    with pytest.raises(CommandError, match="No workspace"):
        run("create_api_key", "--workspace", "nope", "--name", "x")
    with pytest.raises(CommandError, match="syncs:everything"):
        run("create_api_key", "--workspace", "acme", "--name", "x", "--scopes", "syncs:everything")


def test_create_connection_validates_and_prints_the_id(workspace, sandbox_path):
    lines = run(
        "create_connection",
        "--workspace",
        "acme",
        "--role",
        "destination",
        "--type",
        "sandbox",
        "--name",
        "crm",
        "--config",
        f'{{"path": "{sandbox_path}", "api_token": "t"}}',
    )
    conn = Connection.objects.get(pk=lines[-1])
    assert conn.connector_type == "sandbox" and conn.secrets == {"api_token": "t"}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"path": "/x", "bogus": 1}', "bogus"),
        ("{}", "path"),
    ],
)
def test_create_connection_rejects_bad_config(workspace, config, message):
    with pytest.raises(CommandError, match=message):
        run(
            "create_connection",
            "--workspace",
            "acme",
            "--role",
            "source",
            "--type",
            "duckdb",
            "--name",
            "wh",
            "--config",
            config,
        )
    assert not Connection.objects.exists()


def test_create_connection_rejects_unknown_type(workspace):
    with pytest.raises(CommandError, match="Unknown source type 'oracle'"):
        run(
            "create_connection",
            "--workspace",
            "acme",
            "--role",
            "source",
            "--type",
            "oracle",
            "--name",
            "wh",
            "--config",
            "{}",
        )
