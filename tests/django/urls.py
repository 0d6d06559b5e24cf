"""URLs for the tests: the admin and two views that enqueue."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from tests.django import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("jobs/", include("dbjobq_django.dashboard.urls")),
    path("enqueue/", views.enqueue_view),
    path("aenqueue/", views.aenqueue_view),
]
