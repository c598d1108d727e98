"""Bearer API keys: 401 for a missing, malformed or revoked key; 403 for a missing scope."""

from __future__ import annotations

from dataclasses import dataclass

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from apps.accounts.models import ApiKey, Workspace
from apps.accounts.services import api_key_authenticate


@dataclass(frozen=True)
class ApiPrincipal:
    """Who is calling: an API key of one workspace. Stands in for ``request.user``."""

    api_key: ApiKey

    @property
    def workspace(self) -> Workspace:
        return self.api_key.workspace

    @property
    def name(self) -> str:
        return f"api key {self.api_key.name} ({self.api_key.prefix})"

    is_authenticated = True


class BearerKeyAuthentication(BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[ApiPrincipal, ApiKey] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None  # -> NotAuthenticated (401) from the permission check
        scheme, _, raw = header.partition(" ")
        if scheme.lower() != "bearer" or not raw.strip():
            raise exceptions.AuthenticationFailed("The Authorization header must be 'Bearer <api key>'.")
        api_key = api_key_authenticate(raw.strip())
        if api_key is None:
            raise exceptions.AuthenticationFailed("The API key is not valid or has been revoked.")
        return ApiPrincipal(api_key), api_key

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="syncline"'


class HasScope(BasePermission):
    """The key must hold the view's ``required_scope`` (or ``*``)."""

    def has_permission(self, request: Request, view: object) -> bool:
        principal = getattr(request, "user", None)
        if not isinstance(principal, ApiPrincipal):
            raise exceptions.NotAuthenticated(
                "An API key is required: send 'Authorization: Bearer <api key>'."
            )
        scope = getattr(view, "required_scope", None)
        if scope and not principal.api_key.has_scope(scope):
            raise exceptions.PermissionDenied(f"This API key lacks the '{scope}' scope.")
        return True
