from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from apps.api.errors import is_api_path, json_404, json_500
from apps.core.views import healthz

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("api/reverse-etl/", include("apps.api.urls")),
    path("v1/api/reverse-etl/", include("apps.api.urls")),
    path("", include("apps.dashboard.urls")),
]


def handler404(request, exception=None):
    """JSON under /api/ (never an HTML error page there), Django's page elsewhere."""
    if is_api_path(request.path):
        return json_404(request, exception)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def handler500(request):
    if is_api_path(request.path):
        return json_500(request)
    from django.views.defaults import server_error

    return server_error(request)
