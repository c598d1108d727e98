"""The one place that reads the environment.

Every setting that can change between machines comes from here. The embedded defaults need no
server: SQLite under ``var/``, Celery's ``filesystem://`` broker, a DuckDB demo warehouse.
Production supplies URLs instead (see ``.env.example``).
"""

from __future__ import annotations

import secrets
from pathlib import Path

import environ
from cryptography.fernet import Fernet

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A local .env file is optional; real environment variables always win over it.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

VAR_DIR = Path(env.str("SYNCLINE_VAR_DIR", default=str(BASE_DIR / "var"))).resolve()


def ensure_var_dir() -> Path:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    return VAR_DIR


def generated_secret(filename: str, make: callable) -> str:  # type: ignore[valid-type]
    """Return a development secret kept in ``var/``, generating it on first use.

    Generated once so that sessions, API keys and encrypted secrets survive restarts of the
    embedded product. Production settings never call this: they demand real values.
    """
    path = ensure_var_dir() / filename
    if not path.exists():
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


def dev_secret_key() -> str:
    return generated_secret("secret_key", lambda: secrets.token_urlsafe(50))


def dev_encryption_key() -> str:
    return generated_secret("encryption_key", lambda: Fernet.generate_key().decode())


def embedded_database_url() -> str:
    return f"sqlite:///{ensure_var_dir() / 'syncline.sqlite3'}"


def embedded_broker_url() -> str:
    return "filesystem://"


def embedded_result_backend() -> str:
    results = ensure_var_dir() / "celery" / "results"
    results.mkdir(parents=True, exist_ok=True)
    return f"file://{results}"
