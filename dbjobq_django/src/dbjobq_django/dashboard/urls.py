"""URLs of the dashboard: include them where it should live, e.g. ``path("jobs/", include(...))``."""

from __future__ import annotations

from django.urls import path, re_path

from . import views

app_name = "dbjobq_dashboard"

urlpatterns = [
    path("", views.dashboard, {"path": ""}, name="index"),
    re_path(r"^(?P<path>.+)$", views.dashboard, name="page"),
]
