from django.apps import AppConfig


class DlqConfig(AppConfig):
    name = "apps.dlq"
    label = "dlq"
