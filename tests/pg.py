"""A throwaway PostgreSQL database on the local server, for tests that need a real warehouse.

PostgreSQL must run at 127.0.0.1:5432 (user postgres, trust auth): a missing server fails the
test, it never skips it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from psycopg import sql as pgsql

SERVER = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}


def admin_connect() -> psycopg.Connection:
    try:
        return psycopg.connect(**SERVER, dbname="postgres", autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL must run at 127.0.0.1:5432 (user postgres, trust auth): {exc}")


@contextmanager
def throwaway_database(setup_sql: str = "") -> Iterator[str]:
    name = f"syncline_test_{uuid.uuid4().hex[:12]}"
    with admin_connect() as admin:
        admin.execute(pgsql.SQL("CREATE DATABASE {}").format(pgsql.Identifier(name)))
    try:
        if setup_sql:
            with psycopg.connect(**SERVER, dbname=name, autocommit=True) as con:
                con.execute(setup_sql)
        yield name
    finally:
        with admin_connect() as admin:
            admin.execute(pgsql.SQL("DROP DATABASE {} WITH (FORCE)").format(pgsql.Identifier(name)))


def execute(database: str, sql: str) -> None:
    with psycopg.connect(**SERVER, dbname=database, autocommit=True) as con:
        con.execute(sql)
