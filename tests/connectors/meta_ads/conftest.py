from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from apps.connectors.destinations.meta_ads import MetaAdsDestination
from apps.connectors.registry import parse_config
from tests.fakes.meta_ads import TOKEN, FakeAudience, FakeMetaAds

ACCOUNT = "1234567890"
AUDIENCE = "23851111111111111"


@pytest.fixture(autouse=True)
def private_destinations_allowed(settings):
    settings.SYNCLINE_ALLOW_PRIVATE_DESTINATIONS = True
    settings.SYNCLINE_RETRY_BASE_DELAY = 0.01


@pytest.fixture
def fake() -> Iterator[FakeMetaAds]:
    audiences = [
        FakeAudience(AUDIENCE, "Newsletter subscribers"),
        FakeAudience("23852222222222222", "Site visitors", subtype="WEBSITE"),
        FakeAudience("23853333333333333", "Buyers 2025"),
        FakeAudience("23854444444444444", "Lookalike (US, 1%)", subtype="LOOKALIKE"),
        FakeAudience("23855555555555555", "Flagged list", flagged=True),
    ]
    with FakeMetaAds(ad_account_id=ACCOUNT, audiences=audiences, page_size=2) as running:
        yield running


def config_for(fake: FakeMetaAds | type, **overrides) -> dict:
    return {"ad_account_id": f"act_{ACCOUNT}", "access_token": TOKEN, "base_url": fake.url, **overrides}


@pytest.fixture
def make(fake) -> Callable[..., MetaAdsDestination]:
    made: list[MetaAdsDestination] = []

    def build(**overrides) -> MetaAdsDestination:
        config = parse_config("destination", "meta_ads", config_for(fake, **overrides))
        destination = MetaAdsDestination(config)
        made.append(destination)
        return destination

    yield build
    for destination in made:
        destination.close()
