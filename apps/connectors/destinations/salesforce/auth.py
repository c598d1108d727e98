"""OAuth 2.0 sessions for the Salesforce destination: get an access token, keep it, renew it once.

The token request is ``POST {login_url}/services/oauth2/token`` with a form-encoded body
(https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_client_credentials_flow.htm,
https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_refresh_token_flow.htm). The
answer carries ``access_token`` and ``instance_url``; Salesforce sends no expiry (a session lasts
as long as the org's session timeout), so the token is kept until the API says
``INVALID_SESSION_ID`` and then renewed once. Failures come back as ``{"error",
"error_description"}`` with HTTP 400 and are turned into ``auth_failed`` errors that say what to fix.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson

from apps.connectors.base import ConnectorError, ErrorCode
from apps.connectors.destinations.salesforce.config import (
    ClientCredentialsAuth,
    RefreshTokenAuth,
    SalesforceConfig,
)
from apps.connectors.http import redact
from apps.connectors.vendor import check_base_url

TOKEN_PATH = "/services/oauth2/token"
_FORM = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}

# What each OAuth error means for the person configuring the connection.
_HINTS = {
    "invalid_client": "check the consumer key and secret of the connected app",
    "invalid_client_id": "check the consumer key (client_id) of the connected app",
    "invalid_client_credentials": "check the consumer key and secret of the connected app",
    "unauthorized_client": "the connected app is not allowed to use this OAuth flow",
    "unsupported_grant_type": "enable this OAuth flow on the connected app",
    "inactive_user": "the integration user is inactive",
    "inactive_org": "the org is locked, closed or suspended",
}


@dataclass(frozen=True)
class Session:
    access_token: str
    instance_url: str


Send = Callable[..., httpx.Response]


class TokenProvider:
    """One access token per destination instance, shared by its threads, renewed on demand."""

    def __init__(
        self,
        config: SalesforceConfig,
        send: Send,
        secrets: Callable[[], list[str]],
        rotated: Callable[[str], None] = lambda token: None,
    ) -> None:
        self._config = config
        self._send = send  # VendorDestination.request: SSRF guard, classified transport errors
        self._secrets = secrets
        self._rotated = rotated  # told each new refresh token, before it is used
        self._lock = threading.Lock()
        self._session: Session | None = None
        # Refresh tokens rotate when the app enables rotation: keep the newest for this instance.
        self._refresh_token: str | None = None
        self.issued: list[str] = []  # every token obtained, for redaction

    @property
    def token_url(self) -> str:
        return self._config.login_url + TOKEN_PATH

    def session(self) -> Session:
        with self._lock:
            if self._session is None:
                self._session = self._fetch()
            return self._session

    def invalidate(self, stale: Session) -> None:
        """Forget ``stale`` (answered 401); a newer session another thread got is kept."""
        with self._lock:
            if self._session is stale:
                self._session = None

    # --- token request -----------------------------------------------------------------------
    def _form(self) -> dict[str, str]:
        auth = self._config.auth
        form = {"client_id": auth.client_id}
        if auth.client_secret is not None:
            form["client_secret"] = auth.client_secret.get_secret_value()
        if isinstance(auth, ClientCredentialsAuth):
            form["grant_type"] = "client_credentials"
        else:
            assert isinstance(auth, RefreshTokenAuth)
            form["grant_type"] = "refresh_token"
            form["refresh_token"] = self._current_refresh_token() or ""
        return form

    def _fetch(self) -> Session:
        try:
            response = self._send(
                "POST",
                self.token_url,
                content=urlencode(self._form()).encode(),
                headers=_FORM,
                authenticate=False,
                accept=range(400, 500),
            )
        except ConnectorError as exc:
            if exc.code == ErrorCode.DESTINATION_UNAVAILABLE and exc.status is None:
                raise ConnectorError(
                    f"Salesforce login endpoint {self._config.login_url} is not reachable: {exc.message}",
                    code=exc.code,
                    retryable=True,
                ) from None
            raise
        body = _json(response)
        if response.status_code >= 400:
            raise self._refused(response.status_code, body)
        token = body.get("access_token") if isinstance(body, dict) else None
        instance = body.get("instance_url") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise ConnectorError(
                f"The token response of {self.token_url} has no access_token "
                "(is login_url a Salesforce login URL?)",
                code=ErrorCode.AUTH_FAILED,
                status=response.status_code,
            )
        self.issued.append(token)
        rotated = body.get("refresh_token")
        if isinstance(rotated, str) and rotated and rotated != self._current_refresh_token():
            # With rotation on, Salesforce has just invalidated the token we sent: this one is
            # the only one that works now, for this instance and every later one.
            self._refresh_token = rotated
            self.issued.append(rotated)
            self._rotated(rotated)
        return Session(token, self._instance(instance))

    def _current_refresh_token(self) -> str | None:
        auth = self._config.auth
        if not isinstance(auth, RefreshTokenAuth):
            return None
        return self._refresh_token or auth.refresh_token.get_secret_value()

    def _instance(self, from_token: Any) -> str:
        if self._config.instance_url:
            return self._config.instance_url
        try:
            url = check_base_url(from_token) if isinstance(from_token, str) else None
        except ValueError:
            url = None
        if url is None:
            raise ConnectorError(
                "The token response names no usable instance_url; set instance_url in the config",
                code=ErrorCode.AUTH_FAILED,
            )
        return url

    def _refused(self, status: int, body: Any) -> ConnectorError:
        error = str(body.get("error") or "") if isinstance(body, dict) else ""
        detail = str(body.get("error_description") or "") if isinstance(body, dict) else ""
        said = redact(f"{error}: {detail}" if detail else error or f"HTTP {status}", self._secrets())
        hint = _HINTS.get(error, "")
        if error == "invalid_grant":
            if isinstance(self._config.auth, RefreshTokenAuth):
                hint = "the refresh token is invalid, expired or revoked: authorise the app again"
            elif "domain" in detail.lower():
                hint = "use the org's My Domain URL as login_url for the client credentials flow"
            else:
                hint = "check that the client credentials flow is enabled with a run-as user"
        if error == "rate_limit_exceeded":
            return ConnectorError(
                f"Salesforce login at {self.token_url} is rate limited: {said}",
                code=ErrorCode.RATE_LIMITED,
                status=status,
                retryable=True,
            )
        if not error:
            hint = "is login_url a Salesforce login URL?"
        message = f"Salesforce login failed at {self.token_url} ({said})"
        return ConnectorError(
            f"{message}: {hint}" if hint else message, code=ErrorCode.AUTH_FAILED, status=status
        )


def _json(response: httpx.Response) -> Any:
    try:
        return orjson.loads(response.content) if response.content else None
    except orjson.JSONDecodeError:
        return None
