"""Recompute the daily DLQ counters from the entries (after a bulk load or to repair drift)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from apps.dlq.counters import counts_rebuild


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--workspace", help="Only this workspace id (default: all).")

    def handle(self, *args: Any, workspace: str | None = None, **options: Any) -> None:
        rows = counts_rebuild(workspace_id=workspace)
        self.stdout.write(f"rebuilt {rows} daily counter rows")
