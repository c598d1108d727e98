"""The base of every API view: Bearer key auth, scope check, per-key rate limit headers."""

from __future__ import annotations

import re
from typing import Any

from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.api import ratelimit
from apps.api.auth import ApiPrincipal, BearerKeyAuthentication, HasScope
from apps.api.errors import invalid_request, not_found

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def snake_case(name: str) -> str:
    return _CAMEL.sub("_", name).lower()


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def refuse_nul_characters(request: Request) -> None:
    """No text stored or looked up may contain NUL: PostgreSQL cannot hold it, and no id, name,
    query or value of ours has one. Refused as bad input (400), not discovered by the database."""
    for name, values in request.query_params.lists():
        if _has_nul(name) or _has_nul(values):
            raise invalid_request(
                f"The query parameter {name!r} contains a NUL character.", {name: ["NUL character."]}
            )
    if request.content_type and "json" in request.content_type and _has_nul(request.data):
        raise invalid_request("The request body contains a NUL character (\\u0000).")


def query_bool(request: Request, name: str, default: bool) -> bool:
    """A true/false query parameter (also 1/0); anything else is a 400 naming it."""
    raw = request.query_params.get(name, "")
    if raw == "":
        return default
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise invalid_request(f"{name} must be true or false.", {name: [f"Got {raw!r}; use true or false."]})


class ApiView(APIView):
    authentication_classes = [BearerKeyAuthentication]
    permission_classes = [HasScope]
    required_scope: str | None = None

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # authentication and scope first
        state = ratelimit.hit(request.user.api_key.pk)
        request.rate_limit = state
        if state.exceeded:
            raise exceptions.Throttled(
                wait=state.retry_after(), detail="Rate limit exceeded for this API key."
            )
        if _has_nul(list(kwargs.values())):
            raise not_found("Not found.")  # no id has a NUL character
        refuse_nul_characters(request)

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        state = getattr(request, "rate_limit", None)
        if state is not None:
            for header, value in state.headers().items():
                response[header] = value
        return response

    @property
    def principal(self) -> ApiPrincipal:
        return self.request.user

    @property
    def workspace(self):
        return self.principal.workspace

    def payload(self) -> dict[str, Any]:
        """The JSON body as a dict with snake_case keys (camelCase, as in the vendor docs, too)."""
        data = self.request.data
        if not isinstance(data, dict):
            raise invalid_request("The request body must be a JSON object.")
        return {snake_case(k): v for k, v in data.items()}
