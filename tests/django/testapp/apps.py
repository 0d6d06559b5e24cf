"""A tiny app for the tests: a model jobs write with the ORM, and a jobs.py to discover."""

from __future__ import annotations

from django.apps import AppConfig


class TestAppConfig(AppConfig):
    """The test app."""

    name = "tests.django.testapp"
    label = "testapp"
    default_auto_field = "django.db.models.BigAutoField"
