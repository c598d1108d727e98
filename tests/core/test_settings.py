"""Production settings refuse to start without real values; the embedded ones generate their own."""

import os
import subprocess
import sys

from django.conf import settings

from tests.conftest import repo_root


def import_settings(module: str, **env: str) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "SYNCLINE_ENCRYPTION_KEY", "ALLOWED_HOSTS"}
    }
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=repo_root(),
        env={**clean, "DJANGO_SETTINGS_MODULE": module, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_refuses_to_start_without_secrets(tmp_path):
    result = import_settings("config.settings.production", SYNCLINE_VAR_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_refuses_placeholder_encryption_key(tmp_path):
    result = import_settings(
        "config.settings.production",
        SYNCLINE_VAR_DIR=str(tmp_path),
        SECRET_KEY="a-real-secret-key-value",
        SYNCLINE_ENCRYPTION_KEY="change-me",
        ALLOWED_HOSTS="syncline.example.com",
    )
    assert result.returncode != 0 and "SYNCLINE_ENCRYPTION_KEY must be set" in result.stderr


def test_production_starts_with_real_values(tmp_path):
    from cryptography.fernet import Fernet

    result = import_settings(
        "config.settings.production",
        SYNCLINE_VAR_DIR=str(tmp_path),
        SECRET_KEY="a-real-secret-key-value",
        SYNCLINE_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        ALLOWED_HOSTS="syncline.example.com",
    )
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "secret_key").exists()  # production never generates secrets


def test_local_settings_generate_secrets_once(tmp_path):
    for _ in range(2):
        result = import_settings("config.settings.local", SYNCLINE_VAR_DIR=str(tmp_path))
        assert result.returncode == 0, result.stderr
    first = (tmp_path / "secret_key").read_text()
    assert len(first) > 40 and (tmp_path / "encryption_key").stat().st_mode & 0o077 == 0
    result = import_settings("config.settings.local", SYNCLINE_VAR_DIR=str(tmp_path))
    assert (tmp_path / "secret_key").read_text() == first


def test_env_example_lists_every_variable():
    text = (repo_root() / ".env.example").read_text()
    for name in (
        "DATABASE_URL",
        "CELERY_BROKER_URL",
        "CELERY_RESULT_BACKEND",
        "SECRET_KEY",
        "SYNCLINE_ENCRYPTION_KEY",
        "ALLOWED_HOSTS",
        "DEBUG",
        "SYNCLINE_VAR_DIR",
    ):
        assert f"{name}=" in text, name
    assert settings.CELERY_TASK_ACKS_LATE
