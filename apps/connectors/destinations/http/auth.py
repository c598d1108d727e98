"""Request authentication for the custom HTTP destination."""

from __future__ import annotations

import base64
import hashlib
import hmac

from apps.connectors.destinations.http.config import ApiKeyAuth, Auth, BasicAuth, BearerAuth, HmacAuth


def static_headers(auth: Auth | None) -> dict[str, str]:
    """Headers that are the same on every request (everything but a body signature)."""
    if isinstance(auth, BearerAuth):
        return {"Authorization": f"Bearer {auth.token.get_secret_value()}"}
    if isinstance(auth, BasicAuth):
        return {"Authorization": f"Basic {_basic_credentials(auth)}"}
    if isinstance(auth, ApiKeyAuth):
        return {auth.header: auth.value.get_secret_value()}
    return {}


def signature_header(auth: Auth | None, body: bytes) -> tuple[str, str] | None:
    """(header, hex HMAC-SHA256 of the exact body bytes) for hmac auth, else None."""
    if not isinstance(auth, HmacAuth):
        return None
    digest = hmac.new(auth.secret.get_secret_value().encode(), body, hashlib.sha256).hexdigest()
    return auth.header, digest


def secret_forms(auth: Auth | None) -> list[str]:
    """Every form in which a credential could show up in text, for redaction."""
    if auth is None:
        return []
    values = [getattr(auth, name).get_secret_value() for name in auth.secret_names]
    if isinstance(auth, BasicAuth):
        values.append(_basic_credentials(auth))
    return [v for v in values if v]


def _basic_credentials(auth: BasicAuth) -> str:
    raw = f"{auth.username}:{auth.password.get_secret_value()}".encode()
    return base64.b64encode(raw).decode("ascii")
