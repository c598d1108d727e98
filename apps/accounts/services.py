"""Use cases for workspaces, members and API keys."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from apps.accounts import scopes as scope_rules
from apps.accounts.models import ApiKey, Membership, Role, Workspace

KEY_PREFIX = "sl"  # every Syncline key starts "sl_", so secret scanners can recognise it


def workspace_create(*, slug: str, name: str | None = None) -> Workspace:
    clean = slugify(slug)
    if not clean or clean != slug:
        raise ValueError(f"Workspace slug {slug!r} must be lower-case letters, digits and hyphens.")
    if Workspace.objects.filter(slug=slug).exists():
        raise ValueError(f"A workspace with slug {slug!r} already exists.")
    return Workspace.objects.create(slug=slug, name=name or slug.replace("-", " ").title())


def membership_set(
    *, workspace: Workspace, username: str, role: str, password: str | None = None
) -> Membership:
    """Create the user if needed and give them ``role`` in ``workspace`` (idempotent)."""
    if role not in Role.values:
        raise ValueError(f"Unknown role {role!r}; expected one of {', '.join(Role.values)}.")
    user_model = get_user_model()
    with transaction.atomic():
        user, created = user_model.objects.get_or_create(username=username)
        if created or password is not None:
            if password is not None:
                user.set_password(password)
            else:
                user.set_unusable_password()
            user.is_staff = role == Role.ADMIN
            user.save()
        membership, _ = Membership.objects.update_or_create(
            workspace=workspace, user=user, defaults={"role": role}
        )
    return membership


def hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedKey:
    api_key: ApiKey
    raw_key: str  # shown once, never stored


def api_key_create(*, workspace: Workspace, name: str, scopes: list[str], created_by=None) -> IssuedKey:
    clean_scopes = scope_rules.validate_scopes(scopes or [scope_rules.ALL])
    prefix = secrets.token_hex(4)
    raw_key = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey.objects.create(
        workspace=workspace,
        name=name,
        prefix=prefix,
        hashed_key=hash_key(raw_key),
        scopes=clean_scopes,
        created_by=created_by,
    )
    return IssuedKey(api_key=api_key, raw_key=raw_key)


def api_key_authenticate(raw_key: str) -> ApiKey | None:
    """The active key matching ``raw_key``, or None for a malformed, unknown or revoked key."""
    parts = raw_key.split("_", 2)  # the secret part may itself contain "_"
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[1] or not parts[2]:
        return None
    api_key = ApiKey.objects.select_related("workspace").filter(prefix=parts[1]).first()
    if api_key is None or not hmac.compare_digest(api_key.hashed_key, hash_key(raw_key)):
        return None
    if api_key.revoked_at is not None:
        return None
    # Coarse last-used bookkeeping: one write a minute at most, not one per request.
    now = timezone.now()
    if api_key.last_used_at is None or (now - api_key.last_used_at).total_seconds() > 60:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    return api_key
