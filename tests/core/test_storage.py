"""SQLAlchemyStorage life cycle, URLs and schema, on every database."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import inspect, select, text

from dbjobq import ConfigurationError, JobQueue, StorageClosedError, StorageError, StorageNotInitializedError
from dbjobq.storage import SQLAlchemyStorage
from dbjobq.storage.schema import SCHEMA_VERSION, meta
from tests.core import jobs


@pytest.mark.parametrize(
    ("url", "suggestion"),
    [
        ("sqlite:///jobs.db", "sqlite+aiosqlite:///jobs.db"),
        ("postgresql://user@localhost/db", "postgresql+asyncpg://user@localhost/db"),
        ("postgresql+psycopg2://user@localhost/db", "postgresql+asyncpg://user@localhost/db"),
        ("mysql://root@localhost/db", "mysql+aiomysql://root@localhost/db"),
        ("mysql+pymysql://root@localhost/db", "mysql+aiomysql://root@localhost/db"),
    ],
)
def test_storage_sync_url_names_the_async_url(url: str, suggestion: str) -> None:
    with pytest.raises(ConfigurationError, match="async driver") as info:
        SQLAlchemyStorage(url)
    assert suggestion in str(info.value)


@pytest.mark.parametrize("url", ["not a url", "oracle+oracledb://x@y/z", ""])
def test_storage_bad_url_is_a_clear_error(url: str) -> None:
    with pytest.raises(ConfigurationError):
        SQLAlchemyStorage(url)


async def test_storage_use_before_initialize_is_a_clear_error(tmp_path) -> None:
    storage = SQLAlchemyStorage(f"sqlite+aiosqlite:///{tmp_path}/x.db")
    with pytest.raises(StorageNotInitializedError, match="initialize"):
        await storage.get_job("x")
    with pytest.raises(StorageNotInitializedError, match="Storage not initialized"):
        await JobQueue(storage).enqueue("a.b", {})


async def test_storage_sqlite_missing_directory_is_named(tmp_path) -> None:
    storage = SQLAlchemyStorage(f"sqlite+aiosqlite:///{tmp_path}/missing/jobs.db")
    with pytest.raises(StorageError, match=r"directory .*missing' does not exist"):
        await storage.initialize()
    await storage.close()
    assert not (tmp_path / "missing").exists()


async def test_storage_refuses_use_after_close(storage: SQLAlchemyStorage) -> None:
    await storage.close()
    with pytest.raises(StorageClosedError):
        await storage.list_jobs()
    with pytest.raises(StorageClosedError):
        await storage.initialize()


async def test_storage_memory_sqlite_is_one_shared_database() -> None:
    async with SQLAlchemyStorage("sqlite+aiosqlite:///:memory:") as storage:
        queue = JobQueue(storage)
        ids = await asyncio.gather(*(queue.enqueue("x.y", {"n": n}) for n in range(20)))
        assert len(await queue.get_pending_jobs()) == 20
        assert {j.id for j in await queue.list_jobs()} == set(ids)


async def test_storage_initialize_is_idempotent_and_versioned(storage: SQLAlchemyStorage) -> None:
    job_id = await storage.enqueue("x.y", {"a": 1})
    await storage.initialize()
    again = SQLAlchemyStorage(storage.url)
    await again.initialize()
    try:
        assert (await again.get_job(job_id)) is not None
        async with again.engine.connect() as conn:
            version = (await conn.execute(select(meta.c.value).where(meta.c.key == "schema_version"))).scalar()
        assert version == str(SCHEMA_VERSION)
    finally:
        await again.close()


async def test_storage_initialize_is_safe_when_racing(db_url: str, storage: SQLAlchemyStorage) -> None:
    # Drop everything, then let five independent engines create the schema at once.
    from dbjobq.storage.schema import metadata

    async with storage.engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
    racers = [SQLAlchemyStorage(db_url) for _ in range(5)]
    try:
        await asyncio.gather(*(r.initialize() for r in racers))
        async with racers[0].engine.connect() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
            rows = (await conn.execute(select(meta))).all()
        assert {"dbjobq_jobs", "dbjobq_schedules", "dbjobq_workers", "dbjobq_meta"} <= tables
        assert len(rows) == 1
    finally:
        for r in racers:
            await r.close()


async def test_storage_claim_index_exists(storage: SQLAlchemyStorage) -> None:
    async with storage.engine.connect() as conn:
        names = await conn.run_sync(lambda c: {i["name"] for i in inspect(c).get_indexes("dbjobq_jobs")})
    expected = "ix_dbjobq_jobs_claim_mysql" if storage.dialect == "mysql" else "ix_dbjobq_jobs_claim"
    assert expected in names


async def test_storage_migration_guide_string_payload(storage: SQLAlchemyStorage) -> None:
    job_id = await storage.enqueue("task.name", '{"data": "value"}')
    job = await storage.get_job(job_id)
    assert job is not None and job.data == {"data": "value"}


async def test_storage_mysql_write_sends_no_rollback_after_its_commit(db_url: str) -> None:
    # The pool's reset on return (a ROLLBACK after each committed write: a round trip) is left out.
    # One pooled connection, so its session counters see every statement the enqueues sent.
    if not db_url.startswith("mysql"):
        pytest.skip("the pool's reset on return is left out on MySQL/MariaDB only")
    storage = SQLAlchemyStorage(db_url, pool_size=1, max_overflow=0)
    await storage.initialize()

    async def counters() -> dict[str, int]:
        status = text("SHOW SESSION STATUS WHERE Variable_name IN ('Com_commit', 'Com_rollback')")
        async with storage._db.transaction() as conn:  # committed: no rollback of its own
            return {name: int(value) for name, value in (await conn.execute(status)).all()}

    try:
        before = await counters()
        for n in range(5):
            await JobQueue(storage).enqueue(jobs.add, {"a": n, "b": 0})
        after = await counters()
    finally:
        await storage.close()
    assert after["Com_commit"] - before["Com_commit"] >= 5  # each enqueue committed
    assert after["Com_rollback"] == before["Com_rollback"]
