"""Orders in the admin (DBJobQ's jobs and schedules are registered by dbjobq_django itself)."""

from __future__ import annotations

from django.contrib import admin

from shop.models import Order


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ("id", "email", "status")
