import time
import uuid

from celery.exceptions import TimeoutError as CeleryTimeout
from django.core.management.base import BaseCommand, CommandError

from apps.core.tasks import ping


class Command(BaseCommand):
    help = "Send a ping task through the broker and wait for a worker to answer."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--timeout", type=float, default=30.0)

    def handle(self, *args, timeout: float, **options) -> None:
        token = uuid.uuid4().hex[:8]
        started = time.monotonic()
        try:
            answer = ping.delay(token).get(timeout=timeout)
        except CeleryTimeout as exc:
            raise CommandError(f"No worker answered within {timeout:g} s.") from exc
        if answer != f"pong:{token}":
            raise CommandError(f"Unexpected answer from the worker: {answer!r}")
        self.stdout.write(f"worker answered {answer} in {time.monotonic() - started:.2f} s")
