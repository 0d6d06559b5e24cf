"""Unique jobs: ``enqueue(…, unique_key=…)`` adds nothing while a job holding the key is pending or
running, on every database, across connections and inside the caller's transaction."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from dbjobq import EnqueuedIds, InvalidJobStateError, JobQueue, Worker
from dbjobq.storage import SQLAlchemyStorage
from tests.core import jobs
from tests.waiting import stop_processes, wait_until


async def test_flow_unique_second_enqueue_returns_the_holder(queue: JobQueue) -> None:
    first = await queue.enqueue(jobs.add, {"a": 1}, unique_key="invoice-42")
    second = await queue.enqueue(jobs.add, {"a": 2}, unique_key="invoice-42")
    other = await queue.enqueue(jobs.add, {"a": 3}, unique_key="invoice-43")
    assert second == first != other
    assert await queue.count_jobs() == 2
    job = await queue.get_job(first)
    assert job is not None and job.unique_key == "invoice-42" and job.data == {"a": 1}


async def test_flow_unique_key_held_while_running_free_once_finished(queue: JobQueue) -> None:
    first = await queue.enqueue(jobs.add, {"a": 1, "b": 2}, unique_key="k")
    claimed = await queue.dequeue()
    assert claimed is not None and claimed.id == first
    assert await queue.enqueue(jobs.add, {"a": 5, "b": 5}, unique_key="k") == first  # running holds it
    await queue.execute_job(claimed)
    again = await queue.enqueue(jobs.add, {"a": 5, "b": 5}, unique_key="k")  # completed: free again
    assert again != first
    assert await queue.cancel_job(again)
    assert await queue.enqueue(jobs.add, {}, unique_key="k") not in (first, again)  # cancelled: free


async def test_flow_unique_enqueue_many_reports_duplicates(queue: JobQueue) -> None:
    held = await queue.enqueue(jobs.add, {"n": 0}, unique_key="n-0")
    ids = await queue.enqueue_many(
        jobs.add, [{"n": 0}, {"n": 1}, {"n": 1}, {"n": 2}], unique_keys=lambda d: f"n-{d['n']}"
    )
    assert isinstance(ids, EnqueuedIds) and isinstance(ids, list)
    assert ids[0] == held and ids[1] == ids[2] and len(set(ids)) == 3
    assert ids.duplicates == {0, 2}
    assert await queue.count_jobs() == 3
    plain = await queue.enqueue_many(jobs.add, [{}, {}])
    assert len(set(plain)) == 2 and plain.duplicates == frozenset()
    with pytest.raises(ValueError, match="one key per item"):
        await queue.enqueue_many(jobs.add, [{}, {}], unique_keys=["only-one"])


async def test_flow_unique_rejects_bad_keys(queue: JobQueue) -> None:
    for bad in ("", "x" * 256, 42):
        with pytest.raises(ValueError, match="unique_key"):
            await queue.enqueue(jobs.add, {}, unique_key=bad)  # type: ignore[arg-type]
    assert await queue.count_jobs() == 0


async def test_flow_unique_inside_the_callers_transaction(storage: SQLAlchemyStorage, queue: JobQueue) -> None:
    async with storage.engine.connect() as conn:
        async with conn.begin():
            first = await queue.enqueue(jobs.add, {}, unique_key="tx", connection=conn)
            assert await queue.enqueue(jobs.add, {}, unique_key="tx", connection=conn) == first
        async with conn.begin() as tx:
            rolled_back = await queue.enqueue(jobs.add, {}, unique_key="gone", connection=conn)
            await tx.rollback()
    async with AsyncSession(storage.engine) as session, session.begin():
        assert await queue.enqueue(jobs.add, {}, unique_key="tx", connection=session) == first
    assert await queue.get_job(rolled_back) is None
    assert await queue.enqueue(jobs.add, {}, unique_key="gone") != rolled_back
    assert await queue.count_jobs() == 2


async def test_flow_unique_twenty_concurrent_enqueuers_make_one_job(db_url: str, queue: JobQueue) -> None:
    stores = [SQLAlchemyStorage(db_url) for _ in range(20)]
    try:
        await asyncio.gather(*(store.initialize() for store in stores))
        for _ in range(3):  # three rounds: each one races twenty connections for one free key
            ids = await asyncio.gather(
                *(JobQueue(store).enqueue(jobs.add, {"n": n}, unique_key="race") for n, store in enumerate(stores))
            )
            assert len(set(ids)) == 1
            assert await queue.cancel_job(ids[0])  # frees the key for the next round
    finally:
        await asyncio.gather(*(store.close() for store in stores))
    assert await queue.count_jobs() == 3


async def test_flow_unique_worker_runs_the_one_job(queue: JobQueue) -> None:
    ids = {await queue.enqueue(jobs.add, {"a": 1, "b": 1}, unique_key="once") for _ in range(5)}
    await Worker(queue, poll_interval=0.05).run(burst=True)
    assert len(ids) == 1
    [done] = await queue.get_completed_jobs()
    assert done.id in ids and done.result == 2


async def test_flow_unique_retry_of_an_old_holder_is_refused_while_the_key_is_held(queue: JobQueue) -> None:
    old = await queue.enqueue(jobs.add, {}, unique_key="r")
    await queue.cancel_job(old)
    new = await queue.enqueue(jobs.add, {}, unique_key="r")
    with pytest.raises(InvalidJobStateError, match="unique key"):
        await queue.retry_job(old)
    await wait_until(lambda: _status(queue, old, "cancelled"))
    await queue.cancel_job(new)
    assert await queue.retry_job(old)


async def _status(queue: JobQueue, job_id: str, status: str) -> bool:
    job = await queue.get_job(job_id)
    return job is not None and job.status == status


@pytest.mark.slow
async def test_flow_unique_twenty_enqueuers_beside_three_worker_processes(
    db_url: str, queue: JobQueue, spawn: Any, tmp_path: Path
) -> None:
    release = tmp_path / "release"
    workers = [spawn(db_url) for _ in range(3)]

    async def all_registered() -> bool:
        return len(await queue.list_workers()) == 3

    await wait_until(all_registered, timeout=60)
    stores = [SQLAlchemyStorage(db_url) for _ in range(20)]
    try:
        await asyncio.gather(*(store.initialize() for store in stores))

        async def enqueue_all(path: Path = release) -> set[str]:
            return set(
                await asyncio.gather(
                    *(
                        JobQueue(store).enqueue(jobs.wait_for_file, {"path": str(path)}, unique_key="busy")
                        for store in stores
                    )
                )
            )

        [pending] = await enqueue_all()  # twenty at once, while three workers claim: one job

        async def running() -> bool:
            job = await queue.get_job(pending)
            return job is not None and job.status == "running"

        await wait_until(running, timeout=30)
        assert await enqueue_all() == {pending}  # held while it runs, too
        release.touch()

        async def completed() -> bool:
            job = await queue.get_job(pending)
            return job is not None and job.status == "completed"

        await wait_until(completed, timeout=30)
        [again] = await enqueue_all(tmp_path / "second")  # free again: one new job (held while it runs)
        assert again != pending
        (tmp_path / "second").touch()
    finally:
        await asyncio.gather(*(store.close() for store in stores))
        await stop_processes(workers)
    assert await queue.count_jobs(job_type="tests.core.jobs.wait_for_file") == 2
