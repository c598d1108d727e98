from django.core.management.base import BaseCommand, CommandError

from apps.accounts.models import Workspace
from apps.accounts.scopes import ALL, SCOPES
from apps.accounts.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key. The key is printed once, alone on the last line; only its hash is kept."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--workspace", required=True, help="Workspace slug")
        parser.add_argument("--name", required=True, help="Who or what uses the key")
        parser.add_argument(
            "--scopes",
            nargs="+",
            default=[ALL],
            metavar="SCOPE",
            help=f"Scopes (default: {ALL}). Valid: {', '.join((ALL, *SCOPES))}. Commas also separate.",
        )

    def handle(self, *args, workspace: str, name: str, scopes: list[str], **options) -> None:
        ws = Workspace.objects.filter(slug=workspace).first()
        if ws is None:
            raise CommandError(f"No workspace with slug {workspace!r}.")
        wanted = [s.strip() for item in scopes for s in item.split(",") if s.strip()]
        try:
            issued = api_key_create(workspace=ws, name=name, scopes=wanted)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        key = issued.api_key
        self.stderr.write(f"created key {key.name!r} ({key.prefix}…) with scopes {', '.join(key.scopes)}")
        self.stderr.write("store it now: it cannot be shown again")
        self.stdout.write(issued.raw_key)
