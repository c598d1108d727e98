"""What a connector provides to the shared conformance suite: one ``ConformanceCase``.

Each connector adds a module ``case_<type>.py`` next to this one that defines ``CASE``; the suite
(``test_conformance.py``) finds every such module, and also fails if a registered destination has
no case, so a new connector cannot skip the suite.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ConformanceCase:
    connector_type: str
    # A started fake of the vendor's API (a context manager yielding it), exposing ``url``.
    fake: Callable[[], AbstractContextManager[Any]]
    # A valid config (secrets included) pointing at the fake.
    config: Callable[[Any], dict[str, Any]]
    # A config the fake refuses with the vendor's 401 (wrong token).
    bad_credentials: Callable[[Any], dict[str, Any]]
    # Make the fake's next write answer with the vendor's 429.
    throttle: Callable[[Any], None]
    object_name: str
    mode: str
    match_key: str | None
    records: list[dict[str, Any]]  # records the fake accepts
    rejected_record: dict[str, Any]  # a record the fake rejects per record (2xx/207 with an error)
    # Connectors without a catalog of typed fields (custom HTTP) set this.
    freeform: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.connector_type


def cases() -> Iterator[ConformanceCase]:
    package = importlib.import_module(__package__)
    for module in pkgutil.iter_modules(package.__path__):
        if module.name.startswith("case_"):
            yield importlib.import_module(f"{__package__}.{module.name}").CASE
