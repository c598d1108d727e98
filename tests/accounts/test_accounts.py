import pytest
from django.db import IntegrityError, transaction

from apps.accounts.models import ApiKey, Membership
from apps.accounts.scopes import validate_scopes
from apps.accounts.services import (
    api_key_authenticate,
    api_key_create,
    api_key_revoke,
    hash_key,
    membership_set,
    workspace_create,
)

pytestmark = pytest.mark.django_db


def test_workspace_slug_must_be_clean_and_unique(workspace):
    with pytest.raises(ValueError, match="already exists"):
        workspace_create(slug="acme")
    with pytest.raises(ValueError, match="lower-case"):
        workspace_create(slug="Not A Slug")


def test_membership_is_unique_per_user_and_workspace(workspace, admin_user):
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(workspace=workspace, user=admin_user, role="analyst")


def test_membership_role_is_constrained_in_the_database(workspace, admin_user, other_workspace):
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(workspace=other_workspace, user=admin_user, role="owner")


def test_membership_set_changes_role_idempotently(workspace):
    membership_set(workspace=workspace, username="bo", role="support", password="pw-bo-12345")
    again = membership_set(workspace=workspace, username="bo", role="analyst")
    assert again.role == "analyst"
    assert Membership.objects.filter(workspace=workspace, user__username="bo").count() == 1
    assert again.user.check_password("pw-bo-12345")  # a role change keeps the password


def test_api_key_is_stored_only_as_a_hash(workspace):
    issued = api_key_create(workspace=workspace, name="ci", scopes=["syncs:read"])
    stored = ApiKey.objects.get(pk=issued.api_key.pk)
    assert issued.raw_key.startswith(f"sl_{stored.prefix}_")
    assert stored.hashed_key == hash_key(issued.raw_key)
    assert issued.raw_key not in str(ApiKey.objects.filter(pk=stored.pk).values().first())


def test_api_key_authenticates_and_records_last_use(workspace):
    issued = api_key_create(workspace=workspace, name="ci", scopes=["*"])
    assert issued.api_key.last_used_at is None
    key = api_key_authenticate(issued.raw_key)
    assert key is not None and key.pk == issued.api_key.pk
    assert ApiKey.objects.get(pk=key.pk).last_used_at is not None


@pytest.mark.parametrize(
    "mangle",
    [
        lambda raw: raw[:-1] + ("A" if raw[-1] != "A" else "B"),  # wrong secret
        lambda raw: raw.replace("sl_", "xx_", 1),  # wrong scheme
        lambda raw: "sl_deadbeef_" + raw.split("_", 2)[2],  # unknown prefix
        lambda raw: "",  # empty
        lambda raw: "sl__",  # malformed
    ],
)
def test_bad_keys_do_not_authenticate(workspace, mangle):
    issued = api_key_create(workspace=workspace, name="ci", scopes=["*"])
    assert api_key_authenticate(mangle(issued.raw_key)) is None


def test_revoked_key_no_longer_authenticates_or_grants(workspace):
    issued = api_key_create(workspace=workspace, name="ci", scopes=["*"])
    api_key_revoke(api_key=issued.api_key)
    assert api_key_authenticate(issued.raw_key) is None
    assert not issued.api_key.has_scope("syncs:read")


def test_scope_checks(workspace):
    reader = api_key_create(workspace=workspace, name="r", scopes=["syncs:read", "dlq:read"]).api_key
    assert reader.has_scope("syncs:read")
    assert reader.has_scope("dlq:read")
    assert not reader.has_scope("syncs:write")
    assert not reader.has_scope("dlq:write")
    everything = api_key_create(workspace=workspace, name="all", scopes=["*"]).api_key
    assert everything.has_scope("connections:write")


def test_unknown_scopes_are_refused_by_name():
    with pytest.raises(ValueError, match="syncs:destroy"):
        validate_scopes(["syncs:read", "syncs:destroy"])
    assert validate_scopes(["dlq:read", "syncs:read", "dlq:read"]) == ["syncs:read", "dlq:read"]
    assert validate_scopes(["*", "dlq:read"]) == ["*"]
