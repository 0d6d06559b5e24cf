"""Secrets stay out of messages: every URL DBJobQ shows is masked, every URL error too."""

from __future__ import annotations

import logging
import re

import pytest
from sqlalchemy.engine import make_url

from dbjobq import ConfigurationError
from dbjobq.redaction import is_secret_key, mask_text, mask_url
from dbjobq.storage import SQLAlchemyStorage
from dbjobq.storage.urls import parse_url

SECRET = "hunter2"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql+asyncpg://ann:hunter2@db.example.com:5432/app", "postgresql+asyncpg://ann:***@db.example.com:5432/app"),
        ("postgresql+asyncpg://ann@db/app?password=hunter2", "postgresql+asyncpg://ann@db/app?password=***"),
        ("postgresql+asyncpg://ann@db/app?sslpassword=hunter2&ssl=require", "postgresql+asyncpg://ann@db/app?ssl=require&sslpassword=***"),
        ("mysql+aiomysql://root@db/app?PASSWD=hunter2", "mysql+aiomysql://root@db/app?PASSWD=***"),
        ("postgresql+asyncpg://db/app?auth_token=hunter2&api_key=hunter2", "postgresql+asyncpg://db/app?api_key=***&auth_token=***"),
        ("sqlite+aiosqlite:///jobs.db", "sqlite+aiosqlite:///jobs.db"),
    ],
)
def test_redaction_mask_url_hides_passwords_and_secret_parameters(url: str, expected: str) -> None:
    assert mask_url(url) == expected
    assert mask_url(make_url(url)) == expected


@pytest.mark.parametrize(
    "text",
    [
        "postgresql+asyncpg://ann:hunter2@db:port/app",  # not a URL (bad port): masked as text
        "postgresql+asyncpg://ann:pa@ss:hunter2@db/app",  # an unencoded @ in the password
        "host=db user=ann password=hunter2 dbname=app",  # libpq's keyword form
        "postgresql://db/app?x=1&Secret_Key=hunter2",
    ],
)
def test_redaction_mask_text_hides_passwords_in_unparseable_input(text: str) -> None:
    assert SECRET not in mask_url(text)
    assert SECRET not in mask_text(text)


def test_redaction_secret_keys() -> None:
    assert all(is_secret_key(k) for k in ("password", "sslpassword", "PWD", "client_secret", "token", "apikey"))
    assert not any(is_secret_key(k) for k in ("sslmode", "host", "charset", "ssl"))


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+asyncpg://ann:hunter2@db:port/app",  # invalid port
        "mysql+aiomysql://root:hunter2@db:33o6/app",  # a typo in the port
        "hunter2",  # a password pasted into the URL setting
        "host=db password=hunter2",
        "postgresql://ann:hunter2@db/app",  # a sync URL: the message suggests the async one
        "postgresql://ann@db/app?password=hunter2",
        "mysql://root:hunter2@db/app",
        "oracle+oracledb://ann:hunter2@db/app?password=hunter2",
    ],
)
def test_redaction_url_errors_never_repeat_the_password(url: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        parse_url(url)
    assert SECRET not in str(info.value)


def test_redaction_sync_url_error_still_names_the_async_url() -> None:
    with pytest.raises(ConfigurationError, match=r"postgresql\+asyncpg://ann:\*\*\*@db/app\?password=\*\*\*"):
        parse_url("postgresql://ann:hunter2@db/app?password=hunter2")


def test_redaction_storage_repr_masks_query_password() -> None:
    storage = SQLAlchemyStorage("postgresql+asyncpg://ann:hunter2@db/app?password=hunter2")
    assert repr(storage) == "SQLAlchemyStorage('postgresql+asyncpg://ann:***@db/app?password=***')"


@pytest.mark.databases("postgresql")
async def test_redaction_connection_error_is_masked(db_url: str, caplog: pytest.LogCaptureFixture) -> None:
    # Port 1: nothing listens; the error names the database without its password.
    url = make_url(db_url).set(port=1, password=SECRET).update_query_dict({"password": SECRET})
    storage = SQLAlchemyStorage(url)
    caplog.set_level(logging.DEBUG, logger="dbjobq")
    with pytest.raises(Exception) as info:
        await storage.initialize()
    await storage.close()
    assert "Could not connect" in str(info.value)
    assert SECRET not in str(info.value) and SECRET not in caplog.text


@pytest.mark.parametrize(
    ("given", "suggested"),
    [("jobs.sqlite3", "sqlite+aiosqlite:///jobs.sqlite3"), ("/srv/app/jobs.db", "sqlite+aiosqlite:////srv/app/jobs.db")],
)
def test_redaction_a_bare_sqlite_file_name_is_shown_with_its_url(given: str, suggested: str) -> None:
    with pytest.raises(ConfigurationError, match=f"Invalid database URL '{given}': .*e.g. {re.escape(suggested)}$"):
        parse_url(given)
