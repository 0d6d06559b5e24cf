"""Real database servers for the test-suite: one throw-away database per server per test session.

Servers are found at the standard local ports (override with DBJOBQ_TEST_POSTGRES_URL /
DBJOBQ_TEST_MYSQL_URL, admin URLs without a database). A missing server skips its tests, unless
DBJOBQ_REQUIRE_ALL_DATABASES=1 (set by .ci/run), which turns it into a failure.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from dataclasses import dataclass, field

import pytest

DATABASES = ("sqlite", "postgresql", "mysql")

POSTGRES_ADMIN = os.environ.get("DBJOBQ_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432")
MYSQL_ADMIN = os.environ.get("DBJOBQ_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306")


def require_all() -> bool:
    """True under CI: a missing server fails instead of skipping."""
    return os.environ.get("DBJOBQ_REQUIRE_ALL_DATABASES", "") not in ("", "0")


@dataclass
class Server:
    """A database server with the throw-away databases this session created on it."""

    name: str
    error: str | None = None
    created: list[str] = field(default_factory=list)

    def unavailable(self) -> None:
        """Skip (locally) or fail (CI) the calling test because the server is missing."""
        message = f"{self.name} server not available: {self.error}"
        if require_all():
            pytest.fail(message + " (DBJOBQ_REQUIRE_ALL_DATABASES is set)")
        pytest.skip(message)


def _split(admin: str) -> tuple[str, str, str, int]:
    from sqlalchemy.engine import make_url

    url = make_url(admin)
    return url.username or "", url.password or "", url.host or "127.0.0.1", url.port or 0


async def _postgres(sql: str) -> None:
    import asyncpg

    user, password, host, port = _split(POSTGRES_ADMIN)
    conn = await asyncpg.connect(user=user, password=password or None, host=host, port=port or 5432,
                                 database="postgres", timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _mysql(sql: str) -> None:
    import pymysql

    user, password, host, port = _split(MYSQL_ADMIN)
    conn = pymysql.connect(user=user, password=password, host=host, port=port or 3306, connect_timeout=5)
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql)
        conn.commit()
    finally:
        conn.close()


def create_database(server: str) -> str:
    """Create a fresh database on ``server`` and return its async SQLAlchemy URL (raises if down)."""
    name = f"dbjobq_test_{uuid.uuid4().hex[:10]}"
    if server == "postgresql":
        asyncio.run(_postgres(f'CREATE DATABASE "{name}"'))
        user, password, host, port = _split(POSTGRES_ADMIN)
        auth = f"{user}:{password}@" if password else f"{user}@"
        return f"postgresql+asyncpg://{auth}{host}:{port or 5432}/{name}"
    if server == "mysql":
        _mysql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        user, password, host, port = _split(MYSQL_ADMIN)
        auth = f"{user}:{password}@" if password else f"{user}@"
        return f"mysql+aiomysql://{auth}{host}:{port or 3306}/{name}"
    raise ValueError(server)


def drop_database(url: str) -> None:
    """Drop a database made by :func:`create_database`."""
    name = url.rsplit("/", 1)[1]
    if url.startswith("postgresql"):
        asyncio.run(_postgres(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    else:
        _mysql(f"DROP DATABASE IF EXISTS `{name}`")
