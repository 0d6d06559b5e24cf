"""Nothing one job does stalls or kills its worker; each job starts clean; burst mode runs recovered jobs."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from dbjobq import Job, JobQueue, Worker
from dbjobq.execution import LOG_LIMIT, cut, format_error, safe_repr
from dbjobq.storage import SQLAlchemyStorage
from tests.core import jobs
from tests.waiting import wait_until


async def _burst(queue: JobQueue, **options: Any) -> Worker:
    worker = Worker(queue, poll_interval=0.05, **options)
    await asyncio.wait_for(worker.run(burst=True), timeout=60)
    return worker


async def _job(queue: JobQueue, job_id: str) -> Job:
    job = await queue.get_job(job_id)
    assert job is not None
    return job


# -- each job starts from a clean context -------------------------------------------------------------
async def test_worker_each_job_starts_from_the_start_up_context(queue: JobQueue) -> None:
    token = jobs.TENANT.set("worker start-up")
    try:
        first = await queue.enqueue(jobs.set_tenant, {"tenant": "acme"})  # priority 10: runs first
        second = await queue.enqueue(jobs.read_tenant, {})
        third = await queue.enqueue(jobs.read_tenant_sync, {})
        # One slot: each next job is started as the previous one ends, from inside its task.
        worker = Worker(queue, poll_interval=0.05, concurrency=1, prefetch=5)
        await worker.start()
        jobs.TENANT.set("changed after start")  # the start-up context was taken at start()
        try:
            await wait_until(lambda: _finished(queue, 3))
        finally:
            await worker.stop()
    finally:
        jobs.TENANT.reset(token)
    assert (await _job(queue, first)).result == "acme"
    assert (await _job(queue, second)).result == "worker start-up"
    assert (await _job(queue, third)).result == "worker start-up"


async def _finished(queue: JobQueue, count: int) -> bool:
    return len([j for j in await queue.list_jobs() if j.is_finished]) >= count


# -- whatever a job raises is a failed attempt --------------------------------------------------------
MISBEHAVING: dict[str, tuple[Callable[..., Any], str]] = {
    "sys.exit in a sync job": (jobs.exits_sync, "SystemExit: 3"),
    "sys.exit in an async job": (jobs.exits_async, "SystemExit: 4"),
    "KeyboardInterrupt": (jobs.raises_keyboard_interrupt, "KeyboardInterrupt"),
    "CancelledError raised by the job": (jobs.raises_cancelled_error, "CancelledError: raised by the job itself"),
    "an exception that cannot be printed": (
        jobs.raises_unprintable,
        "UnprintableError: <the exception's message could not be printed>",
    ),
}


@pytest.mark.parametrize("case", MISBEHAVING)
async def test_worker_survives_whatever_a_job_raises(queue: JobQueue, case: str) -> None:
    func, error = MISBEHAVING[case]
    bad = await queue.enqueue(func, {})
    good = await queue.enqueue_many(jobs.add, [{"a": n, "b": 1} for n in range(3)])
    worker = await _burst(queue)  # returns: the worker neither died nor hung
    failed = await _job(queue, bad)
    assert failed.status == "failed", failed
    assert failed.error is not None and failed.error.startswith(error), failed.error
    assert "Traceback (most recent call last)" in failed.error
    assert [(await _job(queue, i)).result for i in good] == [1, 2, 3]
    assert await queue.get_running_jobs() == []
    assert (worker.stats.failed, worker.stats.completed) == (1, 3)


# -- bounded error text (Worker(error_limit=…); by default errors are stored whole) -------------------
ERROR_LIMIT = 60_000


async def test_worker_stores_the_start_and_end_of_a_huge_error(
    queue: JobQueue, caplog: pytest.LogCaptureFixture
) -> None:
    job_id = await queue.enqueue(jobs.raises_huge, {"size": 5_000_000})
    with caplog.at_level(logging.INFO, logger="dbjobq"):
        await _burst(queue, error_limit=ERROR_LIMIT)
    job = await _job(queue, job_id)
    error = job.error or ""
    assert job.status == "failed" and len(error) <= ERROR_LIMIT
    assert error.startswith("ValueError: start-xxx")
    assert "characters cut] …" in error
    assert "Traceback (most recent call last)" in error and "raises_huge" in error  # the stack survives
    assert error.rstrip().endswith("-end")
    [line] = [r for r in caplog.records if getattr(r, "action", None) == "job_failed"]
    assert len(line.getMessage()) < LOG_LIMIT + 500


def test_worker_error_helpers_are_bounded_and_never_raise() -> None:
    class BadRepr:
        def __repr__(self) -> str:
            raise SystemExit("no repr")

    assert safe_repr(BadRepr()) == "<BadRepr (repr failed)>"
    assert len(safe_repr("y" * 100_000, 1000)) <= 1000
    text = cut("a" * 1000 + "b" * 1000, 200)
    assert text.startswith("a" * 80) and text.endswith("b" * 80) and "[1840 characters cut]" in text
    assert cut("short", 200) == "short"
    assert format_error(jobs.UnprintableError()).startswith("UnprintableError: <the exception's message")
    assert format_error(ValueError("z" * 100_000)).startswith("ValueError: " + "z" * 100_000)  # whole by default


# -- abandoned sync threads ---------------------------------------------------------------------------
async def test_worker_sync_jobs_run_beside_abandoned_threads(
    queue: JobQueue, caplog: pytest.LogCaptureFixture
) -> None:
    key = uuid.uuid4().hex
    release = jobs.RELEASES.setdefault(key, __import__("threading").Event())
    try:
        hung = await queue.enqueue_many(jobs.hangs, [{"key": key}, {"key": key}], priority=5)
        quick = await queue.enqueue_many(jobs.add, [{"a": n, "b": 0} for n in range(6)])
        # Both slots' threads hang past their timeout; the next sync jobs still run, at once.
        worker = Worker(queue, poll_interval=0.05, concurrency=2)
        with caplog.at_level(logging.WARNING, logger="dbjobq"):
            await asyncio.wait_for(worker.run(burst=True), timeout=20)
        assert not release.is_set()  # the hung threads are still running
        for job_id in hung:
            job = await _job(queue, job_id)
            assert job.status == "failed" and "JobTimeoutError" in (job.error or "")
        assert [(await _job(queue, i)).result for i in quick] == list(range(6))
        [line] = [r for r in caplog.records if getattr(r, "action", None) == "threads_abandoned"]
        assert len(line.threads) == 2  # type: ignore[attr-defined]
        assert worker._threads.abandoned_count() == 2
    finally:
        release.set()
    await wait_until(lambda: _zero(worker._threads.abandoned_count()))


async def _zero(value: int) -> bool:
    return value == 0


# -- burst mode runs what its own recovery requeues ---------------------------------------------------
async def test_worker_burst_runs_a_job_recovered_from_a_dead_worker(storage: SQLAlchemyStorage) -> None:
    queue = JobQueue(storage)
    for attempt in range(20):
        job_id = await queue.enqueue(jobs.add, {"a": attempt, "b": 0}, max_retries=1)
        [claimed] = await storage.claim_jobs(1, worker_id="dead-worker", lease_timeout=0.05)
        assert claimed.id == job_id
        assert claimed.lease_expires_at is not None
        expired = claimed.lease_expires_at.timestamp() + 0.05
        await wait_until(functools.partial(_past, expired))  # the dead worker's lease has expired
        await _burst(queue)
        job = await _job(queue, job_id)
        assert (job.status, job.result, job.attempts) == ("completed", attempt, 2), f"pass {attempt}: {job}"


async def _past(moment: float) -> bool:
    return time.time() > moment
