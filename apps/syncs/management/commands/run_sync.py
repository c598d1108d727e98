import orjson
from django.core.management.base import BaseCommand, CommandError

from apps.engine.preview import preview_sync
from apps.engine.runner import run_sync
from apps.runs.models import RunTrigger
from apps.runs.services import run_enqueue
from apps.syncs.models import Sync


class Command(BaseCommand):
    help = "Run a sync now, in this process (no worker needed), or preview it with --dry-run."

    def add_arguments(self, parser) -> None:
        parser.add_argument("sync_id")
        parser.add_argument("--full-resync", action="store_true", help="Ignore the diff state and watermark")
        parser.add_argument("--dry-run", action="store_true", help="Plan the run and write nothing")
        parser.add_argument("--samples", type=int, default=3, help="Sample payloads shown by --dry-run")

    def handle(self, *args, sync_id: str, full_resync: bool, dry_run: bool, samples: int, **options) -> None:
        sync = Sync.objects.filter(pk=sync_id, deleted_at=None).first()
        if sync is None:
            raise CommandError(f"No sync with id {sync_id!r}.")
        if dry_run:
            preview = preview_sync(sync=sync, full_resync=full_resync, samples=samples)
            self.stdout.write(orjson.dumps(preview.as_dict(), option=orjson.OPT_INDENT_2).decode())
            return
        run, deduplicated = run_enqueue(
            sync=sync,
            trigger=RunTrigger.MANUAL,
            full_resync=full_resync,
            requested_by="manage.py run_sync",
            dispatch=False,
        )
        if deduplicated:
            raise CommandError(f"Sync {sync.id} already has an active run: {run.id} ({run.status}).")
        finished = run_sync(run.id)
        if finished is None:
            raise CommandError(f"Run {run.id} was taken by another worker.")
        self.stdout.write(f"{finished.id} {finished.status} in {finished.duration_seconds} s")
        self.stdout.write(orjson.dumps(finished.metrics).decode())
        if finished.error_code:
            self.stdout.write(f"error {finished.error_code}: {finished.error_message}")
        if finished.status == "failed":
            raise CommandError(f"Run {finished.id} failed.")
