"""Section pages of the dashboard shell. Each later issue fills its own section."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from apps.accounts.models import Membership, Role
from apps.audit.models import AuditEvent
from apps.connections.models import Connection
from apps.dashboard.decorators import workspace_required
from apps.dlq.selectors import OPEN_PAGE_KEY, dlq_entries
from apps.runs.models import SyncRun
from apps.syncs.models import Sync


@workspace_required
def home(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    return redirect("dashboard:syncs")


@workspace_required
def syncs(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    items = (
        Sync.objects.filter(workspace=membership.workspace, deleted_at=None)
        .select_related("destination")
        .order_by("-id")[:200]
    )
    return render(request, "dashboard/syncs.html", {"section": "syncs", "syncs": items})


@workspace_required
def runs(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    items = (
        SyncRun.objects.filter(workspace=membership.workspace).select_related("sync").order_by("-id")[:100]
    )
    return render(request, "dashboard/runs.html", {"section": "runs", "runs": items})


@workspace_required
def dlq(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    open_entries = dlq_entries(workspace_id=membership.workspace.pk, resolved=False)
    items = open_entries.select_related("sync").order_by(f"-{OPEN_PAGE_KEY}")[:100]
    return render(
        request,
        "dashboard/dlq.html",
        {"section": "dlq", "entries": items, "open_count": open_entries.count()},
    )


@workspace_required
def connections(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    items = Connection.objects.filter(workspace=membership.workspace).order_by("role", "name")
    return render(request, "dashboard/connections.html", {"section": "connections", "connections": items})


@workspace_required
def audit(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    """The audit log, for admins: who created, changed, ran, toggled or deleted syncs, and who
    resolved or replayed DLQ entries."""
    if membership.role != Role.ADMIN:
        return render(request, "dashboard/forbidden.html", {"section": "audit"}, status=403)
    events = AuditEvent.objects.filter(workspace=membership.workspace).order_by("-id")[:200]
    return render(request, "dashboard/audit.html", {"section": "audit", "events": events})
