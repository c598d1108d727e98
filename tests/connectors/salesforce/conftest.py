"""Fixtures of the Salesforce destination tests: a running fake org and connectors pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from apps.connectors.destinations.salesforce import SalesforceDestination
from apps.connectors.registry import parse_config
from tests.fakes.salesforce import FakeSalesforce


@pytest.fixture(autouse=True)
def private_destinations_allowed(settings):
    settings.SYNCLINE_ALLOW_PRIVATE_DESTINATIONS = True


@pytest.fixture
def org() -> Iterator[FakeSalesforce]:
    with FakeSalesforce() as fake:
        yield fake


def connect(org: FakeSalesforce, **config: Any) -> SalesforceDestination:
    data = {"login_url": org.url, "auth": org.client_credentials(), **config}
    return SalesforceDestination(parse_config("destination", "salesforce", data))


@pytest.fixture
def make(org) -> Iterator[Callable[..., SalesforceDestination]]:
    made: list[SalesforceDestination] = []

    def build(**config: Any) -> SalesforceDestination:
        made.append(connect(org, **config))
        return made[-1]

    yield build
    for destination in made:
        destination.close()


@pytest.fixture
def sf(make) -> SalesforceDestination:
    return make()
