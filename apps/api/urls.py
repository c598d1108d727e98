"""The API's routes, mounted under /api/reverse-etl/ and /v1/api/reverse-etl/ (config/urls.py).

``openapi.json`` (the OpenAPI 3 schema of the whole API) and ``docs`` (Swagger UI, served from
local static files) are public. The schema lists the routes once, under /api/reverse-etl/.
"""

from django.urls import include, path
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerView

urlpatterns = [
    path("openapi.json", SpectacularJSONAPIView.as_view()),
    # Relative, so the page under /v1/api/reverse-etl/ loads the schema from its own mount.
    path("docs", SpectacularSwaggerView.as_view(url="openapi.json")),
    path("", include("apps.runs.api_urls")),
    path("", include("apps.dlq.api_urls")),
    path("", include("apps.syncs.api_urls")),
    path("", include("apps.connections.api_urls")),
]
