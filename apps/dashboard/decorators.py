from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from apps.dashboard.workspace import current_membership


def workspace_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Sign-in required, and a workspace membership; passes ``membership`` to the view."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        membership = current_membership(request)
        if membership is None:
            return render(request, "dashboard/no_workspace.html", status=403)
        return view(request, *args, membership=membership, **kwargs)

    return wrapper
