"""Connections may only name server files inside SYNCLINE_DATA_DIRECTORIES (apps/connectors/data_paths)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from django.conf import settings

from apps.accounts.services import api_key_create
from apps.connectors.registry import ConfigError, parse_config
from tests.api.clients import client_for
from tests.engine.conftest import run_now

pytestmark = pytest.mark.django_db


@pytest.fixture
def data_dir(settings, tmp_path) -> Path:
    """One data directory, and a sibling outside it that only shares its name's prefix."""
    inside = tmp_path / "srv" / "data"
    inside.mkdir(parents=True)
    (tmp_path / "srv" / "data-private").mkdir()
    settings.SYNCLINE_DATA_DIRECTORIES = [str(inside)]
    return inside


def refused(role: str, connector: str, config: dict) -> dict[str, list[str]]:
    with pytest.raises(ConfigError) as exc:
        parse_config(role, connector, config)
    return exc.value.details


@pytest.mark.parametrize(
    ("role", "connector", "field"),
    [("source", "duckdb", "path"), ("source", "sqlite", "path"), ("destination", "sandbox", "path")],
)
def test_a_file_outside_the_data_directories_is_refused_with_them_named(data_dir, role, connector, field):
    outside = str(Path(settings.SYNCLINE_VAR_DIR) / "syncline.sqlite3")  # e.g. the app database
    details = refused(role, connector, {field: outside})
    message = " ".join(details[field])
    assert "outside the server's data directories" in message and str(data_dir) in message
    # Inside, the same connector is fine.
    assert parse_config(role, connector, {field: str(data_dir / "file.db")})


def test_dot_dot_symlinks_and_name_prefixes_do_not_get_out(data_dir):
    escape = data_dir.parent / "data-private" / "secret.duckdb"
    for path in (
        f"{data_dir}/../data-private/secret.duckdb",  # climbs out
        str(escape),  # /srv/data-private is not inside /srv/data
    ):
        assert "path" in refused("source", "duckdb", {"path": path})
    link = data_dir / "innocent.duckdb"
    link.symlink_to(escape)  # a link inside pointing outside: judged by where it leads
    assert "path" in refused("source", "duckdb", {"path": str(link)})
    assert "path" in refused("source", "duckdb", {"path": "relative/file.duckdb"})


def test_a_duckdb_source_reads_files_only_from_folders_inside_the_data_directories(data_dir):
    assert "allowed_directories" in refused(
        "source", "duckdb", {"path": ":memory:", "allowed_directories": ["/etc"]}
    )
    config = parse_config(
        "source", "duckdb", {"path": ":memory:", "allowed_directories": [str(data_dir / "lake")]}
    )
    assert config.allowed_directories == [f"{data_dir}/lake/"]


def test_the_api_refuses_a_path_outside_with_the_field_named(data_dir, workspace):
    api = client_for(api_key_create(workspace=workspace, name="ops", scopes=["*"]).raw_key)
    response = api.post(
        "/api/reverse-etl/sources",
        {"name": "wh", "type": "duckdb", "config": {"path": "/etc/passwd"}},
        format="json",
    )
    assert response.status_code == 400
    details = response.json()["error"]["details"]
    assert "outside the server's data directories" in " ".join(details["config.path"])


def test_a_stored_config_outside_a_narrowed_setting_fails_the_run_with_the_reason(
    make_sync, warehouse, settings
):
    sync = make_sync()
    assert run_now(sync).status == "succeeded"
    settings.SYNCLINE_DATA_DIRECTORIES = [str(Path(settings.SYNCLINE_VAR_DIR) / "data")]
    run = run_now(sync)
    assert run.status == "failed" and run.error_code == "validation_failed"
    assert "no longer valid" in run.error_message
    assert "outside the server's data directories" in run.error_message
    with duckdb.connect(str(warehouse.path), read_only=True) as con:  # the warehouse was not touched
        assert con.execute("SELECT count(*) FROM customers").fetchall()[0][0] == 250
