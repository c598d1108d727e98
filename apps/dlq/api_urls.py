from django.urls import path

from apps.dlq import api

urlpatterns = [
    path("dlq", api.DlqListView.as_view()),
    path("dlq/stats", api.DlqStatsView.as_view()),
    path("dlq/resolve", api.DlqResolveView.as_view()),
    path("dlq/<str:entry_id>", api.DlqEntryView.as_view()),
]
