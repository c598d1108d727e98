import sys

from django.conf import settings
from django.core.management.base import BaseCommand

from apps.core.processes import ManagedProcess, Supervisor


class Command(BaseCommand):
    help = "Run the whole product: web server, a Celery worker and the scheduler tick. Ctrl-C stops all."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--concurrency", type=int, default=2, help="Worker processes (default 2)")

    def handle(self, *args, host: str, port: int, concurrency: int, **options) -> None:
        python = sys.executable
        beat_schedule = settings.CELERY_BEAT_SCHEDULE_FILENAME
        processes = [
            ManagedProcess("web", [python, "manage.py", "runserver", f"{host}:{port}", "--noreload"]),
            ManagedProcess(
                "worker",
                [
                    python,
                    "-m",
                    "celery",
                    "-A",
                    "config",
                    "worker",
                    "--loglevel",
                    "INFO",
                    "--concurrency",
                    str(concurrency),
                    "--hostname",
                    "syncline@%h",
                ],
            ),
            ManagedProcess(
                "tick",
                [
                    python,
                    "-m",
                    "celery",
                    "-A",
                    "config",
                    "beat",
                    "--loglevel",
                    "INFO",
                    "--schedule",
                    beat_schedule,
                ],
            ),
        ]
        from apps.demo.seed import DEMO_USERS

        logins = "  ".join(f"{u} / {p}" for u, (p, _) in DEMO_USERS.items())
        self.stdout.write(self.style.SUCCESS(f"\nSyncline is starting on http://{host}:{port}/"))
        self.stdout.write(f"Demo logins: {logins}")
        self.stdout.write(
            f"Broker: {settings.CELERY_BROKER_URL.split('@')[-1]}   Data: {settings.SYNCLINE_VAR_DIR}"
        )
        self.stdout.write("Press Ctrl-C to stop every process.\n")
        self.stdout.flush()
        code = Supervisor(processes, log=lambda m: self.stdout.write(f"[runall] {m}")).run()
        sys.exit(code)
