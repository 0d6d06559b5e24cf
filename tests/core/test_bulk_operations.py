"""Bulk retry, cancel, counts and purge dry runs through JobQueue, on every database."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import update

from dbjobq import JobQueue, JobStatus
from dbjobq.storage import SQLAlchemyStorage
from dbjobq.storage.schema import jobs as jobs_table


async def _set(queue: JobQueue, ids: list[str], **values: object) -> None:
    storage = queue.storage
    assert isinstance(storage, SQLAlchemyStorage)
    async with storage.engine.begin() as conn:
        await conn.execute(update(jobs_table).where(jobs_table.c.id.in_(ids)).values(**values))


async def test_bulk_cancel_by_queue_type_status_and_age(queue: JobQueue) -> None:
    now = time.time()
    old_a = await queue.enqueue_many("x.a", [{}] * 3, queue="q1")
    new_a = await queue.enqueue_many("x.a", [{}] * 2, queue="q1")
    other = await queue.enqueue_many("x.b", [{}] * 2, queue="q1")
    elsewhere = await queue.enqueue_many("x.a", [{}], queue="q2")
    await _set(queue, old_a, created_at=now - 7200)
    await _set(queue, old_a[:1], status="running", lease_token="t", worker_id="w")

    filters = {"queue": "q1", "job_type": "x.a", "older_than": 3600}
    assert await queue.count_jobs(["pending", "running"], **filters) == 3  # type: ignore[arg-type]
    assert await queue.cancel_jobs(**filters) == 3  # type: ignore[arg-type]
    for job_id in old_a:
        job = await queue.get_job(job_id)
        assert job is not None and job.status == "cancelled" and job.finished_at is not None
        assert job.lease_token is None  # a running job's late outcome will be rejected
    for job_id in new_a + other + elsewhere:
        job = await queue.get_job(job_id)
        assert job is not None and job.status == "pending"
    assert await queue.cancel_jobs("pending", job_type="x.b") == 2
    assert await queue.count_jobs("pending") == 3


async def test_bulk_retry_failed_and_cancelled(queue: JobQueue) -> None:
    failed = await queue.enqueue_many("x.a", [{}] * 3, queue="q1")
    cancelled = await queue.enqueue_many("x.a", [{}] * 2, queue="q1")
    await _set(queue, failed, status="failed", attempts=3, finished_at=time.time(), error="boom")
    await _set(queue, cancelled, status="cancelled", finished_at=time.time())

    assert await queue.retry_jobs(queue="q1") == 3  # failed only, by default
    assert await queue.count_jobs("pending") == 3
    job = await queue.get_job(failed[0])
    assert job is not None and job.attempts == 0 and job.finished_at is None
    assert await queue.retry_jobs([JobStatus.FAILED, "cancelled"]) == 2
    assert await queue.count_jobs("pending") == 5
    assert await queue.retry_jobs("cancelled") == 0


async def test_bulk_operations_run_in_batches(queue: JobQueue) -> None:
    storage = queue.storage
    assert isinstance(storage, SQLAlchemyStorage)
    ids = await queue.enqueue_many("x.a", [{}] * 5)
    assert await storage.cancel_matching(job_type="x.a", batch_size=2) == 5
    assert await storage.retry_matching(status="cancelled", batch_size=2) == 5
    assert await queue.count_jobs("pending") == len(ids)


async def test_bulk_operations_refuse_statuses_they_cannot_change(queue: JobQueue) -> None:
    [job_id] = await queue.enqueue_many("x.a", [{}])
    with pytest.raises(ValueError, match="Only pending or running jobs can be cancelled"):
        await queue.cancel_jobs("completed")
    with pytest.raises(ValueError, match="Only failed or cancelled jobs can be retried"):
        await queue.retry_jobs("pending")
    with pytest.raises(ValueError, match="Unknown job status 'nope'"):
        await queue.count_jobs("nope")
    with pytest.raises(ValueError, match="older_than"):
        await queue.cancel_jobs(older_than=-1)
    job = await queue.get_job(job_id)
    assert job is not None and job.status == "pending"


async def test_bulk_purge_dry_run_counts_without_deleting(queue: JobQueue) -> None:
    done = await queue.enqueue_many("x.a", [{}] * 3)
    await _set(queue, done[:2], status="completed", finished_at=time.time() - 10 * 86400)
    await _set(queue, done[2:], status="completed", finished_at=time.time())
    assert await queue.purge(older_than=86400, dry_run=True) == 2
    assert await queue.count_jobs("completed") == 3
    assert await queue.purge(older_than=86400) == 2
    assert await queue.count_jobs("completed") == 1
