"""The Worker in-process: lifecycle, concurrency, wake-ups, leases, timeouts, hooks and schedules."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from dbjobq import Job, JobQueue, RunResult, Schedule, StorageError, Worker
from dbjobq.storage import Outcome, SQLAlchemyStorage
from tests.core import jobs
from tests.waiting import listening, wait_until


async def finished(queue: JobQueue, count: int) -> bool:
    done = [j for j in await queue.list_jobs() if j.is_finished]
    return len(done) >= count


async def status_of(queue: JobQueue, job_id: str) -> str:
    job = await queue.get_job(job_id)
    assert job is not None
    return job.status.value


async def test_worker_runs_jobs_and_stops(queue: JobQueue) -> None:
    ids = await queue.enqueue_many(jobs.add, [{"a": n, "b": n} for n in range(30)])
    failing = await queue.enqueue(jobs.always_fails, {})
    worker = Worker(queue, poll_interval=0.05)
    assert not worker.is_running()
    await worker.start()
    assert worker.is_running()
    await wait_until(lambda: finished(queue, 31))
    await worker.stop()
    assert not worker.is_running()
    results = {j.id: j.result for j in await queue.get_completed_jobs()}
    assert results == {job_id: 2 * n for n, job_id in enumerate(ids)}
    [failed] = await queue.get_failed_jobs()
    assert failed.id == failing and failed.attempts == 3
    assert worker.stats.completed == 30 and worker.stats.failed == 1 and worker.stats.retried == 2


async def test_worker_async_with_and_pause_resume(queue: JobQueue) -> None:
    async with Worker(queue, poll_interval=0.05) as worker:
        worker.pause()
        assert worker.is_paused() and worker.is_running()
        job_id = await queue.enqueue(jobs.add, {"a": 1, "b": 2})
        # A paused worker claims nothing: the job stays pending through several poll intervals.
        deadline = time.monotonic() + 0.3
        while time.monotonic() < deadline:
            assert await status_of(queue, job_id) == "pending"
            await asyncio.sleep(0.05)
        worker.resume()
        assert not worker.is_paused()
        await wait_until(lambda: finished(queue, 1))
    assert not worker.is_running()


async def test_worker_cannot_start_twice(queue: JobQueue) -> None:
    worker = Worker(queue)
    await worker.start()
    with pytest.raises(RuntimeError):
        await worker.start()
    await worker.stop()
    await worker.stop()  # idempotent


def test_worker_rejects_bad_settings() -> None:
    queue = JobQueue(SQLAlchemyStorage("sqlite+aiosqlite:///:memory:"))
    with pytest.raises(ValueError):
        Worker(queue, concurrency=0)
    with pytest.raises(ValueError):
        Worker(queue, poll_interval=0)
    with pytest.raises(ValueError):
        Worker(queue, heartbeat_interval=30, lease_timeout=10)


async def test_worker_limits_concurrency(queue: JobQueue) -> None:
    jobs.ACTIVE.update(now=0, peak=0)
    await queue.enqueue_many(jobs.track_concurrency, [{} for _ in range(40)])
    async with Worker(queue, concurrency=4, poll_interval=0.05):
        await wait_until(lambda: finished(queue, 40))
    assert jobs.ACTIVE["peak"] == 4


async def test_worker_graceful_stop_lets_in_flight_job_finish(queue: JobQueue, tmp_path: Path) -> None:
    release, started = tmp_path / "go", tmp_path / "started"
    job_id = await queue.enqueue(jobs.wait_for_file, {"path": str(release), "started": str(started)})
    worker = Worker(queue, poll_interval=0.05)
    await worker.start()
    # Started, not only claimed: a job whose claim lands as stop() begins is released, not started.
    await wait_until(lambda: _exists(started))
    stopping = asyncio.create_task(worker.stop(timeout=20))
    await asyncio.sleep(0)  # let stop() begin before the job is released
    release.touch()
    await stopping
    job = await queue.get_job(job_id)
    assert job is not None and job.status == "completed" and job.result == "released"


async def test_worker_stop_timeout_puts_unfinished_job_back(queue: JobQueue, tmp_path: Path) -> None:
    job_id = await queue.enqueue(jobs.wait_for_file, {"path": str(tmp_path / "never")})
    worker = Worker(queue, poll_interval=0.05)
    await worker.start()
    await wait_until(lambda: _is(queue, job_id, "running"))
    await worker.stop(timeout=0.1)
    job = await queue.get_job(job_id)
    assert job is not None and job.status == "pending" and job.attempts == 0 and job.lease_token is None


async def test_worker_sync_job_does_not_stall_heartbeat(queue: JobQueue) -> None:
    job_id = await queue.enqueue(jobs.blocking_sleep, {"seconds": 1.2})
    async with Worker(queue, poll_interval=0.05, heartbeat_interval=0.1, lease_timeout=0.6):
        first = await wait_until(lambda: _lease(queue, job_id))
        # While the thread sleeps, the event loop keeps renewing the 0.6 s lease.
        await wait_until(lambda: _lease_beyond(queue, job_id, first + 0.3), timeout=1.0)
        await wait_until(lambda: _is(queue, job_id, "completed"))
    job = await queue.get_job(job_id)
    assert job is not None and job.attempts == 1


async def test_worker_timeout_fails_the_attempt(queue: JobQueue) -> None:
    job_id = await queue.enqueue(jobs.too_slow, {})
    async with Worker(queue, poll_interval=0.05):
        await wait_until(lambda: _is(queue, job_id, "failed"))
    job = await queue.get_job(job_id)
    assert job is not None and "JobTimeoutError" in (job.error or "")


async def test_worker_sync_jobs_run_in_threads(queue: JobQueue) -> None:
    await queue.enqueue(jobs.record_thread, {"key": "worker"})
    async with Worker(queue, poll_interval=0.05):
        await wait_until(lambda: finished(queue, 1))
    assert jobs.THREADS["worker"].startswith("dbjobq-job")
    assert jobs.THREADS["worker"] != threading.current_thread().name


async def test_worker_hooks_observe_each_outcome(queue: JobQueue) -> None:
    seen: list[tuple[str, str]] = []

    def hook(event: str):
        def record(job: Job, result: RunResult | None) -> None:
            seen.append((event, job.type.rsplit(".", 1)[1]))

        return record

    worker = Worker(queue, poll_interval=0.05)
    for event in ("job_started", "job_succeeded", "job_failed", "job_retried"):
        worker.on(event, hook(event))  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        worker.on("job_exploded", hook("x"))  # type: ignore[arg-type]
    await queue.enqueue(jobs.add, {"a": 1, "b": 1})
    await queue.enqueue(jobs.always_fails, {}, max_retries=1)
    async with worker:
        await wait_until(lambda: finished(queue, 2))
    assert seen.count(("job_succeeded", "add")) == 1
    assert seen.count(("job_retried", "always_fails")) == 1
    assert seen.count(("job_failed", "always_fails")) == 1
    assert seen.count(("job_started", "always_fails")) == 2


async def test_worker_wakes_in_process_without_polling(queue: JobQueue) -> None:
    async with Worker(queue, poll_interval=60):
        await asyncio.sleep(0)
        started = time.monotonic()
        job_id = await queue.enqueue(jobs.add, {"a": 1, "b": 1})
        await wait_until(lambda: _is(queue, job_id, "completed"), timeout=5)
    assert time.monotonic() - started < 5


@pytest.mark.databases("postgresql")
async def test_worker_wakes_on_postgres_notify_from_another_process(db_url: str, queue: JobQueue) -> None:
    async with SQLAlchemyStorage(db_url) as other_storage:
        producer = JobQueue(other_storage)  # shares nothing with the worker's queue
        async with Worker(queue, poll_interval=60) as worker:
            await wait_until(lambda: listening(worker))
            job_id = await producer.enqueue(jobs.add, {"a": 1, "b": 1})
            await wait_until(lambda: _is(queue, job_id, "completed"), timeout=5)


async def test_worker_burst_returns_when_drained(queue: JobQueue) -> None:
    await queue.enqueue_many(jobs.add, [{"a": n, "b": 0} for n in range(25)])
    await queue.enqueue(jobs.always_fails, {})  # retries immediately (retry_delay=0)
    later = await queue.enqueue(jobs.add, {"a": 0, "b": 0}, delay=3600)
    worker = Worker(queue, poll_interval=0.05)
    await asyncio.wait_for(worker.run(burst=True), timeout=30)
    assert not worker.is_running()
    assert len(await queue.get_completed_jobs()) == 25
    assert len(await queue.get_failed_jobs()) == 1
    assert [j.id for j in await queue.get_pending_jobs()] == [later]


async def test_worker_cancelled_running_job_is_stopped(queue: JobQueue, tmp_path: Path) -> None:
    job_id = await queue.enqueue(jobs.wait_for_file, {"path": str(tmp_path / "never")})
    async with Worker(queue, poll_interval=0.05, heartbeat_interval=0.1, lease_timeout=5) as worker:
        await wait_until(lambda: _is(queue, job_id, "running"))
        assert await queue.cancel_job(job_id)
        await wait_until(lambda: _no_running(worker))
    assert await status_of(queue, job_id) == "cancelled"


async def test_worker_schedule_fires_once_per_interval_across_three_workers(db_url: str, queue: JobQueue) -> None:
    await queue.storage.create_schedule(
        Schedule(
            id="tick",
            job_type="tests.core.jobs.noop",
            job_data={},
            schedule_type="interval",
            schedule_expression="1",
            next_run=time.time(),
        )
    )
    began = time.monotonic()  # the first occurrence is due now
    stores = [SQLAlchemyStorage(db_url) for _ in range(3)]
    for store in stores:
        await store.initialize()
    workers = [Worker(JobQueue(s), poll_interval=0.05, schedule_poll_interval=0.05) for s in stores]
    try:
        for worker in workers:
            await worker.start()
        await asyncio.sleep(6)  # the behaviour under test is a rate over wall-clock time
    finally:
        for worker in workers:
            await worker.stop()
        for store in stores:
            await store.close()
    elapsed = time.monotonic() - began  # more than 6 s on a loaded machine: starting and stopping take time
    fired = await queue.list_jobs()
    # Once per second however many workers run the scheduler: three firing each occurrence would
    # give about three times as many.
    assert 5 <= len(fired) <= int(elapsed) + 1, (len(fired), elapsed)
    assert all(j.type == "tests.core.jobs.noop" for j in fired)


async def _exists(path: Path) -> bool:
    return path.exists()


async def _is(queue: JobQueue, job_id: str, status: str) -> bool:
    return await status_of(queue, job_id) == status


async def _lease(queue: JobQueue, job_id: str) -> float | None:
    job = await queue.get_job(job_id)
    return job.lease_expires_at.timestamp() if job and job.lease_expires_at else None


async def _lease_beyond(queue: JobQueue, job_id: str, threshold: float) -> bool:
    lease = await _lease(queue, job_id)
    return lease is not None and lease > threshold



async def _no_running(worker: Worker) -> bool:
    return not worker._inflight.running


class _OutcomesFailWhile(SQLAlchemyStorage):
    """A real storage whose outcome writes fail while ``failing`` is set (an outage of that one statement)."""

    failing = True

    async def record_outcomes(self, outcomes: Sequence[Outcome]) -> set[str]:
        if self.failing:
            raise StorageError("injected: outcome writes are failing")
        return await super().record_outcomes(outcomes)


async def test_worker_stops_claiming_while_outcomes_cannot_be_recorded(db_url: str, storage: SQLAlchemyStorage) -> None:
    await JobQueue(storage).enqueue_many(jobs.noop, [{} for _ in range(300)])
    flaky = _OutcomesFailWhile(db_url)
    await flaky.initialize()
    worker = Worker(JobQueue(flaky), concurrency=2, prefetch=2, flush_size=10, poll_interval=0.05)
    try:
        await worker.start()

        async def stalled() -> bool:  # everything claimed has run; only unrecorded outcomes remain
            return len(worker._outcomes) > 10 and not worker._inflight.running and not worker._inflight.buffer

        await wait_until(stalled)
        counts = await storage.count_jobs()
        # Bounded by the flush size plus one claim, not by the 300 waiting jobs.
        assert counts[("default", "running")] <= 10 + 4 + 2
        assert counts[("default", "pending")] >= 300 - 16
        flaky.failing = False

        async def all_completed() -> bool:
            return await storage.count_jobs() == {("default", "completed"): 300}

        await wait_until(all_completed, timeout=30)
    finally:
        await worker.stop()
        await flaky.close()
