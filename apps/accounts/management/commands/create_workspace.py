from django.core.management.base import BaseCommand, CommandError

from apps.accounts.models import Role
from apps.accounts.services import membership_set, workspace_create


class Command(BaseCommand):
    help = "Create a workspace; optionally make an existing or new user its admin."

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug", help="URL-safe identifier, e.g. acme")
        parser.add_argument("--name", help="Display name (default: from the slug)")
        parser.add_argument("--admin", metavar="USERNAME", help="User to add as the workspace's admin")

    def handle(self, *args, slug: str, name: str | None, admin: str | None, **options) -> None:
        try:
            workspace = workspace_create(slug=slug, name=name)
            if admin:
                membership_set(workspace=workspace, username=admin, role=Role.ADMIN)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"created workspace {workspace.slug} ({workspace.name})")
        self.stdout.write(workspace.id)
