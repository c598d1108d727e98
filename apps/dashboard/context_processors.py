from django.http import HttpRequest

from apps.dashboard.workspace import current_membership


def workspace(request: HttpRequest) -> dict:
    membership = current_membership(request)
    return {
        "membership": membership,
        "workspace": membership.workspace if membership else None,
    }
