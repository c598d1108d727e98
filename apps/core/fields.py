"""Model fields shared by the apps."""

from __future__ import annotations

from typing import Any

from django.db import models

from apps.core import crypto
from apps.core.ids import IdFactory

ID_MAX_LENGTH = 40


def PrefixedIdField(prefix: str, **kwargs: Any) -> models.CharField:
    """Primary key holding a prefixed ULID (see ``apps.core.ids``)."""
    return models.CharField(
        primary_key=True, max_length=ID_MAX_LENGTH, default=IdFactory(prefix), editable=False, **kwargs
    )


class EncryptedJSONField(models.TextField):
    """A JSON object stored encrypted (Fernet, key from SYNCLINE_ENCRYPTION_KEY).

    The database only ever sees ciphertext. Reading gives a dict back; the field is not editable
    in forms or the admin, so secrets are never rendered into a page.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("default", dict)
        kwargs.setdefault("blank", True)
        kwargs["editable"] = False
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> tuple:
        name, path, args, kwargs = super().deconstruct()
        kwargs.pop("editable", None)
        return name, path, args, kwargs

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> dict:
        if not value:
            return {}
        return crypto.decrypt_json(value)

    def to_python(self, value: Any) -> dict:
        if isinstance(value, dict):
            return value
        if not value:
            return {}
        return crypto.decrypt_json(value)

    def get_prep_value(self, value: Any) -> str:
        return crypto.encrypt_json(value or {})
