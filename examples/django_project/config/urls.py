"""URLs: the admin and the shop's views."""

from __future__ import annotations

from django.contrib import admin
from django.urls import path
from shop import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("orders/", views.place_order),
    path("orders/<int:order_id>/receipt/", views.email_receipt),
    path("jobs/<str:job_id>/", views.job_status),
]
