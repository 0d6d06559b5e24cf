"""SQLite's hot path (enqueues, claims, outcomes): its own connection and thread, waiting for the write
lock itself, one transaction per call, and the same rows as everywhere else."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from dbjobq import JobQueue, Worker, errors
from dbjobq.models import JobStatus, NewJob, Outcome
from dbjobq.registry import job_name
from dbjobq.storage import SQLAlchemyStorage
from tests.core import jobs
from tests.waiting import wait_until

NOOP = job_name(jobs.noop)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "jobs.sqlite3"


@pytest.fixture
async def queue(path: Path) -> AsyncIterator[JobQueue]:
    async with SQLAlchemyStorage(f"sqlite+aiosqlite:///{path}") as storage:
        yield JobQueue(storage)


async def test_sqlite_enqueue_waits_for_a_lock_held_by_another_connection(queue: JobQueue, path: Path) -> None:
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the lock (the enqueue path has no busy timeout)
    released = asyncio.Event()

    def release() -> None:
        other.execute("COMMIT")
        released.set()

    asyncio.get_running_loop().call_later(0.3, release)
    job_id = await queue.enqueue(jobs.noop, {"n": 1})
    assert released.is_set()  # it waited for the lock rather than failing with "database is locked"
    other.close()
    job = await queue.get_job(job_id)
    assert job is not None and job.status == "pending" and job.data == {"n": 1}


async def test_sqlite_claim_and_outcomes_wait_for_a_lock_held_by_another_connection(
    queue: JobQueue, path: Path
) -> None:
    job_id = await queue.enqueue(jobs.noop, {"n": 1})
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    storage = queue.storage

    async def while_locked(call: Any) -> Any:
        other.execute("BEGIN IMMEDIATE")
        released = asyncio.Event()

        def release() -> None:
            other.execute("COMMIT")
            released.set()

        asyncio.get_running_loop().call_later(0.2, release)
        value = await call
        assert released.is_set()  # it waited for the lock rather than failing with "database is locked"
        return value

    claimed = await while_locked(storage.claim_jobs(5, worker_id="w", lease_timeout=30))
    assert [j.id for j in claimed] == [job_id] and claimed[0].attempts == 1
    done = Outcome(job_id, claimed[0].lease_token or "", JobStatus.COMPLETED, result='{"ok": true}')
    assert await while_locked(storage.record_outcomes([done])) == {job_id}
    other.close()
    job = await queue.get_job(job_id)
    assert job is not None and job.status == "completed" and job.result == {"ok": True} and job.finished_at


async def test_sqlite_outcomes_of_several_kinds_land_together_and_stay_fenced(queue: JobQueue) -> None:
    ids = await queue.enqueue_many(jobs.noop, [{"n": n} for n in range(4)], max_retries=3)
    claimed = {j.id: j for j in await queue.storage.claim_jobs(10, worker_id="w", lease_timeout=30)}
    assert set(claimed) == set(ids)
    done, retried, snoozed, stale = (claimed[i] for i in ids)
    accepted = await queue.storage.record_outcomes(
        [
            Outcome(done.id, done.lease_token or "", JobStatus.COMPLETED),
            Outcome(retried.id, retried.lease_token or "", JobStatus.PENDING, error="E: boom", retry_in=60),
            Outcome(snoozed.id, snoozed.lease_token or "", JobStatus.PENDING, retry_in=0, snoozed=True),
            Outcome(stale.id, "not-its-token", JobStatus.COMPLETED),
        ]
    )
    assert accepted == {done.id, retried.id, snoozed.id}  # the stale claim changes nothing
    rows = {j.id: j for j in await queue.list_jobs()}
    assert rows[done.id].status == "completed" and rows[done.id].finished_at is not None
    again = rows[retried.id]
    assert again.status == "pending" and again.error == "E: boom" and again.attempts == 1 and again.finished_at is None
    assert again.execute_at is not None and again.execute_at > rows[done.id].finished_at
    assert rows[snoozed.id].status == "pending" and rows[snoozed.id].attempts == 0  # a snooze is not an attempt
    assert rows[stale.id].status == "running" and rows[stale.id].lease_token == stale.lease_token


async def test_sqlite_enqueue_many_is_one_transaction(queue: JobQueue, path: Path) -> None:
    other = sqlite3.connect(path)
    other.execute(
        "CREATE TRIGGER refuse_boom BEFORE INSERT ON dbjobq_jobs WHEN NEW.type = 'boom' "
        "BEGIN SELECT RAISE(ABORT, 'boom refused'); END"
    )
    other.close()
    with pytest.raises(errors.StorageError, match="boom refused"):
        await _enqueue_with_boom(queue)
    assert await queue.list_jobs() == []  # the good rows rolled back with the bad one
    assert len(await queue.enqueue_many(jobs.noop, [{"n": n} for n in range(3)])) == 3  # the path still works


async def _enqueue_with_boom(queue: JobQueue) -> list[str]:
    news = [NewJob(NOOP, "{}"), NewJob("boom", "{}"), NewJob(NOOP, "{}")]
    return await queue.storage.enqueue_many(news)


async def test_sqlite_enqueue_beside_a_worker_in_the_same_process_runs_each_job_once(queue: JobQueue) -> None:
    count = 300
    worker = Worker(queue, poll_interval=0.05)
    async with worker:
        ids = await asyncio.gather(*(queue.enqueue(jobs.noop, {"n": n}) for n in range(count)))

        async def all_done() -> bool:
            return await queue.count_jobs("completed") == count

        await wait_until(all_done, timeout=60)
    assert len(set(ids)) == count
    completed = await queue.get_completed_jobs()
    assert len(completed) == count and {j.attempts for j in completed} == {1}
