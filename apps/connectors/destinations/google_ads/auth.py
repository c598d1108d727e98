"""OAuth 2.0 access tokens for the Google Ads API, obtained with the connection's refresh token.

The token endpoint takes a form POST (``grant_type=refresh_token``, ``client_id``,
``client_secret``, ``refresh_token``) and answers ``{"access_token", "expires_in", "token_type"}``,
or ``{"error": "invalid_grant" | "invalid_client" | …, "error_description"}``
(https://developers.google.com/identity/protocols/oauth2/web-server#offline,
https://developers.google.com/google-ads/api/docs/oauth/overview). An access token lives about an
hour: it is cached, renewed a minute before it expires, and renewed early once when the API
answers 401 (revoked or rotated token).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson

from apps.connectors.base import ConnectorError, ErrorCode
from apps.connectors.http import redact, safe_url

# Renew this long before Google's expiry, so no request leaves with a token about to lapse.
EXPIRY_MARGIN_SECONDS = 60.0
_TOKEN_ERRORS = {
    "invalid_grant": "the refresh token is expired or revoked (or was issued to another client): "
    "authorise the connection again",
    "invalid_client": "client_id / client_secret are not a valid OAuth client",
    "unauthorized_client": "this OAuth client may not use refresh tokens",
    "invalid_scope": "the refresh token was not granted the https://www.googleapis.com/auth/adwords scope",
}


class AccessTokens:
    """A cached access token, fetched on first use and whenever it expires or is refused."""

    def __init__(self, fetch: Callable[[], tuple[str, float]], clock: Callable[[], float] = time.monotonic):
        self._fetch = fetch
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0
        self.seen: list[str] = []  # every token obtained, for redaction

    def get(self) -> str:
        with self._lock:
            if self._token is None or self._clock() >= self._expires_at:
                token, lifetime = self._fetch()
                self._token = token
                self._expires_at = self._clock() + max(0.0, lifetime - EXPIRY_MARGIN_SECONDS)
                self.seen.append(token)
            return self._token

    def invalidate(self, token: str) -> None:
        """Forget ``token`` (refused by the API) unless another thread already replaced it."""
        with self._lock:
            if self._token == token:
                self._token = None

    @property
    def current(self) -> str | None:
        return self._token


Send = Callable[..., httpx.Response]


def fetch_token(
    send: Send, token_url: str, client_id: str, client_secret: str, refresh_token: str, secrets: Iterable[str]
) -> tuple[str, float]:
    """(access token, lifetime in seconds) from the token endpoint; refusals raise auth_failed."""
    form = {
        "grant_type": "refresh_token",
        "client_id": client_id,
        "client_secret": client_secret,
        "refresh_token": refresh_token,
    }
    response = send(
        "POST",
        token_url,
        content=urlencode(form).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        accept=(400, 401, 403),
        authenticate=False,
    )
    body = _json(response)
    if response.status_code != 200:
        raise _refused(response, body, list(secrets))
    token = body.get("access_token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        raise ConnectorError(
            f"The token endpoint {safe_url(token_url)} answered without an access_token",
            code=ErrorCode.AUTH_FAILED,
            status=response.status_code,
        )
    lifetime = body.get("expires_in")
    return token, float(lifetime) if isinstance(lifetime, int | float) else 3600.0


def _json(response: httpx.Response) -> Any:
    try:
        return orjson.loads(response.content) if response.content else None
    except orjson.JSONDecodeError:
        return None


def _refused(response: httpx.Response, body: Any, secrets: list[str]) -> ConnectorError:
    error = body.get("error") if isinstance(body, dict) else None
    description = body.get("error_description") if isinstance(body, dict) else None
    said = ": ".join(str(p) for p in (error, description) if p) or response.reason_phrase
    advice = _TOKEN_ERRORS.get(str(error), "check client_id, client_secret and refresh_token")
    return ConnectorError(
        redact(f"Google refused the OAuth refresh ({said}): {advice}", secrets),
        code=ErrorCode.AUTH_FAILED,
        status=response.status_code,
        retryable=False,
    )
