"""Database URLs: which ones DBJobQ accepts (each database's engine options live in ``dialects``)."""

from __future__ import annotations

import importlib.util
import re

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from ..errors import ConfigurationError
from ..redaction import mask_url

#: Supported backend -> (async driver, extra that installs it).
ASYNC_DRIVERS: dict[str, tuple[str, str]] = {
    "sqlite": ("aiosqlite", "dbjobq"),
    "postgresql": ("asyncpg", "dbjobq[postgres]"),
    "mysql": ("aiomysql", "dbjobq[mysql]"),
    "mariadb": ("aiomysql", "dbjobq[mysql]"),
}
#: Other names people paste for a backend: ``postgres://`` is what Heroku, Render, Fly.io and others
#: hand out; SQLAlchemy itself knows only ``postgresql``.
_BACKEND_ALIASES = {"postgres": "postgresql"}
#: Engine options that size or tune a QueuePool; other pool classes (NullPool, StaticPool) refuse some.
_SQLITE_FILE = re.compile(r"[\w./~-]+\.(?:sqlite3?|db)")
POOL_OPTIONS = ("pool_size", "max_overflow", "pool_timeout", "pool_recycle", "pool_pre_ping")


def parse_url(url: str | URL) -> URL:
    """Validate an async database URL, or raise ``ConfigurationError`` naming the URL to use.

    Messages show the URL masked (:func:`~dbjobq.redaction.mask_url`): never its password.
    """
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError, TypeError):
        text = str(url)
        if _SQLITE_FILE.fullmatch(text):
            # A bare file name is the common mistake, and safe to show (no password looks like one).
            raise ConfigurationError(
                f"Invalid database URL {text!r}: a SQLite file is given as a URL, e.g. sqlite+aiosqlite:///{text}"
            ) from None
        raise ConfigurationError(
            f"Invalid database URL{_shown(url)}: expected dialect+driver://user:password@host:port/database, "
            "e.g. sqlite+aiosqlite:///jobs.db, postgresql+asyncpg://user@host/db or mysql+aiomysql://user@host/db "
            "(a password holding @ : / # ? must be percent-encoded, e.g. with urllib.parse.quote)"
        ) from None
    # Split the scheme by hand: SQLAlchemy's get_driver_name() loads the dialect to learn a default
    # driver, and an unknown name (`postgres`) then fails with a plugin-loading traceback.
    name, _, given_driver = parsed.drivername.partition("+")
    backend = _BACKEND_ALIASES.get(name.lower(), name.lower())
    if backend not in ASYNC_DRIVERS:
        raise ConfigurationError(
            f"Unsupported database {name!r} in {mask_url(parsed)!r}: "
            "DBJobQ supports SQLite, PostgreSQL and MySQL/MariaDB (sqlite+aiosqlite://, postgresql+asyncpg://, "
            "mysql+aiomysql://)"
        )
    driver, extra = ASYNC_DRIVERS[backend]
    if given_driver.lower() == driver:
        parsed = parsed.set(drivername=f"{backend}+{driver}")  # postgres+asyncpg -> postgresql+asyncpg
    else:
        suggested = mask_url(parsed.set(drivername=f"{backend}+{driver}"))
        raise ConfigurationError(
            f"{parsed.drivername!r} is not an async driver URL: DBJobQ needs {backend}+{driver}, "
            f"e.g. {suggested}"
        )
    if importlib.util.find_spec(driver) is None:
        raise ConfigurationError(f"The {driver} driver is not installed: pip install '{extra}'")
    if backend == "postgresql" and "sslmode" in parsed.query and "ssl" not in parsed.query:
        # libpq's `?sslmode=require`, which hosting providers append, is asyncpg's `ssl=require`
        # (same values); asyncpg refuses the libpq name.
        sslmode = parsed.query["sslmode"]
        parsed = parsed.difference_update_query(["sslmode"]).update_query_dict({"ssl": sslmode})
    return parsed


def _shown(url: object) -> str:
    """`` 'scheme://user:***@…'`` for a message about unparseable input; nothing when the input does
    not even look like a URL (it may be a password pasted into the wrong setting)."""
    text = str(url)
    return f" {mask_url(text)!r}" if "://" in text else " (not shown: it does not look like scheme://…)"


def is_memory_sqlite(url: URL) -> bool:
    """True for an in-memory SQLite database."""
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")
