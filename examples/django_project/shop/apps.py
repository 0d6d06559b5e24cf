"""The shop app."""

from __future__ import annotations

from django.apps import AppConfig


class ShopConfig(AppConfig):
    """The example's only app."""

    name = "shop"
    default_auto_field = "django.db.models.BigAutoField"
