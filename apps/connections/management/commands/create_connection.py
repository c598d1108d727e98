import json

from django.core.management.base import BaseCommand, CommandError

from apps.accounts.models import Workspace
from apps.connections.services import connection_create
from apps.connectors.registry import ConfigError, UnknownConnectorError


class Command(BaseCommand):
    help = "Create a source or destination connection; prints the new id alone on the last line."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--workspace", required=True, help="Workspace slug")
        parser.add_argument("--role", required=True, choices=["source", "destination"])
        parser.add_argument(
            "--type", required=True, dest="connector_type", help="Connector type, e.g. duckdb"
        )
        parser.add_argument("--name", required=True)
        parser.add_argument("--config", required=True, help="Connector config as a JSON object")
        parser.add_argument("--default", action="store_true", help="Make this the workspace's default source")

    def handle(
        self,
        *args,
        workspace: str,
        role: str,
        connector_type: str,
        name: str,
        config: str,
        default: bool,
        **options,
    ) -> None:
        ws = Workspace.objects.filter(slug=workspace).first()
        if ws is None:
            raise CommandError(f"No workspace with slug {workspace!r}.")
        try:
            data = json.loads(config)
        except json.JSONDecodeError as exc:
            raise CommandError(f"--config is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise CommandError("--config must be a JSON object.")
        try:
            conn = connection_create(
                workspace=ws,
                role=role,
                connector_type=connector_type,
                name=name,
                config=data,
                is_default=default,
            )
        except (ConfigError, UnknownConnectorError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        self.stderr.write(f"created {role} {name!r} ({connector_type})")
        self.stdout.write(conn.id)
