from django.urls import path

from apps.dashboard import views

app_name = "dashboard"

urlpatterns = [
    path("", views.home, name="home"),
    path("syncs/", views.syncs, name="syncs"),
    path("runs/", views.runs, name="runs"),
    path("dlq/", views.dlq, name="dlq"),
    path("connections/", views.connections, name="connections"),
    path("audit/", views.audit, name="audit"),
]
