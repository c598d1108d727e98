from django.urls import path

from apps.connections import api
from apps.connections.models import ConnectionRole

DESTINATION, SOURCE = ConnectionRole.DESTINATION, ConnectionRole.SOURCE

urlpatterns = [
    path("destinations", api.ConnectionListView.as_view(role=DESTINATION)),
    path("destinations/<str:connection_id>", api.ConnectionDetailView.as_view(role=DESTINATION)),
    path("destinations/<str:connection_id>/check", api.ConnectionCheckView.as_view(role=DESTINATION)),
    path("sources", api.ConnectionListView.as_view(role=SOURCE)),
    path("sources/<str:connection_id>", api.ConnectionDetailView.as_view(role=SOURCE)),
    path("sources/<str:connection_id>/check", api.ConnectionCheckView.as_view(role=SOURCE)),
    path("objects", api.ObjectListView.as_view()),
    path("fields", api.FieldListView.as_view()),
]
