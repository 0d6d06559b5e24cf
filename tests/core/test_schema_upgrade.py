"""A database made by an older dbjobq is upgraded by initialize(), from schema version 1, on every database."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import Connection, inspect, select, text, update

from dbjobq import JobQueue
from dbjobq.storage import SQLAlchemyStorage
from dbjobq.storage.schema import (
    FINISHED_INDEX,
    QUEUE_STATUS_INDEX,
    SCHEMA_VERSION,
    UNIQUE_KEY_INDEX,
    WAITING_INDEX,
    limits,
    meta,
    queues,
)


async def _make_version_1(storage: SQLAlchemyStorage) -> None:
    """Turn the fresh tables into what dbjobq 0.2.0 made: no queue index, no schedule tz/origin, no job
    meta, no queues table, no flow control (jobs' unique_key/flow_key/depends_on, their index,
    dbjobq_limits), TEXT payload columns (64 KB on MySQL/MariaDB), no workers' job_types, a (status,
    finished_at) index over every row, no waiting jobs' index, version 1."""
    async with storage.engine.begin() as conn:
        if conn.dialect.name != "mysql":
            await conn.execute(text(f"DROP INDEX {FINISHED_INDEX.name}"))
            await conn.execute(text(f"CREATE INDEX {FINISHED_INDEX.name} ON dbjobq_jobs (status, finished_at)"))
            await conn.run_sync(WAITING_INDEX.drop)
        await conn.run_sync(QUEUE_STATUS_INDEX.drop)
        if conn.dialect.name == "mysql":
            await conn.execute(text("DROP INDEX ux_dbjobq_jobs_unique_key ON dbjobq_jobs"))
            await conn.execute(text("ALTER TABLE dbjobq_jobs DROP COLUMN unique_active"))
        else:
            await conn.run_sync(UNIQUE_KEY_INDEX.drop)
        for column in ("unique_key", "flow_key", "depends_on"):
            await conn.execute(text(f"ALTER TABLE dbjobq_jobs DROP COLUMN {column}"))
        await conn.run_sync(limits.drop)
        for column in ("tz", "origin"):
            await conn.execute(text(f"ALTER TABLE dbjobq_schedules DROP COLUMN {column}"))
        await conn.execute(text("ALTER TABLE dbjobq_jobs DROP COLUMN meta"))
        await conn.run_sync(queues.drop)
        await conn.execute(text("ALTER TABLE dbjobq_workers DROP COLUMN job_types"))
        if storage.dialect == "mysql":
            await conn.execute(
                text(
                    "ALTER TABLE dbjobq_jobs MODIFY data TEXT NOT NULL, MODIFY error TEXT NULL, MODIFY result TEXT NULL"
                )
            )
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
        await conn.execute(
            text(
                "INSERT INTO dbjobq_jobs (id, type, queue, data, status, priority, attempts, max_retries, "
                "created_at, updated_at, execute_at) VALUES "
                "('00000000-0000-7000-8000-000000000001', 'x.old', 'default', '{}', 'pending', 0, 0, 0, "
                ":now, :now, :now)"
            ),
            {"now": now},
        )


async def _state(url: object) -> tuple[str, set[str], set[str]]:
    """The version row, the jobs' indexes, the columns of the schedules, jobs and workers tables (and the
    tables, as ``table:NAME``; the payload columns' types as ``jobs.NAME:TYPE``)."""
    async with SQLAlchemyStorage(url) as storage, storage.engine.connect() as conn:  # type: ignore[arg-type]
        version = (await conn.execute(select(meta.c.value).where(meta.c.key == "schema_version"))).scalar()
        indexes = await conn.run_sync(lambda c: {ix["name"] for ix in inspect(c).get_indexes("dbjobq_jobs")})
        if conn.dialect.name != "mysql" and await conn.run_sync(_finished_index_is_partial):
            indexes.add("finished index: partial")
        columns = await conn.run_sync(
            lambda c: {
                col["name"]
                for t in ("dbjobq_schedules", "dbjobq_jobs", "dbjobq_workers")
                for col in inspect(c).get_columns(t)
            }
            | {f"table:{name}" for name in inspect(c).get_table_names()}
            | {
                f"jobs.{col['name']}:{col['type'].compile(dialect=c.dialect)}"
                for col in inspect(c).get_columns("dbjobq_jobs")
                if col["name"] in ("data", "error", "result")
            }
        )
    return str(version), indexes, columns


def _finished_index_is_partial(conn: Connection) -> bool:
    if conn.dialect.name == "postgresql":
        sql = "SELECT indexdef FROM pg_indexes WHERE indexname = :name"
    else:
        sql = "SELECT sql FROM sqlite_master WHERE name = :name"
    return "finished_at IS NOT NULL" in str(conn.execute(text(sql), {"name": FINISHED_INDEX.name}).scalar())


def _upgraded_indexes(dialect: str) -> set[str]:
    partial = {"finished index: partial", WAITING_INDEX.name} if dialect != "mysql" else set()
    return {QUEUE_STATUS_INDEX.name, UNIQUE_KEY_INDEX.name, FINISHED_INDEX.name} | partial


FLOW_COLUMNS = {"unique_key", "flow_key", "depends_on", "table:dbjobq_limits"}


def _upgraded_payloads(dialect: str) -> set[str]:
    kind = "LONGTEXT" if dialect == "mysql" else "TEXT"
    return {f"jobs.{name}:{kind}" for name in ("data", "error", "result")}


async def test_schema_upgrade_from_version_1(storage: SQLAlchemyStorage) -> None:
    await _make_version_1(storage)
    async with SQLAlchemyStorage(storage.url) as upgraded:
        [old] = await JobQueue(upgraded).list_schedules()
        assert (old.id, old.tz, old.origin) == ("old", None, "operator")  # rows from before keep working
        [old_job] = await JobQueue(upgraded).list_jobs()
        assert (old_job.type, old_job.meta, old_job.progress) == ("x.old", {}, None)
        await JobQueue(upgraded).pause_queue("default")
        assert [q.paused for q in await JobQueue(upgraded).list_queues()] == [True]
        # Unique keys hold on the upgraded table (its index, or MySQL's generated column, is there).
        first = await JobQueue(upgraded).enqueue("x.report", unique_key="k")
        assert await JobQueue(upgraded).enqueue("x.report", unique_key="k") == first
    version, indexes, columns = await _state(storage.url)
    assert version == str(SCHEMA_VERSION) == "8"
    assert _upgraded_indexes(storage.dialect) <= indexes
    assert {"tz", "origin", "meta", "table:dbjobq_queues"} | FLOW_COLUMNS <= columns
    assert "job_types" in columns and _upgraded_payloads(storage.dialect) <= columns


async def test_schema_upgrade_by_three_processes_at_once(storage: SQLAlchemyStorage) -> None:
    await _make_version_1(storage)
    racers = [SQLAlchemyStorage(storage.url) for _ in range(3)]
    try:
        await asyncio.gather(*(racer.initialize() for racer in racers))
    finally:
        await asyncio.gather(*(racer.close() for racer in racers))
    version, indexes, columns = await _state(storage.url)
    assert version == str(SCHEMA_VERSION)
    assert _upgraded_indexes(storage.dialect) <= indexes and {"tz", "origin", "meta", "table:dbjobq_queues"} <= columns
    assert columns >= FLOW_COLUMNS
    assert "job_types" in columns and _upgraded_payloads(storage.dialect) <= columns
