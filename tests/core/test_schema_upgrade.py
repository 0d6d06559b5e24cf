"""A database made by an older dbjobq is upgraded by initialize(), from schema version 1, on every database."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import inspect, select, text, update

from dbjobq import JobQueue
from dbjobq.storage import SQLAlchemyStorage
from dbjobq.storage.schema import QUEUE_STATUS_INDEX, SCHEMA_VERSION, meta


async def _make_version_1(storage: SQLAlchemyStorage) -> None:
    """Turn the fresh tables into what dbjobq 0.2.0 made: no queue index, no schedule tz/origin, version 1."""
    async with storage.engine.begin() as conn:
        await conn.run_sync(QUEUE_STATUS_INDEX.drop)
        for column in ("tz", "origin"):
            await conn.execute(text(f"ALTER TABLE dbjobq_schedules DROP COLUMN {column}"))
        await conn.execute(update(meta).where(meta.c.key == "schema_version").values(value="1"))
        now = time.time()
        await conn.execute(
            text(
                "INSERT INTO dbjobq_schedules (id, job_type, job_data, queue, schedule_type, schedule_expression, "
                "next_run, enabled, priority, max_retries, created_at, updated_at) VALUES "
                "('old', 'x.report', '{}', 'default', 'cron', '0 3 * * *', :now, :yes, 0, 0, :now, :now)"
            ),
            {"now": now, "yes": True},
        )


async def _state(url: object) -> tuple[str, set[str], set[str]]:
    async with SQLAlchemyStorage(url) as storage, storage.engine.connect() as conn:  # type: ignore[arg-type]
        version = (await conn.execute(select(meta.c.value).where(meta.c.key == "schema_version"))).scalar()
        indexes = await conn.run_sync(lambda c: {ix["name"] for ix in inspect(c).get_indexes("dbjobq_jobs")})
        columns = await conn.run_sync(lambda c: {col["name"] for col in inspect(c).get_columns("dbjobq_schedules")})
    return str(version), indexes, columns


async def test_schema_upgrade_from_version_1(storage: SQLAlchemyStorage) -> None:
    await _make_version_1(storage)
    async with SQLAlchemyStorage(storage.url) as upgraded:
        [old] = await JobQueue(upgraded).list_schedules()
        assert (old.id, old.tz, old.origin) == ("old", None, "operator")  # rows from before keep working
    version, indexes, columns = await _state(storage.url)
    assert version == str(SCHEMA_VERSION) == "3"
    assert QUEUE_STATUS_INDEX.name in indexes
    assert {"tz", "origin"} <= columns


async def test_schema_upgrade_by_three_processes_at_once(storage: SQLAlchemyStorage) -> None:
    await _make_version_1(storage)
    racers = [SQLAlchemyStorage(storage.url) for _ in range(3)]
    try:
        await asyncio.gather(*(racer.initialize() for racer in racers))
    finally:
        await asyncio.gather(*(racer.close() for racer in racers))
    version, indexes, columns = await _state(storage.url)
    assert version == str(SCHEMA_VERSION)
    assert QUEUE_STATUS_INDEX.name in indexes and {"tz", "origin"} <= columns
