"""The DBJOBQ settings accessor, the derived URL and the system checks."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connections

from dbjobq_django import get_settings
from dbjobq_django.checks import check_settings
from dbjobq_django.conf import DEFAULTS, async_url
from tests.django.conftest import per_database


def _ids(settings: Any, value: dict[str, Any]) -> list[str]:
    settings.DBJOBQ = value
    return [m.id or "" for m in check_settings()]


def test_settings_defaults(settings: Any) -> None:
    settings.DBJOBQ = None
    effective = get_settings()
    assert effective.database == "default"
    assert effective.database_url is None
    assert effective.concurrency == DEFAULTS["CONCURRENCY"]
    assert effective.autodiscover == ("jobs", "tasks")
    assert check_settings() == []


@per_database()
def test_settings_url_is_derived_with_async_driver(dbjobq: str) -> None:
    url = get_settings().engine_url()
    expected = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg", "mysql": "mysql+aiomysql"}
    assert url.drivername == expected[connections[dbjobq].vendor]
    assert url.database.endswith(str(connections[dbjobq].settings_dict["NAME"]))  # the test database


def test_settings_explicit_url_wins(settings: Any, tmp_path: Any) -> None:
    settings.DBJOBQ = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'other.sqlite3'}"}
    assert get_settings().engine_url().database == str(tmp_path / "other.sqlite3")
    assert _ids(settings, settings.DBJOBQ) == ["dbjobq.W002"]  # another database than DATABASES


def test_settings_check_catches_sync_database_url(settings: Any) -> None:
    settings.DBJOBQ = {"DATABASE_URL": "postgresql://user@db.example.com/app"}
    [message] = check_settings()
    assert message.id == "dbjobq.E004"
    assert message.level == checks.ERROR
    assert "postgresql+asyncpg" in message.msg
    assert message.hint and "async URL" in message.hint
    with pytest.raises(ImproperlyConfigured, match=r"postgresql\+asyncpg"):
        get_settings()
    with pytest.raises(SystemCheckError, match=r"dbjobq\.E004"):
        call_command("check")


def test_settings_check_catches_sync_only_derived_driver(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # The async driver for the Django database is missing: the check says what to install.
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "aiosqlite" else real_find_spec(name, *a)
    )
    settings.DBJOBQ = {}
    [message] = check_settings()
    assert message.id == "dbjobq.E004"
    assert "pip install" in message.msg


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"CONCURENCY": 4}, ["dbjobq.E001"]),
        ({"DATABASE": "nope"}, ["dbjobq.E002"]),
        ({"CONCURRENCY": 0}, ["dbjobq.E005"]),
        ({"QUEUES": "default"}, ["dbjobq.E005"]),
        ({"RETENTION": "7d"}, ["dbjobq.E005"]),
        ({"POLL_INTERVAL": -1}, ["dbjobq.E005"]),
    ],
)
def test_settings_check_reports_mistakes(settings: Any, value: dict[str, Any], expected: list[str]) -> None:
    assert _ids(settings, value) == expected
    with pytest.raises(ImproperlyConfigured):
        get_settings()


def test_settings_check_names_the_key_and_the_fix(settings: Any) -> None:
    settings.DBJOBQ = {"CONCURENCY": 4}
    [typo] = check_settings()
    assert typo.id == "dbjobq.E001" and "did you mean CONCURRENCY?" in typo.msg
    settings.DBJOBQ = {"HEARTBEAT_INTERVAL": 40}
    [rule] = check_settings()
    assert rule.id == "dbjobq.E005"
    assert "DBJOBQ['HEARTBEAT_INTERVAL'] (40s) must be shorter than DBJOBQ['LEASE_TIMEOUT'] (30s)" in rule.msg
    assert rule.hint == "Fix DBJOBQ['HEARTBEAT_INTERVAL'] or remove it to use the default (5.0)."


def test_settings_check_rejects_non_dict(settings: Any) -> None:
    assert _ids(settings, ["DATABASE"]) == ["dbjobq.E001"]  # type: ignore[arg-type]


def test_settings_check_warns_in_memory_sqlite(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(connections["default"].settings_dict, "NAME", ":memory:")
    assert _ids(settings, {}) == ["dbjobq.W001"]


def test_settings_async_url_per_vendor() -> None:
    pg = {
        "NAME": "app",
        "USER": "u",
        "PASSWORD": "p@ss/word",
        "HOST": "db.internal",
        "PORT": "6543",
        "OPTIONS": {"sslmode": "require"},
    }
    assert async_url("postgresql", pg) == "postgresql+asyncpg://u:p%40ss%2Fword@db.internal:6543/app?ssl=require"
    assert async_url("mysql", {"NAME": "app", "USER": "root", "HOST": "127.0.0.1", "PORT": ""}) == (
        "mysql+aiomysql://root@127.0.0.1/app?charset=utf8mb4"
    )
    assert async_url("sqlite", {"NAME": "/srv/db.sqlite3"}) == "sqlite+aiosqlite:////srv/db.sqlite3"


@pytest.mark.parametrize(
    "value",
    [
        {"DATABASE_URL": "postgresql+asyncpg://ann:hunter2@db:port/app"},  # invalid: not even parsed
        {"DATABASE_URL": "postgresql://ann:hunter2@db/app?password=hunter2"},  # sync: the async URL is named
        {"DATABASE_URL": b"postgresql+asyncpg://ann:hunter2@db/app"},  # not a str
        {"ENGINE_OPTIONS": [("connect_args", {"password": "hunter2"})]},  # not a dict
    ],
)
def test_settings_check_messages_never_repeat_the_password(settings: Any, value: dict[str, Any]) -> None:
    settings.DBJOBQ = value
    [message] = check_settings()
    assert message.id in ("dbjobq.E004", "dbjobq.E005")
    assert "hunter2" not in message.msg and "hunter2" not in (message.hint or "")
    with pytest.raises(ImproperlyConfigured) as info:
        get_settings()
    assert "hunter2" not in str(info.value)


def test_settings_repr_masks_the_url(settings: Any) -> None:
    settings.DBJOBQ = {
        "DATABASE_URL": "postgresql+asyncpg://ann:hunter2@db/app?password=hunter2",
        "ENGINE_OPTIONS": {"connect_args": {"ssl": True}, "password": "hunter2"},
    }
    from dbjobq_django.conf import get_settings_unchecked

    shown = repr(get_settings_unchecked())
    assert "hunter2" not in shown and "postgresql+asyncpg://ann:***@db/app?password=***" in shown


def test_settings_postgres_forms(settings: Any) -> None:
    settings.DBJOBQ = {"DATABASE_URL": "postgres+asyncpg://ann@db.example.com/app"}
    assert get_settings().engine_url().drivername == "postgresql+asyncpg"
    settings.DBJOBQ = {"DATABASE_URL": "postgres://ann@db.example.com/app"}
    [message] = check_settings()
    assert message.id == "dbjobq.E004" and "postgresql+asyncpg://ann@db.example.com/app" in message.msg


def test_settings_pgbouncer_and_listen_url_reach_the_storage(settings: Any) -> None:
    import dbjobq_django

    direct = "postgresql+asyncpg://app@127.0.0.1:5432/app"
    settings.DBJOBQ = {
        "DATABASE_URL": "postgresql+asyncpg://app@127.0.0.1:6432/app",
        "PGBOUNCER": True,
        "LISTEN_URL": direct,
    }
    impl = dbjobq_django.get_queue().storage._db.impl  # type: ignore[attr-defined]  # no connection is made
    assert impl.pgbouncer and str(impl.listen_url) == direct
    assert "dbjobq.E005" in _ids(settings, {"PGBOUNCER": "yes"})
