import pytest
from django.db import IntegrityError, transaction

from apps.connections.models import Connection, ConnectionStatus
from apps.connections.services import connection_check, connection_create, connector_for
from apps.connectors.registry import ConfigError, UnknownConnectorError

pytestmark = pytest.mark.django_db


def test_config_is_validated_by_the_connector_model(workspace):
    with pytest.raises(ConfigError) as exc:
        connection_create(
            workspace=workspace,
            role="source",
            connector_type="duckdb",
            name="wh",
            config={"path": "/x.duckdb", "colour": "blue"},
        )
    assert "colour" in exc.value.details
    with pytest.raises(ConfigError) as exc:
        connection_create(workspace=workspace, role="source", connector_type="duckdb", name="wh", config={})
    assert "path" in exc.value.details


def test_unknown_connector_type_is_named(workspace):
    with pytest.raises(UnknownConnectorError, match="teradata"):
        connection_create(workspace=workspace, role="source", connector_type="teradata", name="x", config={})


def test_secrets_are_split_from_config(workspace, sandbox_path):
    conn = connection_create(
        workspace=workspace,
        role="destination",
        connector_type="sandbox",
        name="crm",
        config={"path": sandbox_path, "api_token": "tok-123"},
    )
    assert conn.config == {"path": sandbox_path}
    assert conn.secrets == {"api_token": "tok-123"}
    assert conn.secret_fields_set == ["api_token"]
    # and the plugin gets them back together
    assert connector_for(conn).config.api_token.get_secret_value() == "tok-123"


def test_first_source_becomes_default_and_only_one_default(workspace, tmp_path):
    first = connection_create(
        workspace=workspace,
        role="source",
        connector_type="duckdb",
        name="a",
        config={"path": str(tmp_path / "a.duckdb")},
    )
    assert first.is_default
    second = connection_create(
        workspace=workspace,
        role="source",
        connector_type="duckdb",
        name="b",
        config={"path": str(tmp_path / "b.duckdb")},
        is_default=True,
    )
    first.refresh_from_db()
    assert second.is_default and not first.is_default
    with pytest.raises(IntegrityError), transaction.atomic():
        Connection.objects.filter(pk=first.pk).update(is_default=True)


def test_names_are_unique_per_role(workspace, sandbox_path):
    connection_create(
        workspace=workspace,
        role="destination",
        connector_type="sandbox",
        name="crm",
        config={"path": sandbox_path},
    )
    with pytest.raises(ValueError, match="already exists"):
        connection_create(
            workspace=workspace,
            role="destination",
            connector_type="sandbox",
            name="crm",
            config={"path": sandbox_path},
        )


def test_check_records_status(workspace, tmp_path):
    conn = connection_create(
        workspace=workspace,
        role="source",
        connector_type="duckdb",
        name="missing",
        config={"path": str(tmp_path / "nope.duckdb")},
    )
    result = connection_check(connection=conn)
    assert not result.ok and "not found" in result.message
    conn.refresh_from_db()
    assert conn.status == ConnectionStatus.ERROR and conn.checked_at is not None
