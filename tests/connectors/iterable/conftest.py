"""Fixtures of the Iterable connector tests: a running fake project and a destination on it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from apps.connectors.destinations.iterable import IterableDestination
from apps.connectors.registry import parse_config
from tests.fakes.iterable import API_KEY, FakeIterable


@pytest.fixture
def fake() -> Iterator[FakeIterable]:
    with FakeIterable() as running:
        running.rate_limit_reset = 0  # tests need not wait for Iterable's token bucket
        yield running


def make_destination(fake: FakeIterable, **config) -> IterableDestination:
    parsed = parse_config("destination", "iterable", {"api_key": API_KEY, "base_url": fake.url, **config})
    return IterableDestination(parsed, allow_private=True)


@pytest.fixture
def iterable(fake) -> Iterator[IterableDestination]:
    destination = make_destination(fake)
    yield destination
    destination.close()
