from django.core.management.base import BaseCommand

from apps.demo.seed import DEMO_USERS, seed_demo


class Command(BaseCommand):
    help = "Create (or top up) the demo workspace: users, demo warehouse, sandbox CRM. Idempotent."

    def handle(self, *args, **options) -> None:
        report = seed_demo()
        if report.created:
            for item in report.created:
                self.stdout.write(f"created {item}")
        else:
            self.stdout.write("demo workspace already complete; nothing to do")
        logins = ", ".join(f"{user}/{password}" for user, (password, _) in DEMO_USERS.items())
        self.stdout.write(self.style.SUCCESS(f"demo logins: {logins}"))
