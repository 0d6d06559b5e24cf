"""Schedules: validation, storage, and exactly-once firing across workers."""

from __future__ import annotations

import asyncio
import time

import pytest

from dbjobq import JobQueue, Schedule, ScheduleExistsError, ScheduleNotFoundError
from dbjobq.scheduling import next_after
from dbjobq.storage import SQLAlchemyStorage


def make(schedule_id: str = "s1", **overrides: object) -> Schedule:
    fields: dict[str, object] = {
        "id": schedule_id,
        "job_type": "tests.core.jobs.noop",
        "job_data": {"target": "temp_files"},
        "schedule_type": "interval",
        "schedule_expression": "3600",
        "next_run": time.time(),
    }
    fields.update(overrides)
    return Schedule(**fields)  # type: ignore[arg-type]


async def test_schedules_create_get_list_update_delete(storage: SQLAlchemyStorage) -> None:
    await storage.create_schedule(make("b", schedule_type="cron", schedule_expression="*/5 * * * *"))
    await storage.create_schedule(make("a", enabled=False, priority=3, max_retries=2))
    got = await storage.get_schedule("a")
    assert got is not None and (got.enabled, got.priority, got.max_retries) == (False, 3, 2)
    assert got.job_data == {"target": "temp_files"} and got.last_run is None
    assert [s.id for s in await storage.list_schedules()] == ["a", "b"]
    assert [s.id for s in await storage.list_schedules(enabled_only=True)] == ["b"]
    got.enabled = True
    await storage.update_schedule(got)
    assert (await storage.get_schedule("a")).enabled is True  # type: ignore[union-attr]
    await storage.update_schedule_next_run("a", 123.5, 100.25)
    moved = await storage.get_schedule("a")
    assert moved is not None and (moved.next_run, moved.last_run) == (123.5, 100.25)
    assert await storage.delete_schedule("a") is True
    assert await storage.delete_schedule("a") is False
    assert await storage.get_schedule("a") is None
    with pytest.raises(ScheduleNotFoundError):
        await storage.update_schedule(make("zzz"))


@pytest.mark.parametrize(
    ("schedule_type", "expression"),
    [("cron", "61 * * * *"), ("cron", "every day"), ("interval", "-5"), ("interval", "soon"), ("hourly", "1")],
)
async def test_schedules_invalid_expression_is_rejected_and_nothing_written(
    storage: SQLAlchemyStorage, schedule_type: str, expression: str
) -> None:
    with pytest.raises(ValueError):
        await storage.create_schedule(make(schedule_type=schedule_type, schedule_expression=expression))
    assert await storage.list_schedules() == []


async def test_schedules_bad_data_is_rejected(storage: SQLAlchemyStorage) -> None:
    with pytest.raises(TypeError):
        await storage.create_schedule(make(job_data={"x": object()}))
    assert await storage.list_schedules() == []


async def test_schedules_duplicate_id_is_a_clear_error(storage: SQLAlchemyStorage) -> None:
    await storage.create_schedule(make("dup"))
    with pytest.raises(ScheduleExistsError, match="'dup' already exists"):
        await storage.create_schedule(make("dup", schedule_expression="60"))
    [only] = await storage.list_schedules()
    assert only.schedule_expression == "3600"


async def test_schedules_fire_once_across_concurrent_workers(db_url: str, storage: SQLAlchemyStorage) -> None:
    now = time.time()
    await storage.create_schedule(make("every-minute", schedule_expression="60", next_run=now - 1))
    await storage.create_schedule(make("later", next_run=now + 3600))
    stores = [storage] + [SQLAlchemyStorage(db_url) for _ in range(4)]
    for extra in stores[1:]:
        await extra.initialize()
    try:
        results = await asyncio.gather(*(s.fire_due_schedules(now) for s in stores for _ in range(3)))
    finally:
        for extra in stores[1:]:
            await extra.close()
    fired = [job_id for ids in results for job_id in ids]
    assert len(fired) == 1
    queue = JobQueue(storage)
    [job] = await queue.list_jobs()
    assert job.type == "tests.core.jobs.noop" and job.data == {"target": "temp_files"}
    schedule = await storage.get_schedule("every-minute")
    assert schedule is not None and schedule.last_run == pytest.approx(now)
    assert now < schedule.next_run <= now + 60


async def test_schedules_missed_runs_after_downtime_fire_once(storage: SQLAlchemyStorage) -> None:
    now = time.time()
    await storage.create_schedule(make("ten-s", schedule_expression="10", next_run=now - 3600))
    assert len(await storage.fire_due_schedules(now)) == 1
    assert await storage.fire_due_schedules(now + 1) == []
    schedule = await storage.get_schedule("ten-s")
    assert schedule is not None and now < schedule.next_run <= now + 10
    # The interval keeps its phase: next_run is the original one plus a whole number of intervals.
    assert round((schedule.next_run - (now - 3600)) / 10, 6) % 1 == 0


async def test_schedules_disabled_never_fire(storage: SQLAlchemyStorage) -> None:
    await storage.create_schedule(make("off", enabled=False, next_run=time.time() - 10))
    assert await storage.fire_due_schedules(time.time()) == []


def test_schedules_cron_next_fire_time() -> None:
    schedule = make(schedule_type="cron", schedule_expression="0 * * * *", next_run=0.0)
    at = 1_700_000_000.0  # 22:13:20 UTC
    assert next_after(schedule, at) == 1_700_002_800.0  # 23:00 UTC
