"""A running fake Google Ads API and connectors configured against it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from apps.connectors.base import OutgoingBatch
from apps.connectors.destinations.google_ads import GoogleAdsDestination
from apps.connectors.registry import parse_config
from tests.fakes.google_ads import FakeGoogleAds


@pytest.fixture(autouse=True)
def private_destinations_allowed(settings):
    settings.SYNCLINE_ALLOW_PRIVATE_DESTINATIONS = True


@pytest.fixture
def fake() -> Iterator[FakeGoogleAds]:
    with FakeGoogleAds() as running:
        yield running


@pytest.fixture
def contacts(fake) -> str:
    """A contact-info Customer Match list; its ID is the object name."""
    return fake.add_user_list("Newsletter subscribers")


def config_for(fake: FakeGoogleAds, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "customer_id": f"{fake.customer_id[:3]}-{fake.customer_id[3:6]}-{fake.customer_id[6:]}",
        "client_id": fake.client_id,
        "client_secret": fake.client_secret,
        "refresh_token": fake.refresh_token,
        "job_wait_seconds": 5,
        "job_poll_interval_seconds": 0,
    }
    if "base_url" not in overrides:  # a fake that is not running has no URL
        config |= {"base_url": fake.url, "token_url": f"{fake.url}/token"}
    return {**config, **overrides}


@pytest.fixture
def make(fake) -> Callable[..., GoogleAdsDestination]:
    def build(**overrides: Any) -> GoogleAdsDestination:
        config = parse_config("destination", "google_ads", config_for(fake, **overrides))
        return GoogleAdsDestination(config)  # type: ignore[return-value]

    return build


def batch(*records: dict[str, Any]) -> OutgoingBatch:
    return OutgoingBatch.of(list(records))
