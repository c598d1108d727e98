"""Which workspace a signed-in user is looking at, and with which role."""

from __future__ import annotations

from django.http import HttpRequest

from apps.accounts.models import Membership

SESSION_KEY = "workspace_id"


def current_membership(request: HttpRequest) -> Membership | None:
    """The membership for the session's workspace, else the user's first one (and remember it)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    cached = getattr(request, "_syncline_membership", None)
    if cached is not None:
        return cached
    memberships = Membership.objects.select_related("workspace").filter(user=user).order_by("created_at")
    wanted = request.session.get(SESSION_KEY)
    membership = (memberships.filter(workspace_id=wanted).first() if wanted else None) or memberships.first()
    if membership is not None:
        request.session[SESSION_KEY] = membership.workspace_id
    request._syncline_membership = membership  # type: ignore[attr-defined]
    return membership
