"""Django settings for the dbjobq_django tests: one database alias per server, unique per test session.

``default`` is a SQLite file; ``postgresql`` and ``mysql`` exist when their servers answer (same
servers and environment overrides as tests/databases.py). Test databases get a random suffix so
that parallel sessions never collide.
"""

from __future__ import annotations

import os
import socket
import tempfile
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from tests.databases import MYSQL_ADMIN, POSTGRES_ADMIN

SUFFIX = uuid.uuid4().hex[:10]
TMP = Path(tempfile.gettempdir())

SECRET_KEY = "dbjobq-tests-not-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "tests.django.urls"
STATIC_URL = "/static/"  # the live server (browser tests) serves static files under it
STATIC_ROOT = str(TMP / f"dbjobq_dj_static_{SUFFIX}")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Django 6.1 deprecates sending mail without MAILERS (older Django ignores it): mail stays in memory.
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "dbjobq_django",
    "tests.django.testapp",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]


def _reachable(admin_url: str, default_port: int) -> bool:
    url = make_url(admin_url)
    try:
        socket.create_connection((url.host or "127.0.0.1", url.port or default_port), timeout=1).close()
    except OSError:
        return False
    return True


def _server(admin_url: str, engine: str, default_port: int, **extra: Any) -> dict[str, Any]:
    url = make_url(admin_url)
    return {
        "ENGINE": engine,
        "NAME": f"dbjobq_dj_{SUFFIX}",
        "USER": url.username or "",
        "PASSWORD": url.password or "",
        "HOST": url.host or "127.0.0.1",
        "PORT": str(url.port or default_port),
        "TEST": {"NAME": f"test_dbjobq_dj_{SUFFIX}", **extra},
    }


DATABASES: dict[str, dict[str, Any]] = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(TMP / f"dbjobq_dj_{SUFFIX}.sqlite3"),
        # A file, not Django's in-memory test database: workers connect to it from their own engine.
        "TEST": {"NAME": str(TMP / f"test_dbjobq_dj_{SUFFIX}.sqlite3")},
        "OPTIONS": {"timeout": 30},
    }
}
if os.environ.get("DBJOBQ_DJANGO_TEST_SQLITE"):
    # A worker subprocess started by a test: it uses that test's SQLite database.
    DATABASES["default"]["NAME"] = os.environ["DBJOBQ_DJANGO_TEST_SQLITE"]

#: Why a server's alias is missing (tests for it skip, or fail under DBJOBQ_REQUIRE_ALL_DATABASES=1).
UNAVAILABLE: dict[str, str] = {}

if _reachable(POSTGRES_ADMIN, 5432):
    DATABASES["postgresql"] = _server(POSTGRES_ADMIN, "django.db.backends.postgresql", 5432)
else:
    UNAVAILABLE["postgresql"] = f"nothing answers at {make_url(POSTGRES_ADMIN).host}"

if _reachable(MYSQL_ADMIN, 3306):
    import pymysql

    pymysql.install_as_MySQLdb()  # Django's MySQL backend on PyMySQL (mysqlclient needs a compiler)
    DATABASES["mysql"] = _server(MYSQL_ADMIN, "django.db.backends.mysql", 3306, CHARSET="utf8mb4")
    DATABASES["mysql"]["OPTIONS"] = {"charset": "utf8mb4"}
else:
    UNAVAILABLE["mysql"] = f"nothing answers at {make_url(MYSQL_ADMIN).host}"

DBJOBQ: dict[str, Any] = {"POLL_INTERVAL": 0.05}

if os.environ.get("DBJOBQ_DJANGO_TEST_DATABASE"):
    # A worker subprocess started by a test on a server database: "alias=test database name".
    _alias, _name = os.environ["DBJOBQ_DJANGO_TEST_DATABASE"].split("=", 1)
    DATABASES[_alias]["NAME"] = _name
    DBJOBQ["DATABASE"] = _alias
if os.environ.get("DBJOBQ_DJANGO_TEST_SQLITE") or os.environ.get("DBJOBQ_DJANGO_TEST_DATABASE"):
    # Only the databases that exist for it: Django 6.1's system checks connect to every alias.
    DATABASES = {alias: value for alias, value in DATABASES.items() if alias in ("default", DBJOBQ.get("DATABASE"))}

# Django Tasks (django.tasks on Django 6, the django-tasks backport before): DBJobQ runs them.
TASKS: dict[str, dict[str, Any]] = {
    "default": {
        "BACKEND": "dbjobq_django.tasks.DBJobQBackend",
        "QUEUES": ["default", "other"],
        "OPTIONS": {"retry_delay": 0.0},
    },
}
