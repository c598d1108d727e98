"""Configs whose secrets sit inside a nested, discriminated ``auth`` object.

The connection store keeps secrets as a flat ``{name: value}`` map next to the public config, so
``split`` stores the auth secrets under dotted names (``auth.token``) and a before-validator folds
those names back into ``auth`` when the stored halves are merged again. A round trip keeps every
value, and the public half never holds one. Used by the custom HTTP and Salesforce configs.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import SecretStr, model_validator

from apps.connectors.base import ConnectorConfig

SECRET_PREFIX = "auth."


class NestedAuthConfig(ConnectorConfig):
    """Base of a config with an ``auth`` field whose models list their ``secret_names``."""

    # auth type -> the secret field names of that auth model
    auth_secrets: ClassVar[dict[str, tuple[str, ...]]] = {}
    # Leave None values out of the public half (the HTTP config keeps them, as the API shows them).
    public_exclude_none: ClassVar[bool] = True

    @classmethod
    def secret_field_names(cls) -> tuple[str, ...]:
        names = dict.fromkeys(n for names in cls.auth_secrets.values() for n in names)
        return tuple(SECRET_PREFIX + n for n in names)

    @model_validator(mode="before")
    @classmethod
    def _fold_stored_secrets(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not any(str(k).startswith(SECRET_PREFIX) for k in data):
            return data
        stored = {
            str(k)[len(SECRET_PREFIX) :]: v for k, v in data.items() if str(k).startswith(SECRET_PREFIX)
        }
        data = {k: v for k, v in data.items() if not str(k).startswith(SECRET_PREFIX)}
        auth = data.get("auth")
        if isinstance(auth, dict):
            auth = dict(auth)
            # Only the configured auth type's secrets; a value given in ``auth`` itself wins (an
            # update that sets a new secret).
            for name in cls.auth_secrets.get(str(auth.get("type")), ()):
                if auth.get(name) in (None, "") and name in stored:
                    auth[name] = stored[name]
            data["auth"] = auth
        return data

    def split(self) -> tuple[dict[str, Any], dict[str, str]]:
        """(public config, secrets): the auth secrets leave ``auth`` for the encrypted column."""
        auth = getattr(self, "auth", None)
        exclude_none = self.public_exclude_none
        public = self.model_dump(mode="json", exclude={"auth"}, exclude_none=exclude_none)
        secrets: dict[str, str] = {}
        if auth is None:
            public["auth"] = None
            return public, secrets
        names = set(auth.secret_names)
        public["auth"] = auth.model_dump(mode="json", exclude=names, exclude_none=exclude_none)
        for name in sorted(names):
            value = getattr(auth, name)
            if isinstance(value, SecretStr):
                secrets[SECRET_PREFIX + name] = value.get_secret_value()
        return public, secrets

    def secret_values(self) -> list[str]:
        auth = getattr(self, "auth", None)
        if auth is None:
            return []
        values = (getattr(auth, n) for n in auth.secret_names)
        return [v.get_secret_value() for v in values if isinstance(v, SecretStr) and v.get_secret_value()]
