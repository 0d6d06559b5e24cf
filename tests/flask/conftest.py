"""Fixtures for the Flask adapter: apps on a clean database of each kind, closed after each test."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import delete

from dbjobq.storage import SQLAlchemyStorage
from dbjobq.storage.schema import metadata
from dbjobq_flask import DBJobQ

AppFactory = Callable[..., tuple[Flask, DBJobQ]]


async def _empty_tables(url: str) -> None:
    store = SQLAlchemyStorage(url)
    await store.initialize()
    try:
        async with store.engine.begin() as conn:
            for table in reversed(metadata.sorted_tables):
                if table.name != "dbjobq_meta":
                    await conn.execute(delete(table))
    finally:
        await store.close()


def dbjobq_threads() -> list[threading.Thread]:
    """The extension's loop threads still alive."""
    return [t for t in threading.enumerate() if t.name.startswith("dbjobq-flask-")]


@pytest.fixture
def flask_url(db_url: str) -> str:
    """The current database's URL, with empty DBJobQ tables."""
    asyncio.run(_empty_tables(db_url))
    return db_url


@pytest.fixture
def make_app(flask_url: str, tmp_path: Path) -> Iterator[AppFactory]:
    """Build apps on the current database (``DBJOBQ_*`` config as keywords); all closed afterwards."""
    made: list[tuple[Flask, DBJobQ]] = []

    def factory(name: str = "testapp", jobq: DBJobQ | None = None, **config: Any) -> tuple[Flask, DBJobQ]:
        app = Flask(name, instance_path=str(tmp_path / f"instance-{name}"))
        app.config["TESTING"] = True
        app.config["DBJOBQ_DATABASE_URL"] = flask_url
        app.config.update(config)
        ext = jobq or DBJobQ()
        ext.init_app(app)
        made.append((app, ext))
        return app, ext

    yield factory
    for app, _ in made:
        app.extensions["dbjobq"].close()
    assert not dbjobq_threads(), "a DBJobQ loop thread outlived its app"


@pytest.fixture
def app_and_jobq(make_app: AppFactory) -> tuple[Flask, DBJobQ]:
    """One app with DBJobQ on the current database."""
    return make_app()
