"""One row that cannot be decoded never stalls the rest: claims, listings and schedules go on."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from sqlalchemy import update

from dbjobq import JobQueue, Schedule, Worker
from dbjobq.storage import SQLAlchemyStorage
from dbjobq.storage.schema import jobs as jobs_table
from dbjobq.storage.schema import schedules as schedules_table
from tests.core import jobs

#: Stored data no worker can decode, by what is wrong with it (40 kB at most: MySQL's TEXT holds 64 kB).
BAD_DATA = {
    "not valid JSON": "{not json",
    "nested too deeply": "[" * 20_000 + "]" * 20_000,
    "not an object": "[1, 2]",
}


async def _corrupt(storage: SQLAlchemyStorage, job_id: str, **values: str) -> None:
    async with storage.engine.begin() as conn:
        await conn.execute(update(jobs_table).where(jobs_table.c.id == job_id).values(**values))


async def test_undecodable_rows_are_failed_and_the_rest_of_the_batch_is_claimed(queue: JobQueue) -> None:
    storage = queue.storage
    assert isinstance(storage, SQLAlchemyStorage)
    ids = await queue.enqueue_many(jobs.add, [{"a": n, "b": 0} for n in range(6)])
    bad = dict(zip(ids[::2], BAD_DATA.values(), strict=True))
    for job_id, data in bad.items():
        await _corrupt(storage, job_id, data=data)
    claimed = await storage.claim_jobs(10, worker_id="w", lease_timeout=30)
    assert [j.id for j in claimed] == [i for i in ids if i not in bad]
    for job_id, reason in zip(bad, BAD_DATA, strict=True):
        job = await queue.get_job(job_id)
        assert job is not None and job.status == "failed" and job.attempts == 1
        assert job.lease_token is None and job.finished_at is not None and job.data == {}
        assert job.error is not None and job.error.startswith("UndecodableJob:") and reason in job.error
        assert "failed without running" in job.error


async def test_undecodable_rows_never_stall_a_worker(queue: JobQueue) -> None:
    storage = queue.storage
    assert isinstance(storage, SQLAlchemyStorage)
    ids = await queue.enqueue_many(jobs.add, [{"a": n, "b": 1} for n in range(8)])
    for job_id, data in zip(ids[1::3], BAD_DATA.values(), strict=True):
        await _corrupt(storage, job_id, data=data)
    await asyncio.wait_for(Worker(queue, concurrency=4, poll_interval=0.05).run(burst=True), timeout=30)
    statuses = {j.id: j.status for j in await queue.list_jobs()}
    assert [statuses[i] for i in ids] == ["completed", "failed", "completed"] * 2 + ["completed", "failed"]
    assert sorted(j.result for j in await queue.get_completed_jobs()) == [1, 3, 4, 6, 7]


async def test_undecodable_rows_are_listed_as_such(queue: JobQueue) -> None:
    storage = queue.storage
    assert isinstance(storage, SQLAlchemyStorage)
    ids = await queue.enqueue_many(jobs.add, [{"a": n, "b": 0} for n in range(4)])
    await _corrupt(storage, ids[0], data=BAD_DATA["not valid JSON"])
    await _corrupt(storage, ids[1], status="exploded")
    await _corrupt(storage, ids[2], result="{truncated", status="completed")
    listed = {j.id: j for j in await queue.list_jobs()}
    assert list(listed) == ids  # the whole page, in order
    assert listed[ids[0]].data == {} and listed[ids[0]].status == "pending"
    assert "its data is not valid JSON" in (listed[ids[0]].error or "")
    assert listed[ids[1]].status == "failed" and "its status 'exploded' is not a DBJobQ status" in (
        listed[ids[1]].error or ""
    )
    assert listed[ids[2]].result is None and "its result is not valid JSON" in (listed[ids[2]].error or "")
    assert listed[ids[3]].error is None and listed[ids[3]].data == {"a": 3, "b": 0}
    single = await queue.get_job(ids[1])
    assert single is not None and (single.error or "").startswith("UndecodableJob:")
    assert len(await queue.get_pending_jobs()) == 2


async def test_undecodable_schedule_is_disabled_and_the_others_fire(
    queue: JobQueue, caplog: pytest.LogCaptureFixture
) -> None:
    storage = queue.storage
    assert isinstance(storage, SQLAlchemyStorage)
    now = time.time()
    for schedule_id in ("a-broken", "b-healthy"):
        await storage.create_schedule(
            Schedule(schedule_id, "tests.core.jobs.add", {"a": 1, "b": 1}, "interval", "60", now)
        )
    async with storage.engine.begin() as conn:
        await conn.execute(
            update(schedules_table).where(schedules_table.c.id == "a-broken").values(job_data="{not json")
        )
    with caplog.at_level(logging.ERROR, logger="dbjobq"):
        fired = await storage.fire_due_schedules(now + 1)
    [job_id] = fired
    job = await queue.get_job(job_id)
    assert job is not None and job.data == {"a": 1, "b": 1}
    broken = await storage.get_schedule("a-broken")
    assert broken is not None and broken.enabled is False and broken.job_data == {}
    assert any("a-broken" in r.getMessage() and "disabled" in r.getMessage() for r in caplog.records)
    assert [s.id for s in await storage.list_schedules()] == ["a-broken", "b-healthy"]
    assert await storage.fire_due_schedules(now + 120) != []  # the healthy one keeps its rhythm
