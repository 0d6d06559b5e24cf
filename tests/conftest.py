"""Shared fixtures: the same storage tests run on SQLite, PostgreSQL and MariaDB/MySQL."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete

from dbjobq import JobQueue
from dbjobq.storage import SQLAlchemyStorage
from dbjobq.storage.schema import metadata
from tests.databases import DATABASES, Server, create_database, drop_database
from tests.skips import outside_folders
from tests.tracing import spans  # noqa: F401 (a fixture for every test package)


@pytest.fixture(scope="session")
def server_urls() -> Iterator[dict[str, str | Server]]:
    """One throw-away database per server for the whole session: name -> URL (or the missing Server)."""
    urls: dict[str, str | Server] = {}
    for name in ("postgresql", "mysql"):
        try:
            urls[name] = create_database(name)
        except Exception as exc:  # the server is missing: tests using it skip (or fail under CI)
            urls[name] = Server(name, error=repr(exc))
    yield urls
    for url in urls.values():
        if isinstance(url, str):
            with contextlib.suppress(Exception):
                drop_database(url)


def _url_for(name: str, server_urls: dict[str, str | Server], tmp_path: Path) -> str:
    if name == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'jobs.sqlite3'}"
    url = server_urls[name]
    if isinstance(url, Server):
        url.unavailable()
    assert isinstance(url, str)
    return url


@pytest.fixture(params=DATABASES)
def db_name(request: pytest.FixtureRequest) -> str:
    """Each database name in turn; ``@pytest.mark.databases("postgresql")`` narrows the set."""
    return str(request.param)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the database variants a ``databases`` marker excludes (they are not skips)."""
    kept, dropped = [], []
    for item in items:
        marker = item.get_closest_marker("databases")
        callspec = getattr(item, "callspec", None)
        name = callspec.params.get("db_name") if callspec is not None else None
        (dropped if marker is not None and name is not None and name not in marker.args else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture
def db_url(db_name: str, server_urls: dict[str, str | Server], tmp_path: Path) -> str:
    """An async URL to an empty-table database of the current kind."""
    return _url_for(db_name, server_urls, tmp_path)


@pytest.fixture
async def storage(db_url: str) -> AsyncIterator[SQLAlchemyStorage]:
    """An initialised storage with empty tables."""
    store = SQLAlchemyStorage(db_url)
    await store.initialize()
    async with store.engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            if table.name != "dbjobq_meta":
                await conn.execute(delete(table))
    yield store
    await store.close()


@pytest.fixture
def queue(storage: SQLAlchemyStorage) -> JobQueue:
    """A JobQueue on the current storage."""
    return JobQueue(storage)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[pytest.TestReport]:
    """Fail a skip whose message names a folder outside the repository: it means nothing to others."""
    report: pytest.TestReport = yield
    if report.skipped and isinstance(report.longrepr, tuple):
        found = outside_folders(str(report.longrepr[2]))
        if found:
            report.outcome = "failed"
            report.longrepr = f"skip message names {found} outside the repository: {report.longrepr[2]}"
    return report
