"""Listing, cancelling, retrying and purging jobs."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import update

from dbjobq import JobNotFoundError, JobQueue
from dbjobq.storage import SQLAlchemyStorage
from dbjobq.storage.schema import jobs as jobs_table
from tests.core import jobs


async def test_management_list_filters_and_paginates(queue: JobQueue) -> None:
    ids = [await queue.enqueue(jobs.add, {"a": n, "b": 0}) for n in range(5)]
    mail = await queue.enqueue(jobs.send_email, {})
    assert [j.id for j in await queue.list_jobs(limit=2)] == ids[:2]
    assert [j.id for j in await queue.list_jobs(limit=2, offset=2)] == ids[2:4]
    assert [j.id for j in await queue.list_jobs(queue="mail")] == [mail]
    assert len(await queue.get_pending_jobs()) == 6
    assert await queue.get_running_jobs() == []
    claimed = await queue.dequeue()
    assert claimed is not None and claimed.id == mail  # priority 5 first
    assert [j.id for j in await queue.get_running_jobs()] == [mail]
    with pytest.raises(ValueError):
        await queue.list_jobs(limit=-1)


async def test_management_cancel_pending_job(queue: JobQueue) -> None:
    job_id = await queue.enqueue(jobs.add, {"a": 1, "b": 1})
    assert await queue.cancel_job(job_id) is True
    job = await queue.get_job(job_id)
    assert job is not None and job.status == "cancelled" and job.finished_at is not None
    assert await queue.dequeue() is None
    assert await queue.cancel_job(job_id) is False


async def test_management_cancel_running_job_rejects_its_late_outcome(queue: JobQueue) -> None:
    job_id = await queue.enqueue(jobs.add, {"a": 1, "b": 1})
    claimed = await queue.dequeue()
    assert claimed is not None
    assert await queue.cancel_job(job_id) is True
    await queue.execute_job(claimed)  # finishes after the cancel: must not overwrite it
    job = await queue.get_job(job_id)
    assert job is not None and job.status == "cancelled" and job.result is None


async def test_management_unknown_id_is_a_clear_error(queue: JobQueue) -> None:
    with pytest.raises(JobNotFoundError, match="nope"):
        await queue.cancel_job("nope")
    with pytest.raises(JobNotFoundError):
        await queue.retry_job("nope")
    assert await queue.get_job("nope") is None


async def test_management_retry_failed_job(queue: JobQueue) -> None:
    job_id = await queue.enqueue(jobs.always_fails, {}, max_retries=0)
    job = await queue.dequeue()
    assert job is not None
    await queue.execute_job(job)
    assert await queue.retry_job(job_id) is True
    job = await queue.get_job(job_id)
    assert job is not None and job.status == "pending" and job.attempts == 0 and job.finished_at is None
    assert await queue.retry_job(job_id) is False  # pending: nothing to retry
    claimed = await queue.dequeue()
    assert claimed is not None and claimed.id == job_id and claimed.attempts == 1


async def test_management_purge_removes_only_old_finished_jobs(storage: SQLAlchemyStorage) -> None:
    queue = JobQueue(storage)
    old_done, new_done, old_failed, pending = [await queue.enqueue(jobs.add, {"a": n, "b": 0}) for n in range(4)]
    for job_id in (old_done, new_done, old_failed):
        await storage.cancel_job(job_id)
    week_ago = time.time() - 8 * 86400
    async with storage.engine.begin() as conn:
        await conn.execute(
            update(jobs_table).where(jobs_table.c.id.in_([old_done, old_failed])).values(finished_at=week_ago)
        )
        await conn.execute(update(jobs_table).where(jobs_table.c.id == old_failed).values(status="failed"))
    assert await queue.purge(older_than=7 * 86400, statuses=["cancelled"]) == 1
    remaining = {j.id for j in await queue.list_jobs()}
    assert remaining == {new_done, old_failed, pending}
    assert await queue.purge(older_than=7 * 86400) == 1
    assert {j.id for j in await queue.list_jobs()} == {new_done, pending}


async def test_management_purge_in_batches_reports_progress(storage: SQLAlchemyStorage) -> None:
    queue = JobQueue(storage)
    ids = await queue.enqueue_many(jobs.add, [{"a": n, "b": 0} for n in range(25)])
    async with storage.engine.begin() as conn:
        await conn.execute(
            update(jobs_table).where(jobs_table.c.id.in_(ids)).values(status="completed", finished_at=1.0)
        )
    progress: list[int] = []
    assert await storage.purge(60, ["completed"], batch_size=10, on_progress=progress.append) == 25
    assert progress == [10, 10, 5]


async def test_management_purge_rejects_bad_input(queue: JobQueue) -> None:
    with pytest.raises(ValueError):
        await queue.purge(older_than=-5)
    with pytest.raises(ValueError, match="Unknown job status"):
        await queue.purge(statuses=["gone"])
    with pytest.raises(ValueError, match="finished"):
        await queue.purge(statuses=["pending"])
