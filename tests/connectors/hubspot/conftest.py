"""Fixtures of the HubSpot connector tests: a running fake and destinations pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from apps.connectors.destinations.hubspot import HubSpotDestination
from apps.connectors.registry import parse_config
from tests.fakes.hubspot import TOKEN, FakeHubSpot


@pytest.fixture
def fake() -> Iterator[FakeHubSpot]:
    with FakeHubSpot() as running:
        yield running


@pytest.fixture
def connect(fake: FakeHubSpot) -> Iterator[Callable[..., HubSpotDestination]]:
    opened: list[HubSpotDestination] = []

    def make(**config: Any) -> HubSpotDestination:
        values = {"access_token": TOKEN, "base_url": fake.url, **config}
        destination = HubSpotDestination(parse_config("destination", "hubspot", values), allow_private=True)
        opened.append(destination)
        return destination

    yield make
    for destination in opened:
        destination.close()


@pytest.fixture
def hubspot(connect) -> HubSpotDestination:
    return connect()
