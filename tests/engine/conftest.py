"""The engine's fixtures are shared with the API tests: see tests/engine_fixtures.py."""

from tests.engine_fixtures import run_now

__all__ = ["run_now"]
