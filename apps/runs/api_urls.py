from django.urls import path

from apps.runs import api

urlpatterns = [
    path("runs", api.RunListView.as_view()),
    path("runs/<str:run_id>", api.RunDetailView.as_view()),
    path("runs/<str:run_id>/cancel", api.RunCancelView.as_view()),
]
