"""The API's routes, mounted under /api/reverse-etl/ and /v1/api/reverse-etl/ (config/urls.py)."""

from django.urls import include, path

urlpatterns = [
    path("", include("apps.runs.api_urls")),
    path("", include("apps.dlq.api_urls")),
    path("", include("apps.syncs.api_urls")),
    path("", include("apps.connections.api_urls")),
]
