"""The database URLs people paste: hosting providers' ``postgres://``, driver names, unknown schemes."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url

from dbjobq import ConfigurationError, JobQueue
from dbjobq.storage import SQLAlchemyStorage
from dbjobq.storage.urls import parse_url
from tests.core import jobs


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgres+asyncpg://ann:pw@db.example.com:5432/app", "postgresql+asyncpg://ann:pw@db.example.com:5432/app"),
        ("postgresql+asyncpg://ann@db/app", "postgresql+asyncpg://ann@db/app"),
        ("sqlite+aiosqlite:///jobs.db", "sqlite+aiosqlite:///jobs.db"),
        ("mysql+aiomysql://root@db/app", "mysql+aiomysql://root@db/app"),
        # libpq's sslmode, appended by hosting providers, is asyncpg's ssl
        ("postgres+asyncpg://ann@db/app?sslmode=require", "postgresql+asyncpg://ann@db/app?ssl=require"),
    ],
)
def test_urls_accepted_forms_are_normalised(url: str, expected: str) -> None:
    assert parse_url(url).render_as_string(hide_password=False) == expected


@pytest.mark.parametrize(
    "url",
    [
        "postgres://ann:pw@db.example.com:5432/app?sslmode=require",  # what Heroku, Render, Fly.io hand out
        "postgresql://ann:pw@db.example.com:5432/app",
        "postgres+psycopg2://ann:pw@db.example.com:5432/app",
    ],
)
def test_urls_sync_postgres_forms_name_the_async_url(url: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        parse_url(url)
    message = str(info.value)
    assert "is not an async driver URL" in message
    assert "postgresql+asyncpg://ann:***@db.example.com:5432/app" in message


@pytest.mark.parametrize(
    "url",
    ["redis://localhost/0", "oracle+oracledb://u@h/db", "mssql+pyodbc://u@h/db", "cockroachdb://u@h/db", "foo+bar://x"],
)
def test_urls_unknown_schemes_are_one_clear_error(url: str) -> None:
    with pytest.raises(ConfigurationError, match=r"Unsupported database .*supports SQLite, PostgreSQL and MySQL"):
        parse_url(url)


@pytest.mark.databases("postgresql")
async def test_urls_postgres_asyncpg_scheme_runs_jobs(db_url: str, storage: SQLAlchemyStorage) -> None:
    pasted = make_url(db_url).set(drivername="postgres+asyncpg").render_as_string(hide_password=False)
    assert pasted.startswith("postgres+asyncpg://")
    async with SQLAlchemyStorage(pasted) as pasted_storage:
        assert pasted_storage.dialect == "postgresql"
        queue = JobQueue(pasted_storage)
        job_id = await queue.enqueue(jobs.add, {"a": 1, "b": 2})
        job = await queue.dequeue()
        assert job is not None and job.id == job_id
        await queue.execute_job(job)
        done = await queue.get_job(job_id)
        assert done is not None and done.result == 3
