"""SQLite's enqueue path: its own connection and thread, waiting for the write lock itself, one
transaction per call, and the same rows as everywhere else."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from dbjobq import JobQueue, Worker, errors
from dbjobq.models import NewJob
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
