"""Minimal settings for django-stubs' mypy plugin (it imports them; no database is touched)."""

from __future__ import annotations

SECRET_KEY = "mypy"
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "dbjobq_django",
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
USE_TZ = True
