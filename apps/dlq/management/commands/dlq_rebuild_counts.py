"""Recompute the daily DLQ counters and the open marks from the entries (after a bulk load or to
repair drift)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from apps.dlq.counters import counts_rebuild
from apps.dlq.open_entries import open_entries_rebuild


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--workspace", help="Only this workspace id (default: all).")

    def handle(self, *args: Any, workspace: str | None = None, **options: Any) -> None:
        rows = counts_rebuild(workspace_id=workspace)
        marks = open_entries_rebuild(workspace_id=workspace)
        self.stdout.write(f"rebuilt {rows} daily counter rows and {marks} open marks")
