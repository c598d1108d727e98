"""API test clients."""

from __future__ import annotations

from rest_framework.test import APIClient


def client_for(raw_key: str | None, client: APIClient | None = None) -> APIClient:
    """An API client sending ``Authorization: Bearer <raw_key>`` (none when ``raw_key`` is empty)."""
    client = client or APIClient()
    if raw_key:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client
