from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from apps.accounts.models import Workspace
from apps.accounts.services import membership_set, workspace_create
from apps.engine import closing

pytest_plugins = ["tests.engine_fixtures"]


@pytest.fixture(autouse=True)
def finished_closing():
    """A run's workbench closes on a thread after the run ends (``apps.engine.closing``): let
    it finish before the test's files and settings go away."""
    yield
    closing.wait_all()


@pytest.fixture(autouse=True)
def data_directories(settings, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Tests keep their warehouses and sandboxes in pytest's temporary folders: let connections
    name files there, besides the defaults (SYNCLINE_DATA_DIRECTORIES)."""
    settings.SYNCLINE_DATA_DIRECTORIES = [
        *settings.SYNCLINE_DATA_DIRECTORIES,
        str(tmp_path_factory.getbasetemp()),
    ]
    return settings.SYNCLINE_DATA_DIRECTORIES


@pytest.fixture
def isolated_var(tmp_path: Path, settings) -> Path:
    """Point the demo warehouse and sandbox storage at a temporary folder."""
    settings.SYNCLINE_DEMO_WAREHOUSE = tmp_path / "demo_warehouse.duckdb"
    settings.SYNCLINE_SANDBOX_DIR = tmp_path / "sandbox"
    return tmp_path


@pytest.fixture
def workspace(db) -> Workspace:
    return workspace_create(slug="acme", name="Acme")


@pytest.fixture
def other_workspace(db) -> Workspace:
    return workspace_create(slug="globex", name="Globex")


@pytest.fixture
def admin_user(workspace):
    return membership_set(workspace=workspace, username="ada", role="admin", password="pw-ada-123").user


@pytest.fixture
def sandbox_path(tmp_path: Path) -> str:
    return str(tmp_path / "sandbox.sqlite3")


def repo_root() -> Path:
    return Path(settings.BASE_DIR)
