from django.urls import path

from apps.syncs import api

urlpatterns = [
    path("syncs", api.SyncListView.as_view()),
    path("syncs/<str:sync_id>", api.SyncDetailView.as_view()),
    path("sync/run", api.SyncRunView.as_view()),
    path("sync/toggle", api.SyncToggleView.as_view()),
]
